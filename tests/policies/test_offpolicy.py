"""Off-policy learning: the importance-weighted ridge fit against its closed form, weight
clipping, wrappers, VW's --cb_type, and learned policies that beat their logger on held-out
rows of a problem whose best action is known."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from factories import explicit_observation

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.models import DisjointRidge, HybridRidge, JointRidge, interaction_features
from bandits.ope import IPS, evaluate_log
from bandits.run import learn_from_log
from bandits.validation import InputTypeError, InputValueError
from policies import EpsilonGreedy, LinTS, LinUCB, Popularity, RidgeGreedy, VowpalWabbit

N_ARMS, N_CONTEXT = 5, 3
LOGGER = np.array([0.6, 0.1, 0.1, 0.1, 0.1])
"""The logging policy's probabilities of the arms (whatever the context)."""


def problem(rng: np.random.Generator, n: int) -> tuple[LoggedBandit, float]:
    """A log of ``n`` single-item rows: context ``x ~ N(0, I)``, arms with one-hot features,
    reward ``x . theta_a + b_a + N(0, 0.1^2)``, logged by :data:`LOGGER` (which favours a
    mediocre arm); and the best policy's value, ``E[max_a x . theta_a + b_a]``, by Monte Carlo."""
    theta = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0],
                      [0.0, -1.0, 0.0]])  # fmt: skip
    bias = np.array([0.3, 0.0, 0.0, 0.0, 0.0])
    context = rng.standard_normal((n, N_CONTEXT))
    obs = explicit_observation(context, np.broadcast_to(np.eye(N_ARMS), (n, N_ARMS, N_ARMS)))
    arms = rng.choice(N_ARMS, size=n, p=LOGGER)
    means = context @ theta.T + bias
    rewards = means[np.arange(n), arms] + 0.1 * rng.standard_normal(n)
    p = LOGGER[arms]
    decision = SlateDecision(arms[:, None], p, p[:, None])
    log = LoggedBandit(obs, decision, SlateFeedback(rewards[:, None]), "skewed")
    many = rng.standard_normal((200_000, N_CONTEXT)) @ theta.T + bias
    return log, float(many.max(axis=1).mean())


def test_weighted_ridge_is_the_weighted_least_squares_solution():
    rng = np.random.default_rng(0)
    log, _ = problem(rng, 40)
    weights = rng.uniform(0.5, 4.0, (40, 1))
    model = JointRidge(ridge=2.0)
    model.learn(log.observation, log.slates, log.rewards, weights=weights)
    x = interaction_features(log.observation, log.slates)[:, 0, :]
    w = weights[:, 0]
    theta = np.linalg.solve(2.0 * np.eye(x.shape[1]) + x.T @ (w[:, None] * x),
                            x.T @ (w * log.rewards[:, 0]))  # fmt: skip
    np.testing.assert_allclose(model.theta_, theta, rtol=1e-10, atol=1e-12)
    disjoint = DisjointRidge(ridge=2.0)
    disjoint.learn(log.observation, log.slates, log.rewards, weights=weights)
    z = np.column_stack([log.observation.context, np.ones(40)])
    arm = log.slates[:, 0] == 1
    expected = np.linalg.solve(2.0 * np.eye(4) + z[arm].T @ (w[arm, None] * z[arm]),
                               z[arm].T @ (w[arm] * log.rewards[arm, 0]))  # fmt: skip
    means = disjoint.candidate_means(log.observation)[:, 1]
    np.testing.assert_allclose(means, z @ expected, rtol=1e-9, atol=1e-12)
    with pytest.raises(InputValueError, match="hybrid linear model cannot learn with"):
        HybridRidge().learn(log.observation, log.slates, log.rewards, weights=weights)


