"""Softmax (Plackett-Luce) and per-position epsilon-greedy policies: every probability they
report against enumeration, each hyperparameter's effect, learning, and bad parameters."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from factories import explicit_observation as observation
from toy_policies import FixedScores

from bandits.feedback import SlateFeedback
from bandits.slates import shown_marginals
from bandits.validation import InputTypeError, InputValueError
from policies import (
    EpsilonGreedy,
    LinUCB,
    PerPositionEpsilonGreedy,
    RidgeGreedy,
    Softmax,
    UniformRandom,
    make_policy,
)
from policies.softmax import MAX_TEMPERATURE

SCORES = {0: 0.3, 1: 1.0, 2: 1.0, 3: -0.4, 4: 0.0}  # candidates 1 and 2 tie at the top


def five_candidates(slate_size, n_requests=1):
    return observation(
        np.zeros((n_requests, 1)), np.ones((n_requests, 5, 1)), slate_size=slate_size
    )


def every_slate(n, k):
    return np.array(list(itertools.permutations(range(n), k)), dtype=np.int64)


def plackett_luce_reference(scores, temperature, k):
    """P(slate) = prod over positions of exp(s/T) / sum over the rest, one slate at a time
    (the sum taken afresh: subtracting shown weights from the total loses the rest)."""
    weights = np.exp((np.asarray(scores) - np.max(scores)) / temperature)
    slates = every_slate(len(weights), k)
    probability = np.ones(len(slates))
    for index, slate in enumerate(slates):
        left = list(range(len(weights)))
        for item in slate:
            probability[index] *= weights[item] / weights[left].sum()
            left.remove(item)
    return slates, probability


def per_position_reference(scores, epsilon, k, strict):
    """Follow the process: epsilon / remaining for each remaining candidate plus 1 - epsilon
    over the best remaining (only the lowest index of them if ``strict``)."""
    slates = every_slate(len(scores), k)
    probability = np.ones(len(slates))
    for index, slate in enumerate(slates):
        remaining = list(range(len(scores)))
        for item in slate:
            top = max(scores[c] for c in remaining)
            best = [c for c in remaining if scores[c] == top][: 1 if strict else None]
            step = epsilon / len(remaining) + (1 - epsilon) * (item in best) / len(best)
            probability[index] *= step
            remaining.remove(item)
    return slates, probability


def check_against(policy, obs, slates, expected):
    """Slate, position and candidate-position probabilities, through every public method and
    ``act``, equal those summed from the enumerated slate probabilities."""
    k = slates.shape[1]
    np.testing.assert_allclose(expected.sum(), 1.0, rtol=1e-12)
    many = obs.take(np.zeros(len(slates), dtype=np.int64))
    np.testing.assert_allclose(policy.slate_probability(many, slates), expected, atol=1e-13)
    marginals = np.zeros((obs.max_candidates, k))
    for position in range(k):
        np.add.at(marginals[:, position], slates[:, position], expected)
    np.testing.assert_allclose(policy.candidate_position_probability(obs)[0], marginals, atol=1e-13)
    np.testing.assert_allclose(
        policy.position_probability(many, slates), marginals[slates, np.arange(k)], atol=1e-13
    )
    decision = policy.act(obs.take(np.zeros(50, dtype=np.int64)), with_marginals=True)
    index = {tuple(s): i for i, s in enumerate(slates.tolist())}
    chosen = np.array([index[tuple(s)] for s in decision.slates.tolist()])
    np.testing.assert_allclose(decision.slate_probability, expected[chosen], atol=1e-13)
    np.testing.assert_allclose(
        decision.position_probability, marginals[decision.slates, np.arange(k)], atol=1e-13
    )
    np.testing.assert_allclose(decision.candidate_position_probability[0], marginals, atol=1e-13)


# --- softmax ------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 20.0])
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_softmax_reports_the_enumerated_probabilities(temperature, k):
    policy = Softmax(
        temperature=temperature, base=FixedScores(item_scores=SCORES), rng=np.random.default_rng(0)
    )
    slates, expected = plackett_luce_reference(list(SCORES.values()), temperature, k)
    check_against(policy, five_candidates(k), slates, expected)


def test_softmax_after_learning_reports_the_enumerated_probabilities(make_observation):
    """The default base (ridge) trained on a few batches: probabilities from its scores."""
    rng = np.random.default_rng(4)
    policy = Softmax(temperature=0.3, rng=np.random.default_rng(0))
    for _ in range(3):
        obs = make_observation(rng, n_requests=20, slate_size=2)
        decision = policy.act(obs)
        policy.update(obs, decision, SlateFeedback(rng.random((20, 2))))
    one = make_observation(rng, n_requests=1, max_candidates=5, min_candidates=5, slate_size=3)
    slates, expected = plackett_luce_reference(policy.scores(one)[0], 0.3, 3)
    check_against(policy, one, slates, expected)


def test_a_lower_temperature_puts_more_mass_on_the_top_item():
    obs = five_candidates(2)
    top_first, marginals = [], []
    for temperature in (100.0, 1.0, 0.3, 0.1, 0.01):
        policy = Softmax(
            temperature=temperature,
            base=FixedScores(item_scores={0: 0.5, 1: 1.0, 2: 0.8, 3: 0.0, 4: 0.2}),
            rng=np.random.default_rng(0),
        )
        marginals.append(policy.candidate_position_probability(obs)[0])
        top_first.append(policy.slate_probability(obs, [[1, 2]])[0])
    first = [m[1, 0] for m in marginals]
    assert all(a < b for a, b in itertools.pairwise(first)), first
    assert all(a < b for a, b in itertools.pairwise(top_first)), top_first
    np.testing.assert_allclose(marginals[0], 0.2, atol=0.01)  # hot: nearly uniform
    assert top_first[-1] > 1 - 1e-8  # cold: the greedy slate


def test_a_cold_softmax_is_top_k_with_random_ties():
    """Temperature 1e-6 on scores with an exact tie: the tied pair splits positions 1 and 2
    evenly, the rest follow by score (the limit of Plackett-Luce)."""
    policy = Softmax(
        temperature=1e-6, base=FixedScores(item_scores=SCORES), rng=np.random.default_rng(0)
    )
    obs = five_candidates(3)
    many = obs.take(np.zeros(2, dtype=np.int64))
    np.testing.assert_allclose(policy.slate_probability(many, [[1, 2, 0], [2, 1, 0]]), 0.5)
    decision = policy.act(obs.take(np.zeros(400, dtype=np.int64)))
    assert np.all(decision.slates[:, 2] == 0)
    assert 120 < np.count_nonzero(decision.slates[:, 0] == 1) < 280


def test_softmax_base_gives_the_scores_and_learns_from_every_shown_slate(make_observation):
    rng = np.random.default_rng(0)
    obs = make_observation(rng, n_requests=30, slate_size=3)
    policy = Softmax(temperature=0.5, rng=np.random.default_rng(1))
    assert isinstance(policy.base, RidgeGreedy)
    decision = policy.act(obs)
    policy.update(obs, decision, SlateFeedback(rng.random((30, 3))))
    assert policy.base.model_.n_samples_ == 90
    np.testing.assert_array_equal(policy.scores(obs), policy.base.scores(obs))
    # another base, another distribution
    other = Softmax(temperature=0.5, base=FixedScores(item_scores=SCORES), rng=rng)
    assert not np.allclose(
        other.candidate_position_probability(obs), policy.candidate_position_probability(obs)
    )
    built = make_policy("softmax", {"base": "linucb:alpha=0.5"}, rng=np.random.default_rng(0))
    assert isinstance(built.base, LinUCB) and built.base.alpha == 0.5
    assert built.name.startswith('softmax:temperature=0.1,base="linucb:alpha=0.5')


def test_softmax_rng_drives_the_draws():
    obs = five_candidates(3, n_requests=200)
    base = FixedScores(item_scores=SCORES)

    def slates(seed):
        return Softmax(temperature=1.0, base=base, rng=np.random.default_rng(seed)).act(obs).slates

    np.testing.assert_array_equal(slates(3), slates(3))
    assert not np.array_equal(slates(3), slates(4))


def test_softmax_at_scale_logs_valid_decisions(make_observation):
    """100 candidates, slates of 10, scores spread over a wide range: the decision passes the
    log's checks (marginals sum to 1, agree with the shown items, exceed none of [0, 1]) and
    each shown item is at least as likely as its whole slate."""
    rng = np.random.default_rng(0)
    obs = make_observation(rng, n_requests=20, max_candidates=100, min_candidates=60, slate_size=10)
    for temperature in (1e-4, 0.1, 10.0):
        policy = Softmax(
            temperature=temperature,
            base=FixedScores(item_scores={i: float(rng.normal()) for i in range(1000)}),
            rng=np.random.default_rng(1),
        )
        decision = policy.act(obs, with_marginals=True)
        decision.check_against(obs)
        np.testing.assert_allclose(
            decision.candidate_position_probability.sum(axis=1), 1.0, rtol=1e-12
        )
        assert np.all(decision.position_probability >= decision.slate_probability[:, None])
        np.testing.assert_allclose(
            policy.position_probability(obs, decision.slates),
            decision.position_probability,
            rtol=1e-12,
        )


def test_softmax_overflowing_logits_are_refused_with_the_row():
    policy = Softmax(
        temperature=1e-308,
        base=FixedScores(item_scores={0: 0.0, 1: 100.0}),
        rng=np.random.default_rng(0),
    )
    with pytest.raises(InputValueError, match=r"row 0 span 100, .*use a larger temperature"):
        policy.act(observation(np.zeros((1, 1)), np.ones((1, 3, 1)), slate_size=2))


# --- per-position epsilon-greedy -------------------------------------------------------------


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 0.7, 1.0])
@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("random_ties", [True, False], ids=["random-ties", "index-ties"])
def test_per_position_reports_the_enumerated_probabilities(epsilon, k, random_ties):
    base = FixedScores(item_scores=SCORES, rng=np.random.default_rng(9) if random_ties else None)
    policy = PerPositionEpsilonGreedy(epsilon=epsilon, base=base, rng=np.random.default_rng(0))
    scores = list(SCORES.values())
    slates, expected = per_position_reference(scores, epsilon, k, strict=not random_ties)
    check_against(policy, five_candidates(k), slates, expected)


def test_per_position_epsilon_zero_is_the_greedy_slate():
    obs = five_candidates(3, n_requests=40)
    strict = FixedScores(item_scores=SCORES)
    policy = PerPositionEpsilonGreedy(epsilon=0.0, base=strict, rng=np.random.default_rng(0))
    decision = policy.act(obs, with_marginals=True)
    np.testing.assert_array_equal(decision.slates, strict.greedy_slates(obs))
    np.testing.assert_array_equal(decision.slate_probability, 1.0)
    tied = FixedScores(item_scores=SCORES, rng=np.random.default_rng(1))
    policy = PerPositionEpsilonGreedy(epsilon=0.0, base=tied, rng=np.random.default_rng(0))
    decision = policy.act(obs, with_marginals=True)
    np.testing.assert_allclose(
        decision.slate_probability, tied.slate_probability(obs, decision.slates)
    )
    np.testing.assert_allclose(
        decision.candidate_position_probability, tied.candidate_position_probability(obs)
    )


def test_per_position_epsilon_one_is_uniform():
    obs = five_candidates(3)
    policy = PerPositionEpsilonGreedy(
        epsilon=1.0, base=FixedScores(item_scores=SCORES), rng=np.random.default_rng(0)
    )
    uniform = UniformRandom(rng=np.random.default_rng(0))
    slates = every_slate(5, 3)
    many = obs.take(np.zeros(len(slates), dtype=np.int64))
    np.testing.assert_allclose(
        policy.slate_probability(many, slates), uniform.slate_probability(many, slates)
    )
    np.testing.assert_allclose(policy.candidate_position_probability(obs), 0.2)


def test_more_epsilon_explores_more_and_per_position_differs_from_whole_slate():
    obs = five_candidates(3)
    base = FixedScores(item_scores=SCORES)
    greedy = base.greedy_slates(obs)
    shown_greedy = []
    for epsilon in (0.0, 0.1, 0.3, 0.6, 1.0):
        policy = PerPositionEpsilonGreedy(epsilon=epsilon, base=base, rng=np.random.default_rng(0))
        shown_greedy.append(policy.slate_probability(obs, greedy)[0])
    assert all(a > b for a, b in itertools.pairwise(shown_greedy)), shown_greedy
    # at the same epsilon, per position keeps most of the greedy slate where whole-slate
    # exploration replaces all of it
    per = PerPositionEpsilonGreedy(epsilon=0.3, base=base, rng=np.random.default_rng(0))
    whole = EpsilonGreedy(epsilon=0.3, base=base, rng=np.random.default_rng(0))
    assert not np.allclose(
        per.candidate_position_probability(obs), whole.candidate_position_probability(obs)
    )
    assert per.slate_probability(obs, greedy)[0] < whole.slate_probability(obs, greedy)[0]
    np.testing.assert_allclose(
        shown_marginals(per.candidate_position_probability(obs), greedy)[0, 0], 0.7 + 0.3 / 5
    )


def test_per_position_base_learns_from_every_shown_slate(make_observation):
    rng = np.random.default_rng(0)
    obs = make_observation(rng, n_requests=25, slate_size=2)
    policy = PerPositionEpsilonGreedy(epsilon=0.5, rng=np.random.default_rng(1))
    policy.update(obs, policy.act(obs), SlateFeedback(rng.random((25, 2))))
    assert policy.base.model_.n_samples_ == 50
    assert policy.spec == (
        'per-position-epsilon-greedy:epsilon=0.5,base="ridge-greedy:ridge=1.0,model=joint"'
    )


def test_per_position_at_scale_logs_valid_decisions(make_observation):
    rng = np.random.default_rng(0)
    obs = make_observation(rng, n_requests=30, max_candidates=100, min_candidates=40, slate_size=10)
    policy = PerPositionEpsilonGreedy(
        epsilon=0.2,
        base=FixedScores(item_scores={i: float(i % 5) for i in range(1000)}, rng=rng),
        rng=np.random.default_rng(1),
    )
    decision = policy.act(obs, with_marginals=True)
    decision.check_against(obs)
    np.testing.assert_allclose(decision.candidate_position_probability.sum(axis=1), 1.0, rtol=1e-12)


# --- bad parameters -----------------------------------------------------------------------

RNG = {"rng": np.random.default_rng(0)}


@pytest.mark.parametrize(
    ("cls", "kwargs", "error", "message"),
    [
        (Softmax, {"temperature": 0, **RNG}, InputValueError,
         "The 'temperature' parameter of Softmax must be > 0; got 0."),
        (Softmax, {"temperature": -1.0, **RNG}, InputValueError, "must be > 0; got -1.0."),
        (Softmax, {"temperature": 2e6, **RNG}, InputValueError,
         "'temperature' parameter of Softmax must be <= 1e+06"),
        (Softmax, {"temperature": float("nan"), **RNG}, InputValueError, "must be finite"),
        (Softmax, {"temperature": "hot", **RNG}, InputTypeError, "must be a real number"),
        (Softmax, {"temperature": True, **RNG}, InputTypeError, "must be a real number"),
        (Softmax, {"base": "linucb", **RNG}, InputTypeError,
         "The 'base' parameter of Softmax must be a GreedyPolicy"),
        (Softmax, {"base": UniformRandom(**RNG), **RNG}, InputTypeError, "got UniformRandom"),
        (Softmax, {"rng": 3}, InputTypeError, "'rng' parameter of Softmax must be a numpy"),
        (Softmax, {}, TypeError, "missing 1 required keyword-only argument: 'rng'"),
        (PerPositionEpsilonGreedy, {"epsilon": 1.5, **RNG}, InputValueError,
         "'epsilon' parameter of PerPositionEpsilonGreedy must be <= 1"),
        (PerPositionEpsilonGreedy, {"epsilon": -0.1, **RNG}, InputValueError, "must be >= 0"),
        (PerPositionEpsilonGreedy, {"base": 1, **RNG}, InputTypeError,
         "'base' parameter of PerPositionEpsilonGreedy"),
        (PerPositionEpsilonGreedy, {"rng": None}, InputTypeError, "must be a numpy"),
    ],
)  # fmt: skip
def test_bad_parameters(cls, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        cls(**kwargs)


def test_make_policy_names_the_parameters_of_the_new_policies():
    with pytest.raises(
        InputValueError,
        match=re.escape(
            "The policy 'softmax' (Softmax) has no parameter 'temprature'; allowed parameters "
            "are ['temperature', 'base']. Did you mean 'temperature'?"
        ),
    ):
        make_policy("softmax", {"temprature": 1.0}, rng=np.random.default_rng(0))
    with pytest.raises(InputValueError, match=re.escape("Did you mean 'epsilon'?")):
        make_policy("per-position-epsilon-greedy", {"epsilom": 0.1}, rng=np.random.default_rng(0))
    assert MAX_TEMPERATURE == 1e6


@pytest.mark.parametrize("cls", [Softmax, PerPositionEpsilonGreedy])
def test_arguments_are_keyword_only(cls):
    with pytest.raises(TypeError, match="positional"):
        cls(0.5)
