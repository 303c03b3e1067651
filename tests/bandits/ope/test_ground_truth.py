"""IPS, SNIPS, DR, SNDR and the slate estimators (IIPS, RIPS, PI, cascade DR and their
self-normalised variants, adaptive IPS) on uniform-random logs agree with the simulator's exact
value of the target.

The simulator's default choice model is position-based (a position's click depends only on the
item there), so the slate estimators' assumptions (additive over positions for IIPS and PI, the
weaker cascade one for RIPS and cascade DR) hold, and the uniform logger gives PI its exact
closed form.

The simulator's clicks are a sigmoid of the features times an examination probability, so the
ridge reward model is misspecified here: DR and SNDR must stay unbiased anyway (the logger
supports every slate); DM, Switch-DR and DRos are biased by design when the model is wrong and
are tested for unbiasedness on a well-specified problem instead (test_model_estimators.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import simulator  # noqa: F401  (registers bandits/LatentFactor-v0)
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import as_observation
from bandits.ope import ESTIMATORS
from bandits.run.replay import replay_updates
from bandits.slates import top_k
from policies import EpsilonGreedy, LinUCB, UniformRandom

ENV = dict(n_requests=100, slate_size=2, min_candidates=5, max_candidates=7, n_items=60)


def _uniform_log_with_truth(seed: int, total: int):
    """A uniform-random log and, per row, the expected reward of every candidate at every
    position, shape (n_rows, max_candidates, slate_size)."""
    env = gym.make("bandits/LatentFactor-v0", **ENV)
    logger = UniformRandom(rng=np.random.default_rng(seed))
    raw, _ = env.reset(seed=seed, options={"candidate_rewards": True})
    tables, truths = [], []
    for _ in range(total // ENV["n_requests"]):
        obs = as_observation(raw)
        decision = logger.act(obs)
        raw, _, _, _, info = env.step(decision.slates)
        feedback = SlateFeedback(info["rewards"], info["signals"])
        tables.append(LoggedBandit.from_batch(obs, decision, feedback, "uniform"))
        truths.append(info["candidate_rewards"])
    return LoggedBandit.concat(tables), np.concatenate(truths)


def _greedy_value(log, candidate_rewards, scores):
    slates = top_k(scores, log.observation.n_candidates, log.slate_size)
    positions = np.arange(log.slate_size)
    rows = np.arange(len(log))[:, None]
    return candidate_rewards[rows, slates, positions].sum(axis=1)


def _uniform_value(log, candidate_rewards):
    """Each candidate is equally likely at each position: mean over real candidates."""
    real = log.observation.candidate_mask[:, :, None]
    return (candidate_rewards * real).sum(axis=1).sum(axis=1) / log.observation.n_candidates


@pytest.mark.parametrize(
    "estimator",
    [
        *("ips", "snips", "dr", "sndr", "iips", "sniips", "rips", "snrips", "pi", "snpi"),
        *("cascade-dr", "sncascade-dr", "adaptive-ips", "snadaptive-ips"),
    ],
)
def test_estimates_land_within_four_standard_errors_of_the_true_value(stat_seed, estimator):
    seed = stat_seed
    log, candidate_rewards = _uniform_log_with_truth(seed, total=30_000)
    train, test = log.take(np.arange(5_000)), log.take(np.arange(5_000, len(log)))
    truth_test = candidate_rewards[5_000:]

    linucb = replay_updates(LinUCB(alpha=0.0), train)
    epsilon = 0.3
    eps_greedy = replay_updates(
        EpsilonGreedy(epsilon=epsilon, rng=np.random.default_rng(seed)), train
    )
    targets = {
        "linucb": (linucb, _greedy_value(test, truth_test, linucb.scores(test.observation))),
        "epsilon-greedy": (
            eps_greedy,
            (1 - epsilon) * _greedy_value(test, truth_test, eps_greedy.scores(test.observation))
            + epsilon * _uniform_value(test, truth_test),
        ),
    }
    for name, (policy, truth_per_row) in targets.items():
        estimate = ESTIMATORS[estimator]().estimate(test, policy)
        truth = truth_per_row.mean()
        assert abs(estimate.value - truth) <= 4 * estimate.stderr, (name, estimate, truth)
        # the check has teeth: the target is clearly better than the uniform logger
        assert truth > _uniform_value(test, truth_test).mean() + 4 * estimate.stderr, name
