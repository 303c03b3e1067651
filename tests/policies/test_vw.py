"""The Vowpal Wabbit policy: VW's own probabilities, exact small cases, each parameter, state
left alone by probability queries, save/load and pickling, and learning."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from factories import explicit_observation as observation
from factories import random_observation

from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import SlateObservation
from policies import UniformRandom, VowpalWabbit
from policies.vw_examples import (
    RequestHeads,
    learn_slots,
    learn_slots_of_batch,
    predict_text,
    request_heads,
    slot_labels,
)
from policies.vw_slots import candidate_position_marginals, count_slot_distributions
from policies.vw_workspace import EXPLORATIONS, slot_distribution

ONE_HOT = observation(np.zeros((1, 0)), np.eye(4)[None])
"""One request, no context, four candidates with one-hot item features."""


def vw(**params):
    return VowpalWabbit(rng=np.random.default_rng(0), **params)


def teach_best(policy, best=2, rounds=60):
    """Reward 1 for candidate ``best`` and 0 for the others, each shown once per round."""
    for _ in range(rounds):
        obs = ONE_HOT.take(np.zeros(4, dtype=np.int64))
        decision = policy.act(obs)
        slates = np.arange(4)[:, None]
        shown = type(decision)(slates, np.full(4, 0.25), np.full((4, 1), 0.25))
        policy.update(obs, shown, SlateFeedback((slates == best).astype(float)))
    return policy


def first_slot(policy, obs=ONE_HOT):
    return policy.candidate_position_probability(obs)[0, :, 0]


def test_a_fresh_epsilon_model_is_uniform_over_slots_and_slates():
    policy = vw(epsilon=0.2)
    np.testing.assert_allclose(first_slot(policy), 0.25, rtol=1e-12)
    two = observation(np.zeros((12, 0)), np.tile(np.eye(4), (12, 1, 1)), slate_size=2)
    slates = np.array(list(itertools.permutations(range(4), 2)))
    np.testing.assert_allclose(policy.slate_probability(two, slates), 1 / 12, rtol=1e-12)
    np.testing.assert_allclose(policy.position_probability(two, slates), 1 / 4, rtol=1e-12)


@pytest.mark.parametrize("epsilon", [0.0, 0.2, 1.0])
def test_epsilon_after_learning_the_best_candidate(epsilon):
    """(1 - e + e/n) on the learnt best, e/n elsewhere. One slot lower the other three tie
    (each learnt reward 0), and VW splits its greedy share among ties: 1/3 each."""
    policy = teach_best(vw(epsilon=epsilon))
    expected = np.where(np.arange(4) == 2, 1 - epsilon + epsilon / 4, epsilon / 4)
    np.testing.assert_allclose(first_slot(policy), expected, rtol=1e-6, atol=1e-7)
    head = request_heads(ONE_HOT)[0]
    second = slot_distribution(policy.workspace_, head, [2])
    np.testing.assert_allclose(second, [1 / 3, 1 / 3, 0, 1 / 3], rtol=1e-6)


def test_logged_probability_is_vws_pmf_entry():
    policy = teach_best(vw(explore="softmax", lambda_=3.0), rounds=10)
    obs = random_observation(np.random.default_rng(2), n_requests=20, slate_size=1)
    decision = policy.act(obs)
    for row, head in enumerate(request_heads(obs)):
        raw = dict(policy.workspace_.predict(predict_text(head, []).split("\n"))[-1])
        chosen = raw[int(decision.slates[row, 0])]
        np.testing.assert_allclose(decision.slate_probability[row], chosen, rtol=1e-6)


def test_vw_fills_slots_from_the_remaining_candidates_as_we_do():
    """VW's own CCB prediction for a two-slot example: slot 1's PMF given VW's choice for
    slot 0 is the one we predict with slot 0 held to that choice, in any order."""
    policy = teach_best(vw(explore="softmax", lambda_=2.0), rounds=10)
    head = request_heads(ONE_HOT)[0]
    own = policy.workspace_.predict([*head.split("\n"), "ccb slot |s p0", "ccb slot |s p1"])
    chosen = own[0][0][0]
    theirs = np.zeros(4)
    for action, probability in own[1]:
        theirs[action] = probability
    np.testing.assert_allclose(
        slot_distribution(policy.workspace_, head, [chosen]), theirs / theirs.sum(), rtol=1e-12
    )
    np.testing.assert_array_equal(
        slot_distribution(policy.workspace_, head, [0, 1]),
        slot_distribution(policy.workspace_, head, [1, 0]),
    )


def test_slot_marginals_match_enumerating_every_slate():
    """Plackett-Luce slots (weights renormalised over the rest): the marginals of
    ``candidate_position_marginals`` equal the sums over all ordered slates."""
    weights = np.array([0.1, 0.4, 0.2, 0.3, 0.05])

    def slot(taken):
        rest = weights.copy()
        rest[list(taken)] = 0
        return rest / rest.sum()

    calls = []
    counted = lambda taken: calls.append(taken) or slot(taken)  # noqa: E731
    marginals = candidate_position_marginals(counted, 5, 3)
    expected = np.zeros((5, 3))
    for slate in itertools.permutations(range(5), 3):
        p = np.prod([slot(frozenset(slate[:j]))[slate[j]] for j in range(3)])
        for j, item in enumerate(slate):
            expected[item, j] += p
    np.testing.assert_allclose(marginals, expected, rtol=1e-12)
    assert len(calls) == count_slot_distributions(5, 3) == 1 + 5 + 10


@pytest.mark.parametrize("explore", EXPLORATIONS)
def test_probability_queries_leave_vw_unchanged(explore, make_observation):
    """Two policies with one seed see the same batches; one is also asked for probabilities
    before every act. Their choices, probabilities and learning stay identical."""
    queried, plain = vw(explore=explore), vw(explore=explore)
    rng = np.random.default_rng(3)
    for batch in range(4):
        obs = make_observation(rng, n_requests=8, slate_size=1 + batch % 2)
        queried.candidate_position_probability(obs)
        queried.slate_probability(obs, np.tile(np.arange(obs.slate_size), (8, 1)))
        first, second = queried.act(obs), plain.act(obs)
        np.testing.assert_array_equal(first.slates, second.slates)
        np.testing.assert_array_equal(first.slate_probability, second.slate_probability)
        feedback = SlateFeedback(rng.random(first.slates.shape))
        queried.update(obs, first, feedback)
        plain.update(obs, second, feedback)
    obs = make_observation(rng, n_requests=8, slate_size=2)
    np.testing.assert_array_equal(
        queried.candidate_position_probability(obs), plain.candidate_position_probability(obs)
    )


def test_command_line_carries_each_parameter():
    line = " ".join(
        vw(
            explore="squarecb", gamma_scale=3.5, learning_rate=0.25, bits=12, interactions=["ud"]
        ).command_line()
    )
    assert "--ccb_explore_adf --squarecb --gamma_scale 3.5 -l 0.25 -b 12" in line
    assert "--interactions ud" in line
    assert "--softmax --lambda 2.0" in " ".join(vw(explore="softmax", lambda_=2).command_line())
    assert "--bag 3 --epsilon 0.1" in " ".join(vw(explore="bag", bag=3, epsilon=0.1).command_line())
    assert "--cover 4 --epsilon 0.0" in " ".join(
        vw(explore="cover", cover=4, epsilon=0).command_line()
    )
    assert "--regcb" in vw(explore="regcb").command_line()


def test_bits_sets_the_size_of_the_model():
    assert vw(bits=10).workspace_.num_weights() == 2**10


def test_softmax_lambda_sharpens_the_distribution():
    flat, sharp = (teach_best(vw(explore="softmax", lambda_=value)) for value in (0.0, 20.0))
    np.testing.assert_allclose(first_slot(flat), 0.25, rtol=1e-6)
    assert first_slot(sharp)[2] > 0.9


def test_squarecb_gamma_scale_sharpens_the_distribution():
    mild, bold = (teach_best(vw(explore="squarecb", gamma_scale=g)) for g in (1.0, 1000.0))
    assert first_slot(bold)[2] > first_slot(mild)[2] > 0.25


@pytest.mark.parametrize(("explore", "size"), [("bag", 1), ("bag", 4), ("cover", 1), ("cover", 4)])
def test_bag_and_cover_find_the_best_candidate(explore, size):
    policy = teach_best(vw(explore=explore, **{explore: size}, epsilon=0.1))
    pmf = first_slot(policy)
    assert pmf.argmax() == 2 and np.all(pmf > 0)
    np.testing.assert_allclose(pmf.sum(), 1.0, rtol=1e-12)


def test_regcb_keeps_only_plausible_candidates():
    pmf = first_slot(teach_best(vw(explore="regcb"), rounds=200))
    assert pmf[2] == pmf.max() and pmf.sum() == pytest.approx(1.0)


def test_learning_rate_changes_what_is_learnt():
    slow, fast = (
        teach_best(vw(explore="softmax", lambda_=5.0, learning_rate=rate), rounds=3)
        for rate in (0.01, 1.0)
    )
    assert first_slot(fast)[2] > first_slot(slow)[2] > 0.25


def test_interactions_let_the_best_item_depend_on_the_context(stat_seed):
    """Item 0 is best when the context is +1, item 1 when it is -1: only a context x item
    interaction can tell; without it the policy stays near a coin flip."""
    rates = {}
    for interactions in ([], ["ud"]):
        policy = VowpalWabbit(
            epsilon=0.1, interactions=interactions, rng=np.random.default_rng(stat_seed)
        )
        rng = np.random.default_rng(stat_seed + 1)
        hits = []
        for _ in range(40):
            sign = rng.choice([-1.0, 1.0], size=20)
            obs = observation(sign[:, None], np.tile(np.eye(2), (20, 1, 1)))
            decision = policy.act(obs)
            best = (sign < 0).astype(int)
            hit = decision.slates[:, 0] == best
            policy.update(obs, decision, SlateFeedback(hit[:, None].astype(float)))
            hits.append(hit.mean())
        rates[len(interactions)] = np.mean(hits[-10:])
    assert rates[1] > 0.85 and rates[0] < 0.75, rates


def test_max_predictions_bounds_the_exact_marginals():
    obs = random_observation(
        np.random.default_rng(0), n_requests=2, max_candidates=5, min_candidates=5, slate_size=3
    )
    vw(max_predictions=16).act(obs)  # 1 + 5 + 10 sets of candidates above the last slot
    with pytest.raises(ValueError, match=r"need up to 16 VW predictions.*'max_predictions'"):
        vw(max_predictions=15).act(obs)


def _continue(policy, rng, batches=4):
    decisions = []
    for batch in range(batches):
        obs = random_observation(rng, n_requests=10, slate_size=1 + batch % 2)
        decision = policy.act(obs)
        policy.update(obs, decision, SlateFeedback(rng.random(decision.slates.shape)))
        decisions.append(decision)
    return decisions


@pytest.mark.parametrize("explore", ["epsilon", "softmax", "regcb", "squarecb"])
@pytest.mark.parametrize("how", ["file", "pickle"])
def test_a_saved_policy_continues_where_it_stopped(explore, how, tmp_path):
    policy = vw(explore=explore, bits=16)
    _continue(policy, np.random.default_rng(1))
    if how == "file":
        path = policy.save(tmp_path / "policy.vwp")
        copy = VowpalWabbit.load(path)
    else:
        copy = pickle.loads(pickle.dumps(policy))
    assert copy.spec == policy.spec
    for ours, theirs in zip(
        _continue(policy, np.random.default_rng(2)),
        _continue(copy, np.random.default_rng(2)),
        strict=True,
    ):
        np.testing.assert_array_equal(ours.slates, theirs.slates)
        np.testing.assert_array_equal(ours.slate_probability, theirs.slate_probability)


@pytest.mark.parametrize("explore", ["bag", "cover"])
def test_bag_and_cover_reload_and_keep_learning(explore, tmp_path):
    """Their next choices are the same; later learning may differ (VW does not restore all of
    their internal state), but the loaded model learns."""
    policy = teach_best(vw(explore=explore, epsilon=0.1), rounds=5)
    copy = VowpalWabbit.load(policy.save(tmp_path / "policy.vwp"))
    np.testing.assert_array_equal(first_slot(copy), first_slot(policy))
    before = first_slot(copy)[2]
    assert first_slot(teach_best(copy, rounds=60))[2] >= before


def test_save_never_replaces_a_file_unless_asked(tmp_path):
    path = tmp_path / "policy.vwp"
    path.write_text("keep me")
    with pytest.raises(FileExistsError, match="already exists"):
        vw().save(path)
    assert path.read_text() == "keep me"
    vw().save(path, replace=True)
    assert VowpalWabbit.load(path).spec == vw().spec


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "other.bin"
    path.write_bytes(b"not a policy\n")
    with pytest.raises(ValueError, match="is not a VW policy file"):
        VowpalWabbit.load(path)


def test_vw_beats_uniform_on_a_linear_problem(stat_seed):
    """Expected reward x_context . W . x_item; the late mean reward of vw exceeds uniform's
    by more than 4 standard errors."""

    def late_mean(policy):
        rng = np.random.default_rng(stat_seed)
        weights = rng.normal(size=(3, 3))
        means = []
        for _ in range(150):
            obs = random_observation(rng, n_requests=10, max_candidates=8, n_context=3, n_item=3)
            decision = policy.act(obs)
            items = np.take_along_axis(obs.candidate_features, decision.slates[:, :, None], 1)
            expected = np.einsum("nc,cd,nkd->nk", obs.context, weights, items)
            noisy = expected + rng.normal(scale=0.5, size=expected.shape)
            policy.update(obs, decision, SlateFeedback(noisy))
            means.append(expected.mean())
        return np.asarray(means[-50:])

    learnt = late_mean(VowpalWabbit(epsilon=0.1, rng=np.random.default_rng(stat_seed)))
    uniform = late_mean(UniformRandom(rng=np.random.default_rng(stat_seed)))
    error = np.sqrt(learnt.var(ddof=1) / learnt.size + uniform.var(ddof=1) / uniform.size)
    assert learnt.mean() - uniform.mean() > 4 * error, (learnt.mean(), uniform.mean(), error)


def test_request_heads_spell_each_requests_lines_by_hand():
    """Two requests of 2 and 1 candidates (padding cut), one context and one item feature."""
    obs = observation([[0.5], [-1.25]], [[[0.1], [2.0]], [[0.1], [2.0]]], n_candidates=[2, 1])
    assert request_heads(obs) == [
        "ccb shared |u 0:0.5\nccb action |d 0 |i 0:0.1\nccb action |d 1 |i 0:2",
        "ccb shared |u 0:-1.25\nccb action |d 0 |i 0:0.1",
    ]
    assert predict_text("h", [3, 1]) == (
        "h\nccb slot 3 'seed=0|s p0\nccb slot 1 'seed=0|s p1\nccb slot 'seed=0|s p2"
    )
    slates, costs = np.array([[2, 0], [1, 3]]), np.array([[-1.0, -0.0], [0.5, 1 / 3]])
    probabilities = np.array([[0.25, 0.5], [1.0, 0.125]])
    assert learn_slots_of_batch(slates, costs, probabilities) == [
        "\nccb slot 2:-1:0.25 'seed=0|s p0\nccb slot 0:-0:0.5 'seed=0|s p1",
        "\nccb slot 1:0.5:1 'seed=0|s p0\nccb slot 3:0.333333333:0.125 'seed=0|s p1",
    ]
    assert (
        learn_slots(slates[1], costs[1], probabilities[1])
        == learn_slots_of_batch(slates, costs, probabilities)[1]
    )
    assert slot_labels(slates[:, 1], costs[:, 1], probabilities[:, 1]) == [
        "ccb slot 0:-0:0.5",
        "ccb slot 3:0.333333333:0.125",
    ]


def test_request_heads_keep_item_ids_beyond_float_precision():
    small = random_observation(np.random.default_rng(3), n_requests=3, slate_size=1)
    large = SlateObservation(
        **{name: getattr(small, name) for name in ("context", "n_candidates", "slate_size",
                                                    "history", "request_ids", "user_ids", "times")},
        candidate_ids=np.where(small.candidate_mask, small.candidate_ids + 2**62, -1),
        items=ItemTable(small.items.ids + 2**62, small.items.features),
    )  # fmt: skip
    for got, want in zip(request_heads(large), request_heads(small), strict=True):
        ids = [int(line.split()[3]) for line in got.split("\n")[1:]]
        assert ids == [int(line.split()[3]) + 2**62 for line in want.split("\n")[1:]]


@pytest.mark.parametrize("explore", EXPLORATIONS)
def test_learning_from_examples_kept_since_act_equals_parsing_them_again(explore):
    """``update`` on the observation ``act`` saw learns from the examples parsed in ``act``;
    on an equal copy it parses them again. Both leave VW with the same predictions."""
    kept, parsed = vw(explore=explore), vw(explore=explore)
    clicks = np.random.default_rng(4)
    for batch in range(8):
        obs = random_observation(np.random.default_rng(batch), n_requests=16, slate_size=1)
        copy = obs.take(np.arange(obs.n_requests))
        decision, again = kept.act(obs), parsed.act(copy)
        np.testing.assert_array_equal(decision.slates, again.slates)
        feedback = SlateFeedback((clicks.random((16, 1)) < 0.4).astype(float))
        kept.update(obs, decision, feedback)
        parsed.update(obs, again, feedback)  # not the observation it acted on
    probe = random_observation(np.random.default_rng(99), n_requests=8, slate_size=1)
    np.testing.assert_array_equal(
        kept.candidate_position_probability(probe), parsed.candidate_position_probability(probe)
    )
    assert not kept._kept and not parsed._kept


def test_decisions_never_learned_from_release_their_examples():
    policy = vw()
    obs = random_observation(np.random.default_rng(0), n_requests=4, slate_size=1)
    decision = policy.act(obs)
    assert len(policy._kept) == 1
    del decision
    assert not policy._kept
    first, second = policy.act(obs), policy.act(obs)  # two acts in flight, learned in turn
    policy.update(obs, second, SlateFeedback(np.ones((4, 1))))
    policy.update(obs, first, SlateFeedback(np.zeros((4, 1))))
    policy.update(obs, first, SlateFeedback(np.zeros((4, 1))))  # again: parsed afresh
    assert not policy._kept


def test_request_heads_start_their_cache_again_beyond_its_bound(monkeypatch):
    monkeypatch.setattr("policies.vw_examples.MAX_CACHED_LINES", 3)
    heads = RequestHeads()
    first = random_observation(np.random.default_rng(0), n_requests=4, slate_size=1)
    expected = request_heads(first)
    assert heads(first) == expected and len(heads._lines) > 3
    second = random_observation(np.random.default_rng(1), n_requests=2, slate_size=1)
    assert heads(second) == request_heads(second)
    assert len(heads._lines) <= len(set(second.candidate_rows[second.candidate_mask].tolist()))
