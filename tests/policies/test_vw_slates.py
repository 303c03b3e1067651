"""VW's ``--slates`` policy: candidates dealt to positions, VW's own per-slot probabilities,
exact slate probabilities, learning from one reward per slate, each parameter, save/load."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explicit_observation as observation
from factories import random_observation

from bandits.feedback import SlateFeedback
from bandits.validation import InputValueError
from policies import VowpalWabbit, VowpalWabbitSlates, make_policy
from policies.vw_examples import request_heads
from policies.vw_workspace import EXPLORATIONS

FIVE = observation(np.zeros((1, 0)), np.eye(5)[None], slate_size=2)
"""One request, no context, five candidates with one-hot features, slates of 2: positions 0
and 1 take candidates {0, 2, 4} and {1, 3}."""


def slates(**params):
    return VowpalWabbitSlates(rng=np.random.default_rng(0), **params)


def teach(policy, best=(2, 3), rounds=60):
    """Reward 1 per position showing ``best[position]``, else 0, on every dealt slate, each
    logged with its probability under uniform choices per position."""
    shown = np.array([[a, b] for a in (0, 2, 4) for b in (1, 3)])
    obs = FIVE.take(np.zeros(len(shown), dtype=np.int64))
    probability = np.tile([1 / 3, 1 / 2], (len(shown), 1))
    for _ in range(rounds):
        decision = type(policy.act(obs))(shown, probability.prod(axis=1), probability)
        policy.update(obs, decision, SlateFeedback((shown == np.array(best)).astype(float)))
    return policy


def test_head_lists_each_positions_candidates_together():
    head = request_heads(FIVE, "slates")[0].split("\n")
    assert head[0] == "slates shared |u"
    assert [line.split()[2:4] for line in head[1:]] == [
        ["0", "|d"], ["0", "|d"], ["0", "|d"], ["1", "|d"], ["1", "|d"]]  # fmt: skip
    assert [int(line.split()[4]) for line in head[1:]] == [0, 2, 4, 1, 3]


def test_a_fresh_model_is_uniform_within_each_position():
    policy = slates(epsilon=0.2)
    marginals = policy.candidate_position_probability(FIVE)[0]
    expected = np.array([[1 / 3, 0], [0, 1 / 2], [1 / 3, 0], [0, 1 / 2], [1 / 3, 0]])
    np.testing.assert_allclose(marginals, expected, rtol=1e-6)
    probabilities = policy.slate_probability(FIVE.take([0, 0]), np.array([[2, 3], [1, 0]]))
    np.testing.assert_allclose(probabilities, [1 / 6, 0.0], rtol=1e-6)


@pytest.mark.parametrize("epsilon", [0.0, 0.3])
def test_epsilon_after_learning_the_best_of_each_position(epsilon):
    """(1 - e + e/m) on a position's learnt best of its m candidates, e/m on the others."""
    marginals = teach(slates(epsilon=epsilon)).candidate_position_probability(FIVE)[0]
    first = np.where(np.arange(3) == 1, 1 - epsilon + epsilon / 3, epsilon / 3)
    second = np.where(np.arange(2) == 1, 1 - epsilon + epsilon / 2, epsilon / 2)
    np.testing.assert_allclose(marginals[[0, 2, 4], 0], first, atol=1e-6)
    np.testing.assert_allclose(marginals[[1, 3], 1], second, atol=1e-6)


def test_probabilities_are_vws_own_per_slot_pmfs():
    policy = teach(slates(explore="softmax", lambda_=2.0), rounds=10)
    obs = random_observation(np.random.default_rng(3), n_requests=12, slate_size=3)
    marginals = policy.candidate_position_probability(obs)
    for row, head in enumerate(request_heads(obs, "slates")):
        lines = [*head.split("\n"), *(f"slates slot |s p{j}" for j in range(3))]
        n = int(obs.n_candidates[row])
        for position, pairs in enumerate(policy.workspace_.predict(lines)):
            for index, probability in pairs:
                candidate = position + 3 * index
                assert candidate < n
                np.testing.assert_allclose(marginals[row, candidate, position], probability,
                                           rtol=1e-6)  # fmt: skip


def test_acted_slates_keep_each_candidate_at_its_dealt_position():
    obs = random_observation(np.random.default_rng(4), n_requests=200, slate_size=3)
    decision = slates(epsilon=1.0).act(obs)
    assert np.all(decision.slates % 3 == np.arange(3))
    assert np.all(decision.slates < obs.n_candidates[:, None])


