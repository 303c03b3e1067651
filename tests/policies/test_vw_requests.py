"""Requests built from kept action examples behave exactly as their VW text parsed afresh:
the same predictions at every step and after learning. (The model bytes also hold VW's
counts of finished examples, which differ: the references below predict and learn each
request as two examples.)"""

from __future__ import annotations

import gc
import itertools

import numpy as np
import pytest
from factories import random_observation

from bandits.feedback import SlateFeedback
from policies import VowpalWabbit, VowpalWabbitSlates
from policies.vw_examples import (
    SLOT_TAG,
    RequestHeads,
    learn_slots,
    learn_text,
    predict_slots,
    request_heads,
    slot_label,
)
from policies.vw_requests import (
    ParsedActions,
    RequestExamples,
    _chunks,
    collection_paused,
    learn_requests,
    predict_requests,
)
from policies.vw_workspace import (
    EXPLORATIONS,
    learn_raw,
    new_workspace,
    normalised_pmf,
    predict_raw,
    slot_distribution,
)


def batches(slate_size, count=6, n_requests=12):
    """Requests sharing many items (a catalogue of 60), so kept examples are reused."""
    for batch in range(count):
        rng = np.random.default_rng(batch)
        yield random_observation(rng, n_requests=n_requests, max_candidates=8,
                                 slate_size=slate_size)  # fmt: skip


@pytest.mark.parametrize("slate_size", [1, 2])
@pytest.mark.parametrize("explore", EXPLORATIONS)
def test_vw_policy_learns_as_from_the_text_of_each_request(explore, slate_size):
    policy = VowpalWabbit(explore=explore, rng=np.random.default_rng(0))
    reference = new_workspace(policy.command_line())
    clicks = np.random.default_rng(7)
    for obs in batches(slate_size):
        decision = policy.act(obs)
        slot_probabilities = np.zeros(decision.slates.shape)
        for row, head in enumerate(request_heads(obs)):
            for position, item in enumerate(decision.slates[row]):
                taken = decision.slates[row, :position].tolist()
                slot_probabilities[row, position] = slot_distribution(reference, head, taken)[item]
        first = decision.position_probability[:, 0]
        np.testing.assert_array_equal(first, slot_probabilities[:, 0])
        np.testing.assert_allclose(decision.slate_probability, slot_probabilities.prod(axis=1),
                                   rtol=1e-12)  # fmt: skip
        rewards = (clicks.random(decision.slates.shape) < 0.4).astype(float)
        policy.update(obs, decision, SlateFeedback(rewards))
        for row, head in enumerate(request_heads(obs)):
            text = learn_text(head, decision.slates[row], -rewards[row], slot_probabilities[row])
            learn_raw(reference, text)
    probe = random_observation(np.random.default_rng(99), n_requests=8, slate_size=1)
    for row, head in enumerate(request_heads(probe)):
        want = slot_distribution(reference, head, [])
        n = want.size
        np.testing.assert_array_equal(policy.candidate_position_probability(probe)[row, :n, 0],
                                      want)  # fmt: skip


SLATE_SLOTS = "".join(f"\nslates slot {SLOT_TAG}|s p{j}" for j in range(2))


def assert_slates_marginals_are_vws(policy, reference, obs):
    """The policy's marginals equal the reference's per-slot PMFs from text, exactly."""
    marginals = policy.candidate_position_probability(obs)
    for row, head in enumerate(request_heads(obs, "slates")):
        for position, pairs in enumerate(predict_raw(reference, head + SLATE_SLOTS)):
            pmf = np.zeros(len(pairs))
            for index, probability in pairs:
                pmf[index] = probability
            members = np.arange(position, int(obs.n_candidates[row]), 2)
            np.testing.assert_array_equal(marginals[row, members, position], pmf / pmf.sum())


def test_vw_slates_learns_as_from_the_text_of_each_request():
    policy = VowpalWabbitSlates(explore="softmax", rng=np.random.default_rng(0))
    reference = new_workspace(policy.command_line())
    clicks = np.random.default_rng(7)
    for obs in batches(2, n_requests=10):
        assert_slates_marginals_are_vws(policy, reference, obs)
        decision = policy.act(obs)
        rewards = (clicks.random((obs.n_requests, 2)) < 0.4).astype(float)
        policy.update(obs, decision, SlateFeedback(rewards))
        for row, head in enumerate(request_heads(obs, "slates")):
            slate, logged = decision.slates[row], decision.position_probability[row]
            shown = zip(slate.tolist(), logged.tolist(), strict=True)
            labels = "".join(
                f"\nslates slot {item // 2}:{probability:.9g} {SLOT_TAG}|s p{position}"
                for position, (item, probability) in enumerate(shown)
            )
            shared, _, actions = head.partition("\n")
            cost = -rewards[row].sum()
            text = f"slates shared {cost:.9g} {shared.removeprefix('slates shared ')}\n{actions}"
            learn_raw(reference, text + labels)
    probe = random_observation(np.random.default_rng(99), n_requests=8, slate_size=2)
    assert_slates_marginals_are_vws(policy, reference, probe)