def test_learn_off_policy_weighs_by_the_inverse_logged_probability_capped_by_clip():
    log, _ = problem(np.random.default_rng(1), 60)
    for clip, cap in ((np.inf, 10.0), (4.0, 4.0)):
        policy = RidgeGreedy()
        policy.learn_off_policy(log.observation, log.decision, log.feedback, clip=clip)
        model = JointRidge()
        weights = np.minimum(1 / log.decision.position_probability, cap)
        model.learn(log.observation, log.slates, log.rewards, weights=weights)
        np.testing.assert_allclose(policy.model_.theta_, model.theta_, rtol=1e-12)
    with pytest.raises(InputValueError, match=r"'clip' parameter of .* must be >= 1"):
        RidgeGreedy().learn_off_policy(log.observation, log.decision, log.feedback, clip=0.5)


def test_wrappers_learn_through_their_base_and_say_when_it_cannot():
    log, _ = problem(np.random.default_rng(2), 30)
    rng = np.random.default_rng(0)
    wrapped = EpsilonGreedy(epsilon=0.1, base=LinUCB(alpha=0.0), rng=rng)
    wrapped.learn_off_policy(log.observation, log.decision, log.feedback)
    assert wrapped.base.model_.n_samples_ == 30
    other = EpsilonGreedy(epsilon=0.1, base=Popularity(), rng=rng)
    with pytest.raises(InputTypeError, match="Popularity cannot"):
        other.learn_off_policy(log.observation, log.decision, log.feedback)
    with pytest.raises(InputTypeError, match="cannot learn off-policy"):
        learn_from_log(log, Popularity())


def test_vw_cb_type_reaches_the_command_line_and_survives_pickling():
    rng = np.random.default_rng(0)
    assert "--cb_type" not in VowpalWabbit(rng=rng).command_line()
    policy = VowpalWabbit(cb_type="dr", rng=rng)
    assert "--cb_type dr" in " ".join(policy.command_line())
    assert policy.spec is not None and policy.spec.endswith(",cb_type=dr")
    assert pickle.loads(pickle.dumps(policy)).cb_type == "dr"
    with pytest.raises(InputValueError, match="'cb_type' of VowpalWabbit"):
        VowpalWabbit(cb_type="mtrx", rng=rng)
    with pytest.raises(InputValueError, match="must be 'mtr' with explore='squarecb'"):
        VowpalWabbit(explore="squarecb", cb_type="ips", rng=rng)


@pytest.mark.statistical
@pytest.mark.parametrize(
    "make",
    [
        lambda rng: RidgeGreedy(rng=rng),
        lambda rng: LinUCB(alpha=0.0, model="disjoint", rng=rng),
        lambda rng: LinTS(v=0.0, probability_draws=10, rng=rng),
        lambda rng: VowpalWabbit(cb_type="ips", epsilon=0.0, rng=rng),
        lambda rng: VowpalWabbit(cb_type="dr", epsilon=0.0, rng=rng),
        lambda rng: VowpalWabbit(cb_type="mtr", epsilon=0.0, rng=rng),
    ],
    ids=["ridge-greedy", "linucb-disjoint", "lints", "vw-ips", "vw-dr", "vw-mtr"],
)
def test_learned_policies_beat_their_logger_on_held_out_rows(make, stat_seed):
    rng = np.random.default_rng(stat_seed)
    log, best = problem(rng, 3000)
    policy = make(np.random.default_rng(stat_seed + 1))
    result = learn_from_log(log, policy, train_fraction=0.5)
    assert (result.n_learned, result.n_held_out, result.held_out) == (1500, 1500, (1500, 3000))
    frame = evaluate_log(log, {"learned": policy}, [IPS()], rows=result.held_out)
    learned, stderr = frame["value"].iloc[0], frame["stderr"].iloc[0]
    held_out = log.take(np.arange(1500, 3000)).slate_rewards
    logger, logger_se = held_out.mean(), held_out.std(ddof=1) / np.sqrt(held_out.size)
    # the logger's value is 0.18 + 0 = 0.18; the best policy's about 1.04
    assert learned - logger > 4 * np.hypot(stderr, logger_se), (learned, logger, stderr)
    assert learned < best + 4 * stderr