def test_update_refuses_a_slate_that_breaks_the_deal():
    policy = slates()
    obs = FIVE.take([0, 0])
    shown = np.array([[0, 1], [1, 0]])
    decision = type(policy.act(obs))(shown, np.full(2, 0.2), np.full((2, 2), 0.5))
    with pytest.raises(InputValueError, match=r"row 1 shows candidate 1 at position 0"):
        policy.update(obs, decision, SlateFeedback(np.ones((2, 2))))


CHANGES = [
    ({"epsilon": 0.05}, {"epsilon": 0.5}),
    ({"explore": "epsilon"}, {"explore": "softmax"}),
    ({"explore": "softmax", "lambda_": 1.0}, {"explore": "softmax", "lambda_": 8.0}),
    ({"explore": "bag", "bag": 2}, {"explore": "bag", "bag": 6}),
    ({"explore": "cover", "cover": 2}, {"explore": "cover", "cover": 6}),
    ({"explore": "squarecb", "gamma_scale": 1.0}, {"explore": "squarecb", "gamma_scale": 100.0}),
    ({"learning_rate": 0.5}, {"learning_rate": 0.01}),
    ({"interactions": ["ui"]}, {"interactions": []}),
    ({"bits": 18}, {"bits": 2}),
    ({"cb_type": "mtr"}, {"cb_type": "dr"}),
]


@pytest.mark.parametrize(("one", "other"), CHANGES)
def test_each_parameter_changes_the_probabilities(one, other):
    def behaviour(params):
        policy = make_policy("vw-slates", params, rng=np.random.default_rng(0))
        rng = np.random.default_rng(1)
        weights = rng.normal(size=(3, 2))
        for _ in range(20):
            obs = random_observation(rng, n_requests=20, slate_size=2, max_candidates=6)
            decision = policy.act(obs)
            shown = np.take_along_axis(obs.candidate_features, decision.slates[:, :, None], 1)
            value = np.einsum("nc,cd,nkd->nk", obs.context, weights, shown)
            policy.update(obs, decision, SlateFeedback((value > 0).astype(float)))
        test = random_observation(np.random.default_rng(2), n_requests=10, slate_size=2)
        return policy.candidate_position_probability(test)

    assert not np.allclose(behaviour(one), behaviour(other), atol=1e-4)


def test_every_parameter_is_in_the_table_above():
    changed = {key for pair in CHANGES for key in {*pair[0], *pair[1]}}
    assert changed == set(VowpalWabbitSlates.param_names())


@pytest.mark.parametrize("explore", EXPLORATIONS)
def test_a_saved_policy_continues_where_it_stopped(explore, tmp_path):
    policy = teach(slates(explore=explore), rounds=5)
    path = policy.save(tmp_path / "slates.vw")
    again = VowpalWabbitSlates.load(path)
    obs = random_observation(np.random.default_rng(5), n_requests=8, slate_size=2)
    first, second = policy.act(obs), again.act(obs)
    np.testing.assert_array_equal(first.slates, second.slates)
    np.testing.assert_allclose(first.position_probability, second.position_probability)
    with pytest.raises(InputValueError, match=r"holds a 'vw-slates' policy"):
        VowpalWabbit.load(path)


def test_slates_beat_uniform_when_each_position_has_a_best_candidate():
    policy = slates(epsilon=0.1)
    rng = np.random.default_rng(6)
    rewards = []
    for _ in range(40):
        obs = FIVE.take(np.zeros(32, dtype=np.int64))
        decision = policy.act(obs)
        clicks = (rng.random((32, 2)) < np.where(decision.slates == [2, 3], 0.6, 0.1)).astype(float)
        policy.update(obs, decision, SlateFeedback(clicks))
        rewards.append(clicks.sum(axis=1).mean())
    uniform = (0.6 + 0.1 + 0.1) / 3 + (0.6 + 0.1) / 2
    late = np.mean(rewards[-10:])
    assert late > uniform + 4 * np.sqrt(2 * 0.25 / 320)


def test_learning_off_policy_labels_the_slates_examples():
    """``learn_off_policy`` (what ``bandits learn`` calls) learns slates examples: from a
    uniform log where position 0's best is candidate 2, the policy comes to prefer it."""
    policy = slates(epsilon=0.0)
    shown = np.array([[a, b] for a in (0, 2, 4) for b in (1, 3)])
    obs = FIVE.take(np.zeros(len(shown), dtype=np.int64))
    probability = np.tile([1 / 3, 1 / 2], (len(shown), 1))
    decision = type(policy.act(obs))(shown, probability.prod(axis=1), probability)
    for _ in range(30):
        rewards = (shown == np.array([2, 3])).astype(float)
        policy.learn_off_policy(obs, decision, SlateFeedback(rewards), clip=10.0)
    marginals = policy.candidate_position_probability(FIVE)[0]
    assert marginals[2, 0] == pytest.approx(1.0) and marginals[3, 1] == pytest.approx(1.0)