def test_a_line_is_kept_when_seen_again_until_the_cache_is_full(monkeypatch):
    policy = VowpalWabbit(rng=np.random.default_rng(0))
    parsed = ParsedActions("ccb")
    lines = ["ccb action |d 1 |i 0:0.5", "ccb action |d 2 |i 0:-1"]
    assert parsed(policy.workspace_, lines) == (lines, 2)  # first seen: parsed with the request
    kept, fresh = parsed(policy.workspace_, lines[::-1])
    assert fresh == 0 and not any(isinstance(example, str) for example in kept)
    again, _ = parsed(policy.workspace_, lines)
    assert all(a is b for a, b in zip(again, kept[::-1], strict=True))
    other = VowpalWabbit(rng=np.random.default_rng(1)).workspace_
    assert parsed(other, lines[:1]) == (lines[:1], 1)  # another workspace starts again
    monkeypatch.setattr("policies.vw_requests.MAX_PARSED_ACTIONS", 1)
    parsed(other, lines)
    actions, fresh = parsed(other, lines)
    assert fresh == 1 and not isinstance(actions[0], str) and actions[1] == lines[1]
    assert parsed(other, lines)[0][0] is actions[0]  # a full cache keeps what it has


def request_texts(obs, parsed, workspace):
    """Each request's shared line and actions (kept examples or lines), and its head text."""
    heads = RequestHeads()
    return [(shared, parsed(workspace, lines)) for shared, lines in heads.parts(obs)], heads(obs)


def test_a_batch_parsed_in_one_call_predicts_and_learns_as_each_text_alone(monkeypatch):
    """Shared, fresh action and slot lines of many requests go to VW in one parse (in
    chunks of at most MAX_PARSED_LINES lines, a longer request alone); each request,
    whatever its slots and its mix of kept and fresh actions, predicts and learns exactly as
    its own text parsed alone."""
    monkeypatch.setattr("policies.vw_requests.MAX_PARSED_LINES", 7)
    policy = VowpalWabbit(explore="softmax", rng=np.random.default_rng(0))
    workspace, reference = policy.workspace_, new_workspace(policy.command_line())
    parsed = ParsedActions("ccb")
    costs = np.random.default_rng(5)

    def batch(seed):
        obs = random_observation(np.random.default_rng(seed), n_requests=8, max_candidates=6,
                                 slate_size=2)  # fmt: skip
        requests, heads = request_texts(obs, parsed, workspace)
        return obs.n_candidates.tolist(), requests, heads

    mixes = set()
    for seeds in ([0], [0], [2], [3], [0, 4]):  # seed 0 kept by the second time; 2, 3 share
        parts = [batch(seed) for seed in seeds]  # some of its items; [0, 4]: kept, then fresh
        counts, requests, heads = ([*itertools.chain(*lists)] for lists in zip(*parts, strict=True))
        mixes |= {(fresh == 0, fresh == len(actions)) for _, (actions, fresh) in requests}
        taken = [[] if row % 2 else [n - 1] for row, n in enumerate(counts)]
        slots = [predict_slots(held) for held in taken]
        want = [
            predict_raw(reference, head + slot) for head, slot in zip(heads, slots, strict=True)
        ]
        assert predict_requests(workspace, requests, slots) == want
        labelled = [learn_slots(np.array([n - 2, 0]), -costs.random(2), np.array([0.3, 0.6]))
                    for n in counts]  # fmt: skip
        learn_requests(workspace, requests, labelled)
        for head, slot in zip(heads, labelled, strict=True):
            learn_raw(reference, head + slot)
    assert mixes == {(True, False), (False, True), (False, False)}  # kept, fresh, mixed
    probe = random_observation(np.random.default_rng(99), n_requests=8, slate_size=1)
    for row, head in enumerate(request_heads(probe)):
        want = slot_distribution(reference, head, [])
        got = policy.candidate_position_probability(probe)[row, : want.size, 0]
        np.testing.assert_array_equal(got, want)


