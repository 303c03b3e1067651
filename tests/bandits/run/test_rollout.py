"""Rollouts on the simulator: determinism, exact row counts, the regret trace, learning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from factories import assert_logs_equal

import simulator  # noqa: F401  (registers bandits/LatentFactor-v0)
from bandits.run import run_simulation
from bandits.run.rollout import TRACE_COLUMNS, rollout
from bandits.run.seeding import spawn_generators
from policies import POLICIES, LinUCB, UniformRandom, make_policy

SMALL_ENV = dict(n_requests=20, slate_size=2, min_candidates=4, max_candidates=8, n_items=50)


def _run(name, seed, total=130):
    env = gym.make("bandits/LatentFactor-v0", **SMALL_ENV)
    policy = make_policy(name, {}, rng=spawn_generators(seed, 1)[0])
    return rollout(env, policy, total_requests=total, seed=seed)


@pytest.mark.parametrize("name", list(POLICIES))
def test_same_seed_gives_identical_logs_and_traces(name):
    first, second = _run(name, seed=3), _run(name, seed=3)
    assert_logs_equal(first.log, second.log)
    assert first.trace.equals(second.trace)


@pytest.mark.parametrize("name", list(POLICIES))
def test_rollout_logs_exactly_the_requested_rows(name):
    result = _run(name, seed=1, total=130)  # 6 full batches of 20 and 10 rows of the 7th
    assert len(result.log) == 130
    assert list(result.trace.columns) == list(TRACE_COLUMNS)
    assert result.trace["requests"].tolist() == [20, 40, 60, 80, 100, 120, 130]
    np.testing.assert_array_equal(result.log.observation.request_ids, np.arange(130))
    assert set(result.log.policy_names) == {result.log.policy_names[0]}


def test_trace_sums_the_logged_rewards_and_regret_is_exact():
    result = _run("uniform", seed=2)
    trace = result.trace
    assert trace["reward"].sum() == pytest.approx(result.log.slate_rewards.sum())
    assert (trace["regret"] >= 0).all()
    assert (trace["oracle_reward"] >= trace["expected_reward"]).all()
    np.testing.assert_allclose(trace["cumulative_regret"], trace["regret"].cumsum())
    np.testing.assert_allclose(trace["regret"], trace["oracle_reward"] - trace["expected_reward"])


def test_policies_meet_the_same_requests():
    make_env = lambda: gym.make("bandits/LatentFactor-v0", **SMALL_ENV)  # noqa: E731
    rngs = spawn_generators(0, 2)
    result = run_simulation(
        make_env,
        {"uniform": UniformRandom(rng=rngs[0]), "linucb": LinUCB()},
        total_requests=60,
        env_seed=11,
    )
    uniform, linucb = result.logs["uniform"].observation, result.logs["linucb"].observation
    np.testing.assert_array_equal(uniform.candidate_ids, linucb.candidate_ids)
    np.testing.assert_array_equal(uniform.context, linucb.context)
    assert set(result.trace["policy"]) == {"uniform", "linucb"}


@pytest.mark.parametrize("seed", [0, 1])
def test_linucb_regret_is_well_below_uniform(seed):
    env_kwargs = dict(n_requests=50, slate_size=2, min_candidates=10, max_candidates=10)
    final = {}
    for policy in (UniformRandom(rng=np.random.default_rng(seed)), LinUCB(alpha=1.0)):
        env = gym.make("bandits/LatentFactor-v0", **env_kwargs)
        trace = rollout(env, policy, total_requests=5000, seed=seed).trace
        tail = trace.iloc[-20:]  # the last 1000 requests, 20 batches
        per_request = tail["regret"] / 50
        final[policy.name] = (per_request.mean(), per_request.std(ddof=1) / np.sqrt(len(tail)))
    (uniform_mean, uniform_se), (linucb_mean, linucb_se) = final.values()
    assert linucb_mean + 4 * linucb_se < 0.5 * (uniform_mean - 4 * uniform_se)
