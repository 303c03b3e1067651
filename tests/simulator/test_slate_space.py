"""SlateSpace: ordered slates of distinct indices, one per request."""

import copy
import pickle

import numpy as np
import pytest
from gymnasium.spaces import MultiDiscrete

from bandits.validation import InputValueError
from simulator import LatentFactorEnv, SlateSpace
from simulator.world import _splitmix64


def space(**kwargs):
    params = {"n_requests": 4, "slate_size": 3, "max_candidates": 5, "seed": 0} | kwargs
    return SlateSpace(**params)


def test_sample_is_contained_with_distinct_rows():
    slates = space(n_requests=50).sample()
    assert slates.shape == (50, 3)
    assert slates.dtype == np.int64
    assert all(len(set(row)) == 3 for row in slates.tolist())
    assert slates in space(n_requests=50)


def test_sample_is_reproducible_from_the_seed():
    np.testing.assert_array_equal(space(seed=7).sample(), space(seed=7).sample())
    assert not np.array_equal(space(seed=7, n_requests=20).sample(), space(seed=8).sample())


def test_sample_draws_every_ordered_slate_equally_often():
    n_rows = 6000
    slates = space(n_requests=n_rows, slate_size=2, max_candidates=3).sample()
    _, counts = np.unique(slates, axis=0, return_counts=True)
    assert counts.size == 6
    standard_error = np.sqrt(n_rows * (1 / 6) * (5 / 6))
    assert np.all(np.abs(counts - n_rows / 6) < 4 * standard_error)


def test_sample_respects_the_mask():
    mask = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1]])
    for _ in range(20):
        slates = space(seed=None).sample(mask=mask)
        assert np.all(np.take_along_axis(mask, slates, axis=1) == 1)
        assert sorted(slates[0].tolist()) == [0, 1, 2]


@pytest.mark.parametrize(
    ("mask", "match"),
    [
        (np.ones((4, 4)), r"shape \(4, 5\)"),
        (np.array([[1, 1, 1, 0, 0]] * 3 + [[1, 1, 0, 0, 0]]), "row 3 allows 2"),
    ],
)
def test_sample_rejects_a_bad_mask(mask, match):
    with pytest.raises(InputValueError, match=match):
        space().sample(mask=mask)


def test_sample_rejects_probability():
    with pytest.raises(InputValueError, match="probability"):
        space().sample(probability=np.ones((4, 5)))


@pytest.mark.parametrize(
    "slates",
    [
        [[0, 1, 1], [0, 1, 2], [0, 1, 2], [0, 1, 2]],
        [[0, 1, 5], [0, 1, 2], [0, 1, 2], [0, 1, 2]],
        [[0, 1, -1], [0, 1, 2], [0, 1, 2], [0, 1, 2]],
        [[0, 1], [0, 1], [0, 1], [0, 1]],
        np.zeros((4, 3, 1), dtype=np.int64),
        np.array([[0.0, 1.0, 2.0]] * 4),
    ],
)
def test_contains_rejects_invalid_slates(slates):
    assert slates not in space()