def test_learning_a_batch_labels_each_last_slot_then_finishes_every_request():
    policy = VowpalWabbit(rng=np.random.default_rng(0))
    workspace, reference = policy.workspace_, new_workspace(policy.command_line())
    obs = random_observation(np.random.default_rng(0), n_requests=5, slate_size=1)
    requests, heads = request_texts(obs, ParsedActions("ccb"), workspace)
    examples = RequestExamples(workspace, requests, [predict_slots([])] * 5)
    examples.predict()
    labels = [slot_label(0, -1.0, 0.5), *[slot_label(1, 0.0, 0.25)] * 4]
    examples.learn(labels)
    assert examples.parsed == []
    examples.finish()  # nothing left: a no-op
    for head, label in zip(heads, labels, strict=True):
        learn_raw(reference, f"{head}\n{label} {SLOT_TAG}|s p0")
    for head in heads:
        np.testing.assert_array_equal(slot_distribution(reference, head, []),
                                      normalised_pmf(predict_raw(workspace, head +
                                                                 predict_slots([]))[-1],
                                                     head.count("\n")))  # fmt: skip


def test_a_line_that_is_not_one_example_is_refused():
    policy = VowpalWabbit(rng=np.random.default_rng(0))
    workspace = policy.workspace_
    obs = random_observation(np.random.default_rng(0), n_requests=2, slate_size=1)
    requests, _ = request_texts(obs, ParsedActions("ccb"), workspace)
    broken = [(requests[0][0] + "\nccb shared |u 0:1", requests[0][1]), requests[1]]
    expected = sum(2 + fresh for _, (_, fresh) in requests)  # shared, fresh lines, slot
    message = f"VW parsed {expected + 1} examples from the lines of 2 requests, {expected} exp"
    with pytest.raises(ValueError, match=message):
        RequestExamples(workspace, broken, [predict_slots([])] * 2)
    assert predict_requests(workspace, requests, [predict_slots([])] * 2)  # VW still works


def test_the_garbage_collector_is_paused_only_while_a_batch_runs():
    seen = []

    @collection_paused
    def batch(fail=False):
        seen.append(gc.isenabled())
        if fail:
            raise RuntimeError("VW failed")
        return 7

    assert gc.isenabled()
    assert batch() == 7 and seen == [False] and gc.isenabled()
    with pytest.raises(RuntimeError, match="VW failed"):
        batch(fail=True)
    assert gc.isenabled()
    gc.disable()
    try:
        batch()
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()


def test_requests_are_parsed_in_runs_of_at_most_max_parsed_lines(monkeypatch):
    monkeypatch.setattr("policies.vw_requests.MAX_PARSED_LINES", 7)
    kept, fresh = ([object()], 0), (["ccb action |d 1", "ccb action |d 2"], 2)
    one, two = predict_slots([]), predict_slots([0])  # 1 and 2 slot lines
    requests = [("s", kept), ("s", kept), ("s", fresh), ("s", kept), ("s", fresh)]
    slots = [one, two, one, one, two]  # lines: 2, 3, 4, 2, 5
    assert list(_chunks(requests, slots)) == [slice(0, 2), slice(2, 4), slice(4, 5)]
    assert list(_chunks(requests[:1], ["\n" * 9])) == [slice(0, 1)]  # too long: alone
    assert list(_chunks([], [])) == []


def test_probabilities_of_a_batch_parse_at_most_max_parsed_lines_at_a_time(monkeypatch):
    """Asking a policy for probabilities (nothing kept for learning) parses its requests in
    runs of at most MAX_PARSED_LINES lines: VW holds the memory of every example it parses,
    so a whole large batch parsed at once would stay in memory. The answers are those of
    one parse per batch."""
    policy = VowpalWabbit(explore="epsilon", rng=np.random.default_rng(0))
    for obs in batches(1, count=2):
        policy.update(obs, policy.act(obs), SlateFeedback(np.ones((obs.n_requests, 1))))
    obs = next(batches(1, count=1, n_requests=40))
    slates = policy.act(obs).slates
    whole = policy.slate_probability(obs, slates)
    calls: list[tuple[int, int]] = []  # (lines parsed, requests) per call
    original = RequestExamples.__init__

    def spy(self, workspace, requests, slots):
        lines = sum(1 + actions[1] + slot.count("\n")
                    for (_, actions), slot in zip(requests, slots, strict=True))  # fmt: skip
        calls.append((lines, len(requests)))
        original(self, workspace, requests, slots)

    monkeypatch.setattr("policies.vw_requests.MAX_PARSED_LINES", 7)
    monkeypatch.setattr(RequestExamples, "__init__", spy)
    np.testing.assert_array_equal(policy.slate_probability(obs, slates), whole)
    assert len(calls) > 1 and all(lines <= 7 or count == 1 for lines, count in calls), calls
