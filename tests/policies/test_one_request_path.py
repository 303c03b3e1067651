"""One request at a time: the short paths (``GreedyPolicy.act`` for one request and one
position, ``DisjointRidge`` scoring and learning one request) make the same choices with the
same probabilities as the batch paths, and leave the same model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.models import disjoint as disjoint_module
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputValueError
from policies.base import BasePolicy, GreedyPolicy
from policies.lints import LinTS
from policies.linucb import LinUCB

N_ITEMS = 7
ROUNDS = 400


def requests(seed: int, n_context: int, slate_size: int) -> list[SlateObservation]:
    """One-request observations over a catalogue of ``N_ITEMS``: varying candidate sets
    (padded to 6), the same set repeated now and then."""
    rng = np.random.default_rng(seed)
    items = ItemTable(np.arange(N_ITEMS) * 10, np.zeros((N_ITEMS, 0)))
    out, ids = [], np.arange(6) * 10
    for t in range(ROUNDS):
        if t % 3 == 0:  # a new candidate set, sometimes shorter than the width
            n = int(rng.integers(max(slate_size, 3), 7))
            ids = np.full(6, PAD_ID)
            ids[:n] = rng.choice(N_ITEMS, n, replace=False) * 10
        out.append(
            SlateObservation(
                context=rng.normal(size=(1, n_context)),
                candidate_ids=ids[None].copy(),
                n_candidates=np.array([np.count_nonzero(ids != PAD_ID)]),
                slate_size=slate_size,
                history=np.full((1, 1), PAD_ID),
                request_ids=np.array([t]),
                user_ids=np.array([t]),
                times=np.array([t]),
                items=items,
            )
        )
    return out


def play(policy: BasePolicy, stream: list[SlateObservation], off_policy: bool) -> list:
    """Act and learn request by request (rewards from a fixed linear truth per item); the
    decisions made, and the model's means and widths on the last request."""
    truth = np.random.default_rng(99).normal(size=(N_ITEMS, stream[0].n_context_features))
    noise = np.random.default_rng(98)
    decisions: list[SlateDecision] = []
    for obs in stream:
        decision = policy.act(obs)
        shown = np.take_along_axis(obs.candidate_ids, decision.slates, axis=1) // 10
        rewards = np.einsum("d,kd->k", obs.context[0], truth[shown[0]])[None]
        feedback = SlateFeedback(rewards + noise.normal(scale=0.3, size=rewards.shape))
        if off_policy:
            policy.learn_off_policy(obs, decision, feedback, clip=50.0)  # type: ignore[attr-defined]
        else:
            policy.update(obs, decision, feedback)
        decisions.append(decision)
    model = policy.model_  # type: ignore[attr-defined]
    return [decisions, model.candidate_means(stream[-1]), model.candidate_widths(stream[-1])]


CASES = {
    "linucb, ties at random": (lambda: LinUCB(model="disjoint", rng=np.random.default_rng(1)), 1),
    "linucb, ties to the lower index": (lambda: LinUCB(model="disjoint"), 1),
    "linucb, greedy": (
        lambda: LinUCB(alpha=0.0, model="disjoint", rng=np.random.default_rng(2)),
        1,
    ),
    "linucb, slates of two": (lambda: LinUCB(model="disjoint", rng=np.random.default_rng(3)), 2),
    "linucb, candidates' rows gathered": (
        lambda: LinUCB(model="disjoint", rng=np.random.default_rng(5)),
        1,
    ),
    "lints": (
        lambda: LinTS(model="disjoint", probability_draws=20, rng=np.random.default_rng(4)),
        1,
    ),
}