def test_contains_accepts_nested_lists():
    assert [[4, 0, 2], [0, 1, 2], [3, 2, 1], [1, 2, 3]] in space()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_requests": 0}, "'n_requests' parameter of SlateSpace must be >= 1; got 0"),
        ({"slate_size": 6}, "'slate_size' parameter of SlateSpace must be <= 5; got 6"),
        ({"max_candidates": 0}, "'max_candidates' parameter of SlateSpace must be >= 1; got 0"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(InputValueError, match=match):
        space(**kwargs)


def test_equality_repr_and_copies():
    assert space() == space(seed=3)
    assert space() != space(slate_size=2)
    assert space() != MultiDiscrete(np.full((4, 3), 5))
    assert repr(space()) == "SlateSpace(n_requests=4, slate_size=3, max_candidates=5)"
    assert pickle.loads(pickle.dumps(space())) == space()
    assert copy.deepcopy(space()) == space()


def test_sample_draws_within_each_rows_own_count():
    space = SlateSpace(
        n_requests=3, slate_size=2, max_candidates=6, min_candidates=2, counts=[2, 6, 4], seed=0
    )
    draws = np.stack([space.sample() for _ in range(2000)])
    assert draws[:, 0].max() == 1 and draws[:, 1].max() == 5 and draws[:, 2].max() == 3
    vector = SlateSpace(
        n_requests=3, slate_size=2, max_candidates=6, min_candidates=2, counts=[2, 6, 4], num_envs=2
    )
    assert vector.sample()[:, 0].max() <= 1
    with pytest.raises(InputValueError, match=r"'counts' parameter of SlateSpace .* entry 1 is 7"):
        SlateSpace(n_requests=2, slate_size=1, max_candidates=6, counts=[6, 7])


def test_set_counts_changes_the_rows_allowed_and_keeps_the_generator():
    space = SlateSpace(n_requests=2, slate_size=1, max_candidates=6, min_candidates=1, seed=3)
    same = SlateSpace(n_requests=2, slate_size=1, max_candidates=6, min_candidates=1, seed=3)
    space.set_counts([1, 6])
    same.set_counts([1, 6])
    draws = np.stack([space.sample() for _ in range(300)])
    assert draws[:, 0].max() == 0 and draws[:, 1].max() == 5
    np.testing.assert_array_equal(np.stack([same.sample() for _ in range(300)]), draws)
    with pytest.raises(InputValueError, match=r"'counts' parameter of SlateSpace .* entry 0 is 0"):
        space.set_counts([0, 2])
    vector = SlateSpace(n_requests=2, slate_size=1, max_candidates=6, min_candidates=1, num_envs=3)
    vector.set_counts([2, 1])
    np.testing.assert_array_equal(vector.counts, [2, 1, 2, 1, 2, 1])


def test_environment_counts_vary_by_request_and_step_and_the_space_follows_them():
    env = LatentFactorEnv(n_requests=400, min_candidates=5, max_candidates=12)
    np.testing.assert_array_equal(env.world.candidate_counts(0), np.full(400, 12))
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["n_candidates"], np.full(400, 12))
    seen = []
    for step in range(1, 4):
        obs, *_ = env.step(env.action_space.sample())
        counts = env.world.candidate_counts(step)
        np.testing.assert_array_equal(obs["n_candidates"], counts)
        np.testing.assert_array_equal(env.action_space.counts, counts)
        np.testing.assert_array_equal(np.unique(counts), np.arange(5, 13))
        assert np.bincount(counts)[5:].min() > 30
        seen.append(counts)
    assert (seen[0] != seen[1]).mean() > 0.8
    stale = env.action_space.sample()  # drawn at step 3, valid right after a reset
    env.reset(seed=1)
    np.testing.assert_array_equal(env.action_space.counts, np.full(400, 12))
    env.step(stale)


def test_one_request_per_step_meets_every_candidate_count():
    env = LatentFactorEnv(n_requests=1, min_candidates=3, max_candidates=6)
    obs, _ = env.reset(seed=0)
    seen = [int(obs["n_candidates"][0])]
    for _ in range(200):
        obs, *_ = env.step(env.action_space.sample())
        seen.append(int(obs["n_candidates"][0]))
    assert np.bincount(seen, minlength=7)[3:].min() > 30  # each of 4 counts about 50 times


def test_candidate_counts_are_splitmix64_of_the_step_and_request():
    """Request ``i`` of step ``t >= 1`` offers ``min + h(t n + i) mod (max - min + 1)``
    candidates, ``h`` Steele, Lea and Flood's splitmix64 (its first output from seed 0): a
    step of ``n`` requests goes on where a world of one request per step would be at step
    ``t n + i`` (a formula in ``t + i`` passed every other test but the rollout hashes)."""
    assert int(_splitmix64(np.zeros(1, dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF
    seven = LatentFactorEnv(n_requests=7, min_candidates=3, max_candidates=9).world
    one = LatentFactorEnv(n_requests=1, min_candidates=3, max_candidates=9).world
    for step in (1, 2, 5):
        alone = [one.candidate_counts(step * 7 + i)[0] for i in range(7)]
        np.testing.assert_array_equal(seven.candidate_counts(step), alone)
    mixed = _splitmix64(np.arange(7, 14, dtype=np.uint64))  # step 1
    np.testing.assert_array_equal(seven.candidate_counts(1), 3 + (mixed % np.uint64(7)))
