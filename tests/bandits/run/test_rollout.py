"""Rollouts on the simulator: determinism, exact row counts, the regret trace, learning."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from factories import assert_logs_equal

import simulator  # noqa: F401  (registers bandits/LatentFactor-v0)
from bandits.logs import LogWriter, read_log
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


def test_linucb_regret_is_well_below_uniform(stat_seed):
    seed = stat_seed
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


class RecordingLinUCB(LinUCB):
    """LinUCB that remembers the request ids and slates of every row it learned from."""

    def __init__(self) -> None:
        super().__init__(alpha=1.0)
        self.learned_ids: list[np.ndarray] = []
        self.learned_slates: list[np.ndarray] = []

    def _learn(self, obs, slates, rewards):
        self.learned_ids.append(obs.request_ids.copy())
        self.learned_slates.append(slates.copy())
        super()._learn(obs, slates, rewards)


def test_the_policy_learns_from_exactly_the_logged_rows():
    env = gym.make("bandits/LatentFactor-v0", **SMALL_ENV)
    policy = RecordingLinUCB()
    result = rollout(env, policy, total_requests=130, seed=4)  # the last batch is cut to 10
    learned = np.concatenate(policy.learned_ids)
    np.testing.assert_array_equal(learned, result.log.observation.request_ids)
    np.testing.assert_array_equal(np.concatenate(policy.learned_slates), result.log.slates)
    assert [len(ids) for ids in policy.learned_ids] == [20] * 6 + [10]


class TruthRecorder(gym.Wrapper):
    """Records, before each step, the exact expected reward of the shown and of the oracle
    slates, from the environment's own ``expected_slate_reward``."""

    def __init__(self, env):
        super().__init__(env)
        self.shown: list[np.ndarray] = []
        self.best: list[np.ndarray] = []

    def step(self, action):
        world = self.env.unwrapped
        self.shown.append(world.expected_slate_reward(action))
        self.best.append(world.expected_slate_reward(world.oracle_slates()))
        return self.env.step(action)


def test_regret_in_the_trace_is_the_environments_truth():
    env = TruthRecorder(gym.make("bandits/LatentFactor-v0", **SMALL_ENV))
    policy = make_policy("epsilon-greedy", {}, rng=np.random.default_rng(0))
    trace = rollout(env, policy, total_requests=130, seed=6).trace
    kept = [slice(None)] * 6 + [slice(0, 10)]
    regret = [(b[k] - s[k]).sum() for s, b, k in zip(env.shown, env.best, kept, strict=True)]
    expected = [s[k].sum() for s, k in zip(env.shown, kept, strict=True)]
    np.testing.assert_allclose(trace["regret"], regret, rtol=1e-12)
    np.testing.assert_allclose(trace["expected_reward"], expected, rtol=1e-12)
    np.testing.assert_allclose(trace["cumulative_regret"].iloc[-1], sum(regret), rtol=1e-12)


def test_rollout_can_log_the_policys_marginals():
    env = gym.make("bandits/LatentFactor-v0", **SMALL_ENV)
    policy = make_policy("epsilon-greedy", {"epsilon": 0.5}, rng=np.random.default_rng(1))
    log = rollout(env, policy, total_requests=45, seed=2, log_marginals=True).log
    marginals = log.decision.candidate_position_probability
    assert marginals.shape == (45, 8, 2)
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0)
    plain = rollout(gym.make("bandits/LatentFactor-v0", **SMALL_ENV), policy,
                    total_requests=45, seed=2).log  # fmt: skip
    assert plain.decision.candidate_position_probability is None


def test_streamed_runs_hand_each_step_to_its_sink_and_keep_nothing(tmp_path):
    """With sinks, each step's rows leave as they are made (a LogWriter per policy here) and
    nothing accumulates; the files equal the in-memory run's logs."""
    make_env = lambda: gym.make("bandits/LatentFactor-v0", **SMALL_ENV)  # noqa: E731

    def policies():
        rngs = spawn_generators(0, 2)
        return {"uniform": UniformRandom(rng=rngs[0]), "linucb": LinUCB(rng=rngs[1])}

    kept = run_simulation(make_env, policies(), total_requests=130, env_seed=4)
    steps: dict[str, list[int]] = {"uniform": [], "linucb": []}
    writers = {name: LogWriter(tmp_path / f"{name}.parquet") for name in steps}

    def sink(name):
        def write(batch):
            steps[name].append(len(batch))
            writers[name].write(batch)

        return write

    streamed = run_simulation(make_env, policies(), total_requests=130, env_seed=4,
                              sinks={name: sink(name) for name in steps})  # fmt: skip
    for writer in writers.values():
        writer.close()
    assert streamed.logs == {} and streamed.trace.equals(kept.trace)
    for name in steps:
        assert steps[name] == [20] * 6 + [10]
        assert_logs_equal(read_log(tmp_path / f"{name}.parquet"), kept.logs[name])


def test_trace_counts_clicks_and_engagement_apart_from_the_reward():
    env = gym.make("bandits/StreamingService-v0", n_requests=20, slate_size=2, min_candidates=6,
                   max_candidates=6, n_items=100, initial_items=50)  # fmt: skip
    result = rollout(env, UniformRandom(rng=spawn_generators(4, 1)[0]), total_requests=130,
                     seed=4)  # fmt: skip
    signals, trace = result.log.feedback.signals, result.trace
    assert trace["clicks"].sum() == pytest.approx(signals["click"].sum())
    assert trace["engagement"].sum() == pytest.approx(signals["watch_time"].sum())
    assert trace["engagement"].sum() == pytest.approx(trace["reward"].sum())  # watch time
    assert trace["clicks"].sum() > 0 and (trace["clicks"] <= 20 * 2).all()
    assert not np.allclose(trace["clicks"], trace["reward"])  # clicks are not the reward here
    # the click reward: clicks equal the reward, and no watch time is recorded
    clicks_only = _run("uniform", seed=2).trace
    np.testing.assert_allclose(clicks_only["clicks"], clicks_only["reward"])
    assert clicks_only["engagement"].isna().all()