@pytest.mark.parametrize("n_context", [3, 9])  # p = 4 re-inverts per row, p = 10 is rank-1
@pytest.mark.parametrize("off_policy", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_the_short_paths_choose_as_the_batch_paths(monkeypatch, case, n_context, off_policy):
    make, slate_size = CASES[case]
    stream = requests(7, n_context, slate_size)
    monkeypatch.setattr(disjoint_module, "REFRESH_EVERY", 25)  # refreshes happen on both paths
    if "gathered" in case:  # not every slot in use: only the candidates' rows
        monkeypatch.setattr(disjoint_module, "ALL_SLOTS_FACTOR", 0)
    short = play(make(), stream, off_policy)
    monkeypatch.setattr(disjoint_module, "ONE_REQUEST_PATHS", False)
    monkeypatch.setattr(GreedyPolicy, "act", BasePolicy.act)
    batch = play(make(), stream, off_policy)
    for mine, theirs in zip(short[0], batch[0], strict=True):
        np.testing.assert_array_equal(mine.slates, theirs.slates)
        np.testing.assert_array_equal(mine.slate_probability, theirs.slate_probability)
        np.testing.assert_array_equal(mine.position_probability, theirs.position_probability)
    probabilities = np.concatenate([d.slate_probability for d in short[0]])
    if case != "linucb, ties to the lower index":
        assert np.any(probabilities < 1.0)  # random ties (or draws) were exercised
    np.testing.assert_allclose(short[1], batch[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(short[2], batch[2], rtol=1e-9, atol=1e-12)


def test_a_short_path_decision_counts_as_checked_and_update_leaves_it_alone():
    stream = requests(8, 3, 1)
    policy = LinUCB(model="disjoint", rng=np.random.default_rng(0))
    obs = stream[0]
    decision = policy.act(obs)
    assert decision.slates.dtype == np.int64 and decision.slates.shape == (1, 1)
    assert decision.candidate_position_probability is None
    decision.check_against(obs)  # no error: it fits
    before = decision.slates.copy()
    policy.update(obs, decision, SlateFeedback(np.ones((1, 1))))
    np.testing.assert_array_equal(decision.slates, before)
    assert policy.model_.n_samples_ == 1


@pytest.mark.parametrize("factor", [0, 2])  # candidates' rows gathered, or every slot's
def test_disjoint_bounds_are_the_means_plus_scaled_widths_exactly(monkeypatch, factor):
    monkeypatch.setattr(disjoint_module, "ALL_SLOTS_FACTOR", factor)
    stream = requests(9, 9, 1)
    policy = LinUCB(model="disjoint", rng=np.random.default_rng(0))
    for obs in stream[:60]:
        policy.update(obs, policy.act(obs), SlateFeedback(np.ones((1, 1))))
    model = policy.model_
    for obs in stream[-20:]:
        expected = model.candidate_means(obs) + 1.7 * model.candidate_widths(obs)
        np.testing.assert_array_equal(model.candidate_bounds(obs, 1.7), expected)
    batch = SlateObservation.concat(stream[-20:])
    expected = model.candidate_means(batch) + 1.7 * model.candidate_widths(batch)
    np.testing.assert_array_equal(model.candidate_bounds(batch, 1.7), expected)


class GivenScores(GreedyPolicy):
    """Greedy over the scores it is handed for each request (shape (1, max_candidates))."""

    def __init__(self, rng: np.random.Generator | None) -> None:
        self.rng = rng
        self.next_scores = np.zeros((1, 0))

    def scores(self, obs: SlateObservation) -> np.ndarray:
        return self.next_scores


SCORE_ROWS = [
    [0.5, 0.2, 0.5, 0.1, 0.5, -1.0],  # a three-way tie at the top
    [0.0, -0.0, 0.0, -1.0, -2.0, -3.0],  # signed zeros tie
    [-np.inf, -np.inf, -np.inf, -np.inf, -np.inf, -np.inf],  # all tied at -inf
    [1.0, 2.0, np.inf, np.inf, 0.0, 3.0],
    [0.3, np.nan, 0.9, 0.1, 0.2, 0.4],  # NaN: the general path decides
    [np.nan] * 6,
    [0.1, 0.7, 0.7, 0.2, 9.0, 9.0],  # the best ones are padding when n = 4
    [0.4, 0.3, 0.2, 0.1, 0.0, -0.1],  # no tie
]


@pytest.mark.parametrize("seeded", [True, False])
def test_the_single_greedy_pick_matches_the_general_path_on_ties_and_odd_scores(seeded):
    stream = requests(10, 3, 1)
    rng = (lambda: np.random.default_rng(4)) if seeded else (lambda: None)
    short, general = GivenScores(rng()), GivenScores(rng())
    for t, obs in enumerate(stream[:160]):
        row = np.array(SCORE_ROWS[t % len(SCORE_ROWS)])[None]
        short.next_scores = general.next_scores = row
        mine, theirs = short.act(obs), BasePolicy.act(general, obs)
        np.testing.assert_array_equal(mine.slates, theirs.slates)
        np.testing.assert_array_equal(mine.slate_probability, theirs.slate_probability)
        np.testing.assert_array_equal(mine.position_probability, theirs.position_probability)
    if seeded:  # the acting streams stayed in step
        assert short.rng.random() == general.rng.random()  # type: ignore[union-attr]


def test_the_one_request_scratch_refuses_another_width_and_is_not_pickled():
    stream, wider = requests(11, 3, 1), requests(12, 4, 1)
    policy = LinUCB(model="disjoint", rng=np.random.default_rng(6))
    for obs in stream[:30]:  # the one-request paths' scratch arrays now exist
        policy.update(obs, policy.act(obs), SlateFeedback(np.ones((1, 1))))
    message = r"DisjointRidge learned from 3 context features; got requests with 4\."
    with pytest.raises(InputValueError, match=message):
        policy.act(wider[0])
    with pytest.raises(InputValueError, match=message):
        policy.model_.learn(wider[0], np.zeros((1, 1), dtype=np.int64), np.ones((1, 1)))
    copy = pickle.loads(pickle.dumps(policy))
    assert copy.model_._request_buffers is None
    for obs in stream[30:90]:  # the copy continues exactly as the original
        mine, theirs = policy.act(obs), copy.act(obs)
        np.testing.assert_array_equal(mine.slates, theirs.slates)
        feedback = SlateFeedback(obs.context[:, :1])
        policy.update(obs, mine, feedback)
        copy.update(obs, theirs, feedback)
    np.testing.assert_array_equal(policy.model_._theta, copy.model_._theta)
