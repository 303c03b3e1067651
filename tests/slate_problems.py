"""Tiny slate problems whose every slate can be enumerated, for the slate estimators' tests:
a policy given as an explicit table over ordered slates, logs of chosen slates, click models
(additive, cascade, one where the item below matters) and exact expectations of an
estimator's terms under a logger."""

from __future__ import annotations

import itertools

import numpy as np
from factories import explicit_observation
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope import EstimatorInput, RewardModel


class TablePolicy:
    """A context-free policy with an explicit distribution over the ordered slates of
    ``n`` candidates (the same for every request); asked with a shorter ``slate_size`` it
    gives the probability of a top-k prefix."""

    name = "table"

    def __init__(self, table: dict[tuple[int, ...], float]) -> None:
        self.table = table
        self.size = len(next(iter(table)))
        self.cache: dict[tuple[int, ...], float] = {}

    def _prefix(self, prefix: tuple[int, ...]) -> float:
        if prefix not in self.cache:
            k = len(prefix)
            self.cache[prefix] = sum(p for slate, p in self.table.items() if slate[:k] == prefix)
        return self.cache[prefix]

    def act(self, obs, *, with_marginals=False):  # pragma: no cover - not used
        raise NotImplementedError

    def update(self, obs, decision, feedback) -> None:
        """Does not learn."""

    def slate_probability(self, obs: SlateObservation, slates) -> NDArray[np.float64]:
        return np.array([self._prefix(tuple(int(i) for i in row)) for row in slates])

    def position_probability(self, obs: SlateObservation, slates) -> NDArray[np.float64]:
        marginals = self.candidate_position_probability(obs)
        rows = np.arange(obs.n_requests)[:, None]
        return marginals[rows, np.asarray(slates), np.arange(np.shape(slates)[1])]

    def candidate_position_probability(self, obs: SlateObservation) -> NDArray[np.float64]:
        marginals = np.zeros((obs.max_candidates, self.size))
        for slate, p in self.table.items():
            marginals[list(slate), np.arange(self.size)] += p
        return np.broadcast_to(marginals, (obs.n_requests, *marginals.shape)).copy()


def all_slates(n: int, size: int) -> list[tuple[int, ...]]:
    return list(itertools.permutations(range(n), size))


def table_log(slates, rewards, logger: TablePolicy, n: int, context=0.0) -> LoggedBandit:
    """One row per given slate, logged with ``logger``'s probabilities; one context feature,
    ``context`` (a number, or one per row), which the table policies ignore."""
    slates = np.asarray(slates, dtype=np.int64)
    rows = slates.shape[0]
    features = np.broadcast_to(np.asarray(context, dtype=float), (rows,))[:, None]
    obs = explicit_observation(features, np.broadcast_to(np.eye(n), (rows, n, n)),
                               slate_size=slates.shape[1])  # fmt: skip
    decision = SlateDecision(
        slates,
        logger.slate_probability(obs, slates),
        logger.position_probability(obs, slates),
        logger.candidate_position_probability(obs),
    )
    return LoggedBandit(obs, decision, SlateFeedback(np.asarray(rewards, float)), "logger")


def uniform_table(n: int, size: int) -> TablePolicy:
    slates = all_slates(n, size)
    return TablePolicy({s: 1 / len(slates) for s in slates})


def random_table(rng, slates, concentration=1.0) -> TablePolicy:
    """A Dirichlet draw over ``slates`` (small ``concentration``: a peaked policy)."""
    probabilities = rng.dirichlet(np.full(len(slates), concentration))
    return TablePolicy(dict(zip(slates, probabilities, strict=True)))


def product_logger(position_probabilities) -> TablePolicy:
    """Independent positions over disjoint item sets: position k chooses among items
    ``2k, 2k + 1`` with the given probabilities."""
    table = {}
    for choice in itertools.product(range(2), repeat=len(position_probabilities)):
        slate = tuple(2 * k + c for k, c in enumerate(choice))
        table[slate] = float(
            np.prod([p[c] for p, c in zip(position_probabilities, choice, strict=True)])
        )
    return TablePolicy(table)


def additive_rewards(phi, slates):
    """Position-based rewards: ``r_k = phi[s_k, k]``."""
    return np.array([[phi[item, k] for k, item in enumerate(s)] for s in slates])


def cascade_rewards(phi, slates):
    """Cascade: the user reads from the top and stops at the first click, ``phi[s_k, k]``
    being the click probability at k; expected clicks at k depend on s_1..s_k."""
    rewards = []
    for s in slates:
        reach, row = 1.0, []
        for k, item in enumerate(s):
            row.append(reach * phi[item, k])
            reach *= 1 - phi[item, k]
        rewards.append(row)
    return np.array(rewards)


def below_rewards(phi, slates):
    """Not a cascade: the item below distracts, ``r_k = phi[s_k, k] (1 - phi[s_k+1, k+1] / 2)``
    (the last position ``phi`` alone), so position k's reward depends on the item at k + 1."""
    rewards = additive_rewards(phi, slates)
    below = np.array([[phi[item, k + 1] for k, item in enumerate(s[1:])] for s in slates])
    rewards[:, :-1] *= 1 - below / 2
    return rewards


class FixedModel(RewardModel):
    """``q(x, c, k) = table[c, k]`` whatever it learns (a wrong model, for the DR tests)."""

    def __init__(self, table) -> None:
        self.table = np.asarray(table, dtype=float)

    def learn(self, log: LoggedBandit) -> None:
        """Learns nothing."""

    def predict(self, obs: SlateObservation) -> NDArray[np.float64]:
        q = self.table[: obs.max_candidates, : obs.slate_size]
        return np.broadcast_to(q, (obs.n_requests, *q.shape)).copy()

    def fresh(self) -> FixedModel:
        return FixedModel(self.table)


def expectation(estimator, logger: TablePolicy, target: TablePolicy, n: int, reward):
    """``E_mu[term]`` exactly: every slate the logger can show, weighted by its probability,
    with its expected rewards (each term is linear in the rewards given the slate and a model
    that does not learn from them)."""
    slates = [s for s, p in logger.table.items() if p > 0]
    log = table_log(slates, reward(slates), logger, n)
    if estimator.needs_fit:
        estimator.start_fit()
        estimator.fit_batch(log)
        estimator.finish_fit()
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    terms = np.asarray(estimator.row_terms(data), dtype=float)
    probabilities = np.array([logger.table[s] for s in slates])
    return float(probabilities @ terms), data


def slate_value(target: TablePolicy, reward) -> float:
    """The target's exact value: its slates' expected rewards, weighted by its table."""
    slates = list(target.table)
    return float(np.array([target.table[s] for s in slates]) @ reward(slates).sum(axis=1))


def sampled_log(
    rng: np.random.Generator, logger: TablePolicy, n: int, rows: int, reward, context=0.0
) -> LoggedBandit:
    """``rows`` slates drawn from ``logger`` with Bernoulli clicks of mean ``reward(slates)``
    (cascade clicks are Bernoulli per position with the cascade's marginal means: the
    estimators see each position's reward only through its mean given the slate); the
    context feature is ``context``."""
    slates = list(logger.table)
    probabilities = np.array([logger.table[s] for s in slates])
    chosen = rng.choice(len(slates), size=rows, p=probabilities / probabilities.sum())
    means = reward(slates)[chosen]
    clicks = (rng.random(means.shape) < means).astype(float)
    return table_log(np.array(slates)[chosen], clicks, logger, n, context)
