"""A single-action problem whose policy values are known in closed form, for OPE tests.

Contexts ``x ~ N(0, I_2)``; four candidates (items 0-3, one-hot features); mean reward
``mu(x, a) = b_a + x . theta_a`` (so the joint ridge model is well specified), Gaussian noise;
a context-free logger; a target whose probabilities depend on the sign of ``x_0``. With
``E[x | x_0 > 0] = (sqrt(2/pi), 0)`` the target's value is a finite sum.
"""

from __future__ import annotations

import numpy as np
from factories import explicit_observation
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope import RewardModel

INTERCEPTS = np.array([0.2, 0.5, 0.3, 0.8])
SLOPES = np.array([[0.3, -0.2], [-0.1, 0.4], [0.5, 0.1], [-0.4, 0.2]])  # (candidate, context)
LOGGER = np.array([0.4, 0.3, 0.2, 0.1])
TARGET = np.array([[0.1, 0.2, 0.6, 0.1], [0.05, 0.05, 0.1, 0.8]])  # rows: x_0 <= 0, x_0 > 0
NOISE = 0.3


def mean_rewards(context: NDArray[np.float64]) -> NDArray[np.float64]:
    """``mu(x, a)`` for every row and candidate, shape (n, 4)."""
    return INTERCEPTS + context @ SLOPES.T


def true_value() -> float:
    """``E_x sum_a pi(a | x) mu(x, a)`` in closed form."""
    half_normal = np.sqrt(2 / np.pi)
    value = 0.0
    for sign, probabilities in ((-1.0, TARGET[0]), (1.0, TARGET[1])):
        conditional_mean = INTERCEPTS + SLOPES[:, 0] * sign * half_normal
        value += 0.5 * float(probabilities @ conditional_mean)
    return value


def logged(rng: np.random.Generator, n: int) -> LoggedBandit:
    """``n`` rows logged by the context-free ``LOGGER``."""
    context = rng.standard_normal((n, 2))
    items = np.broadcast_to(np.eye(4), (n, 4, 4))
    obs = explicit_observation(context, items)
    actions = rng.choice(4, size=n, p=LOGGER)
    rewards = mean_rewards(context)[np.arange(n), actions] + NOISE * rng.standard_normal(n)
    decision = SlateDecision(actions[:, None], LOGGER[actions], LOGGER[actions][:, None])
    return LoggedBandit(obs, decision, SlateFeedback(rewards[:, None]), "logger")


class SignTarget:
    """The target: candidate probabilities ``TARGET[x_0 > 0]``; one position."""

    name = "sign-target"

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.rng = np.random.default_rng(0) if rng is None else rng

    def _probabilities(self, obs: SlateObservation) -> NDArray[np.float64]:
        return TARGET[(obs.context[:, 0] > 0).astype(int)]

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        probabilities = self._probabilities(obs)
        draws = (probabilities.cumsum(axis=1) < self.rng.random((obs.n_requests, 1))).sum(axis=1)
        slates = np.minimum(draws, 3)[:, None]
        chosen = probabilities[np.arange(obs.n_requests), slates[:, 0]]
        marginals = probabilities[:, :, None] if with_marginals else None
        return SlateDecision(slates, chosen, chosen[:, None], marginals)

    def update(self, obs, decision, feedback) -> None:
        """The target does not learn."""

    def slate_probability(self, obs, slates) -> NDArray[np.float64]:
        return self._probabilities(obs)[np.arange(obs.n_requests), slates[:, 0]]

    def position_probability(self, obs, slates) -> NDArray[np.float64]:
        return self.slate_probability(obs, slates)[:, None]

    def candidate_position_probability(self, obs) -> NDArray[np.float64]:
        return self._probabilities(obs)[:, :, None]


class OracleModel(RewardModel):
    """The true ``mu`` as a reward model (it learns nothing)."""

    def learn(self, log: LoggedBandit) -> None:
        """Nothing to learn."""

    def predict(self, obs: SlateObservation) -> NDArray[np.float64]:
        return mean_rewards(obs.context)[:, :, None]

    def fresh(self) -> OracleModel:
        return OracleModel()
