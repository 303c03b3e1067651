"""The contract every policy keeps, untrained and after a few updates.

It runs over every registered policy and over a Monte-Carlo policy (probabilities estimated
from draws), whose checks allow for the estimation error of its stated number of draws.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from toy_policies import FixedScores, MonteCarloEpsilonGreedy

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.policy import Policy
from bandits.slates import shown_marginals
from bandits.specs import parse_spec
from bandits.validation import InputTypeError, InputValueError, check_slates
from policies import POLICIES, MonteCarloPolicy, make_policy

MONTE_CARLO = "monte-carlo-epsilon-greedy"
TIES = "fixed-scores-with-ties"
VARIANTS = [
    "linucb:model=disjoint",
    "lints:model=disjoint",
    "linucb:model=hybrid",
    "lints:model=hybrid,probability_draws=300",
]
"""Specs beyond each registered policy's defaults that the contract also covers."""
DRAWS = 2000


def build(name, seed=0):
    if name == MONTE_CARLO:
        return MonteCarloEpsilonGreedy(probability_draws=DRAWS, rng=np.random.default_rng(seed))
    if name == TIES:  # most items unknown, so tied at 0; a few known ones tie at 1
        scores = {item: 1.0 for item in range(0, 1000, 7)}
        return FixedScores(item_scores=scores, rng=np.random.default_rng(seed))
    return make_policy(*parse_spec(name), rng=np.random.default_rng(seed))


def trained(name, make_observation, make_feedback, seed=0, batches=3):
    """A policy after ``batches`` updates on random observations (slate sizes 1 to 3)."""
    policy, rng = build(name, seed), np.random.default_rng(seed + 1000)
    for batch in range(batches):
        obs = make_observation(rng, n_requests=16, slate_size=1 + batch % 3)
        decision = policy.act(obs)
        policy.update(obs, decision, make_feedback(rng, decision))
    return policy


def tolerance(policy, probability):
    """0 for exact policies; for a Monte-Carlo one, 4 standard errors of its draws."""
    if not isinstance(policy, MonteCarloPolicy):
        return 1e-12
    n = policy.probability_draws
    return 4 * np.sqrt(probability * (1 - probability) / n) + 1 / n


@pytest.fixture(params=[*sorted(POLICIES), *VARIANTS, MONTE_CARLO, TIES])
def name(request):
    return request.param


@pytest.fixture(params=[False, True], ids=["untrained", "trained"])
def policy(request, name, make_observation, make_feedback):
    if request.param:
        return trained(name, make_observation, make_feedback)
    return build(name)


def test_follows_the_policy_protocol(policy):
    assert isinstance(policy, Policy)
    assert isinstance(policy.name, str) and policy.name


def test_spec_rebuilds_the_policy_and_the_name_is_separate(policy):
    if policy.spec is None:
        assert policy.name == type(policy).__name__
        return
    rebuilt = make_policy(*parse_spec(policy.spec), rng=np.random.default_rng(0))
    assert type(rebuilt) is type(policy) and rebuilt.spec == policy.spec
    policy.name = "my policy"
    assert policy.name == "my policy" and rebuilt.spec == policy.spec


@pytest.mark.parametrize("slate_size", [1, 2, 4])
def test_act_returns_valid_slates_with_matching_probabilities(policy, make_observation, slate_size):
    obs = make_observation(np.random.default_rng(slate_size), n_requests=30, slate_size=slate_size)
    decision = policy.act(obs)
    assert isinstance(decision, SlateDecision)
    assert decision.slates.shape == (30, slate_size) and decision.slates.dtype == np.int64
    check_slates(decision.slates, obs.n_candidates, "slates")
    assert decision.slate_probability.dtype == decision.position_probability.dtype == np.float64
    assert np.all((decision.slate_probability > 0) & (decision.slate_probability <= 1))
    assert np.all((decision.position_probability > 0) & (decision.position_probability <= 1))
    # A slate is never likelier than any of its positions.
    assert np.all(decision.slate_probability <= decision.position_probability.min(axis=1) + 1e-12)

    slate_p = policy.slate_probability(obs, decision.slates)
    position_p = policy.position_probability(obs, decision.slates)
    assert slate_p.shape == (30,) and position_p.shape == (30, slate_size)
    if isinstance(policy, MonteCarloPolicy):  # act counts its own draw: off by < 1 / (n + 1)
        bound = 1 / (policy.probability_draws + 1) + 1e-12
        assert np.all(np.abs(slate_p - decision.slate_probability) <= bound)
        assert np.all(np.abs(position_p - decision.position_probability) <= bound)
    else:
        np.testing.assert_allclose(slate_p, decision.slate_probability, rtol=1e-12)
        np.testing.assert_allclose(position_p, decision.position_probability, rtol=1e-12)
    if slate_size == 1:
        np.testing.assert_allclose(position_p[:, 0], slate_p, rtol=1e-12)


@pytest.mark.parametrize("slate_size", [1, 3])
def test_candidate_position_marginals_agree_with_the_other_probabilities(
    policy, make_observation, slate_size
):
    rng = np.random.default_rng(11)
    obs = make_observation(rng, n_requests=25, max_candidates=6, slate_size=slate_size)
    marginals = policy.candidate_position_probability(obs)
    assert marginals.shape == (25, 6, slate_size) and marginals.dtype == np.float64
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(marginals[~obs.candidate_mask] == 0) and np.all(marginals >= 0)
    other = np.argsort(rng.random((25, 6)) + ~obs.candidate_mask, axis=1)[:, :slate_size]
    np.testing.assert_allclose(
        policy.position_probability(obs, other), shown_marginals(marginals, other), rtol=1e-12
    )
    decision = policy.act(obs, with_marginals=True)
    logged = decision.candidate_position_probability
    np.testing.assert_allclose(logged.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        shown_marginals(logged, decision.slates), decision.position_probability, rtol=1e-12
    )
    assert np.all(np.abs(logged - marginals) <= tolerance(policy, marginals) + 1e-12)


def test_probabilities_of_other_slates_lie_in_unit_interval(policy, make_observation):
    rng = np.random.default_rng(5)
    obs = make_observation(rng, n_requests=50, slate_size=3)
    other = np.argsort(rng.random((50, obs.max_candidates)) + ~obs.candidate_mask, axis=1)[:, :3]
    for probability in (
        policy.slate_probability(obs, other),
        policy.position_probability(obs, other),
    ):
        assert probability.dtype == np.float64
        assert np.all((probability >= 0) & (probability <= 1))


@pytest.mark.parametrize("trained_first", [False, True], ids=["untrained", "trained"])
def test_tiny_case_distribution_is_exact(name, make_observation, make_feedback, trained_first):
    """3 candidates, 2 positions: the 6 slate probabilities sum to 1, give the position and
    candidate-position marginals, and match the empirical frequencies of many draws within 4
    standard errors. A Monte-Carlo policy estimates each row from its own draws, so its sums
    and marginals agree within the estimates' errors."""
    policy = trained(name, make_observation, make_feedback) if trained_first else build(name)
    one = make_observation(
        np.random.default_rng(7), n_requests=1, max_candidates=3, min_candidates=3
    )
    slates = np.array(list(itertools.permutations(range(3), 2)))
    many = one.take(np.zeros(len(slates), dtype=np.int64))
    slate_p = policy.slate_probability(many, slates)
    position_p = policy.position_probability(many, slates)
    marginals = policy.candidate_position_probability(one)[0]
    error = tolerance(policy, slate_p)
    assert abs(slate_p.sum() - 1.0) <= np.sqrt(np.sum(error**2)) + 1e-12
    for k in range(2):
        marginal = np.array([slate_p[slates[:, k] == item].sum() for item in slates[:, k]])
        bound = 2 * np.sqrt(np.sum(error**2)) + tolerance(policy, marginal)
        assert np.all(np.abs(position_p[:, k] - marginal) <= bound)
        assert np.all(np.abs(marginals[slates[:, k], k] - marginal) <= bound)

    draws = 4000
    chosen = policy.act(one.take(np.zeros(draws, dtype=np.int64))).slates
    frequency = (chosen[:, None, :] == slates[None, :, :]).all(axis=2).mean(axis=0)
    spread = 4 * np.sqrt(slate_p * (1 - slate_p) / draws) + tolerance(policy, slate_p) + 1e-12
    assert np.all(np.abs(frequency - slate_p) <= spread), (frequency, slate_p)


def test_same_seed_gives_identical_decisions(name, make_observation):
    obs = make_observation(np.random.default_rng(3), n_requests=40, slate_size=2)
    first, second = build(name, seed=11).act(obs), build(name, seed=11).act(obs)
    np.testing.assert_array_equal(first.slates, second.slates)
    np.testing.assert_array_equal(first.slate_probability, second.slate_probability)


def test_a_pickled_policy_continues_exactly_as_the_original(name, make_observation, make_feedback):
    original = trained(name, make_observation, make_feedback)
    copy = pickle.loads(pickle.dumps(original))
    rng = np.random.default_rng(8)
    for _ in range(2):  # act, learn the same feedback, act again
        obs = make_observation(rng, n_requests=20, slate_size=2)
        first, second = original.act(obs), copy.act(obs)
        np.testing.assert_array_equal(first.slates, second.slates)
        np.testing.assert_array_equal(first.slate_probability, second.slate_probability)
        feedback = make_feedback(rng, first)
        original.update(obs, first, feedback)
        copy.update(obs, second, feedback)


def test_probability_methods_change_nothing(name, make_observation):
    obs = make_observation(np.random.default_rng(3), n_requests=40, slate_size=2)
    queried, fresh = build(name, seed=11), build(name, seed=11)
    slates = fresh.act(obs).slates
    first = queried.slate_probability(obs, slates)
    queried.position_probability(obs, slates)
    queried.candidate_position_probability(obs)
    np.testing.assert_array_equal(queried.slate_probability(obs, slates), first)
    np.testing.assert_array_equal(queried.act(obs).slates, slates)


def test_refuses_the_dict_form_of_the_observation(name, make_observation):
    obs = make_observation(np.random.default_rng(4), n_requests=10, slate_size=2)
    policy = build(name)
    with pytest.raises(
        InputTypeError, match=r"act takes a SlateObservation; got dict.*from_mapping"
    ):
        policy.act(obs.to_mapping())
    slates = policy.act(obs).slates
    with pytest.raises(InputTypeError, match="slate_probability takes a SlateObservation"):
        policy.slate_probability(obs.to_mapping(), slates)


def test_update_takes_batches_of_any_slate_size_and_act_still_works(
    name, make_observation, make_feedback
):
    policy, rng = build(name), np.random.default_rng(9)
    for slate_size in (1, 3, 2):
        obs = make_observation(rng, n_requests=25, max_candidates=7, slate_size=slate_size)
        decision = policy.act(obs)
        feedback = make_feedback(rng, decision)
        rewards = feedback.rewards.copy()
        assert policy.update(obs, decision, feedback) is None
        np.testing.assert_array_equal(feedback.rewards, rewards)  # inputs left alone
    obs = make_observation(rng, n_requests=5, slate_size=2)
    check_slates(policy.act(obs).slates, obs.n_candidates, "slates")


def test_rejects_invalid_slates(policy, make_observation):
    obs = make_observation(np.random.default_rng(1), n_requests=2, slate_size=2)
    with pytest.raises(InputValueError, match="more than once"):
        policy.slate_probability(obs, [[0, 0], [0, 1]])
    with pytest.raises(InputValueError, match="row 1, position 0"):
        policy.position_probability(obs, [[0, 1], [obs.n_candidates[1], 0]])
    with pytest.raises(InputValueError, match=r"shape \(2, 2\)"):
        policy.slate_probability(obs, [[0], [1]])
    with pytest.raises(InputTypeError, match=r"'feedback' of .*update must be a SlateFeedback"):
        policy.update(obs, policy.act(obs), np.zeros((2, 2)))
    with pytest.raises(InputValueError, match="row 0, position 0"):
        bad = SlateDecision([[obs.n_candidates[0], 0], [0, 1]], [0.5, 0.5], [[0.5, 0.5]] * 2)
        policy.update(obs, bad, SlateFeedback(np.zeros((2, 2))))
