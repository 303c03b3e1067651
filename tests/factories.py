"""Random but valid kernel objects for tests (no simulator, no policies)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation

CATALOGUE_SIZE = 1000


def random_observation(
    rng: np.random.Generator,
    *,
    n_requests: int = 6,
    max_candidates: int = 5,
    slate_size: int = 2,
    n_context: int = 3,
    n_item: int = 2,
    history_length: int = 3,
    min_candidates: int | None = None,
) -> SlateObservation:
    """Requests with between ``min_candidates`` (default slate_size) and max_candidates each,
    drawn from a fixed catalogue of ``CATALOGUE_SIZE`` items with normal features, the same
    for every call with the same ``n_item`` (so tables can be concatenated); only the items
    that appear are kept in the item table."""
    low = slate_size if min_candidates is None else min_candidates
    counts = rng.integers(low, max_candidates + 1, size=n_requests)
    mask = np.arange(max_candidates) < counts[:, None]
    distinct = np.argsort(rng.random((n_requests, CATALOGUE_SIZE)), axis=1)[:, :max_candidates]
    ids = np.where(mask, distinct, PAD_ID)
    catalogue = np.random.default_rng(n_item).normal(size=(CATALOGUE_SIZE, n_item))
    shown = np.unique(ids[mask])
    items = ItemTable(shown, catalogue[shown])
    depth = rng.integers(0, history_length + 1, size=n_requests)
    history = np.where(
        np.arange(history_length) < depth[:, None],
        rng.integers(0, 1000, size=(n_requests, history_length)),
        PAD_ID,
    )
    return SlateObservation(
        context=rng.normal(size=(n_requests, n_context)),
        candidate_ids=ids,
        n_candidates=counts,
        slate_size=slate_size,
        history=history,
        request_ids=np.arange(n_requests),
        user_ids=rng.integers(-1, 50, size=n_requests),
        times=rng.integers(0, 100, size=n_requests),
        items=items,
    )


def explicit_observation(context, items, n_candidates=None, slate_size=1) -> SlateObservation:
    """An observation from explicit context (n, c) and item features (n, m, p); candidate j of
    every row is item j (so its features must be the same in every row)."""
    context, items = np.asarray(context, float), np.asarray(items, float)
    n, m, _ = items.shape
    counts = np.full(n, m) if n_candidates is None else np.asarray(n_candidates)
    mask = np.arange(m) < counts[:, None]
    return SlateObservation.from_mapping(
        {
            "context": context,
            "candidate_ids": np.where(mask, np.arange(m), -1),
            "candidate_features": items * mask[:, :, None],
            "n_candidates": counts,
            "slate_size": slate_size,
            "history": np.full((n, 1), -1),
            "request_ids": np.arange(n),
            "user_ids": np.arange(n),
            "times": np.zeros(n, dtype=np.int64),
        }
    )


def random_log(rng: np.random.Generator, *, signals: bool = True, **shape: int) -> LoggedBandit:
    """A valid logged table: random slates, probabilities in (0, 1], 0/1 rewards."""
    obs = random_observation(rng, **shape)
    keys = rng.random((obs.n_requests, obs.max_candidates))
    keys[~obs.candidate_mask] = np.inf
    slates = np.argsort(keys, axis=1)[:, : obs.slate_size]
    shape2 = (obs.n_requests, obs.slate_size)
    slate_probability = rng.uniform(0.01, 1.0, obs.n_requests)
    position_probability = rng.uniform(slate_probability[:, None], 1.0, shape2)
    decision = SlateDecision(slates, slate_probability, position_probability)
    rewards = rng.integers(0, 2, size=shape2).astype(float)
    extra = {"click": rewards.copy(), "watch_time": rng.exponential(size=shape2)} if signals else {}
    names = rng.choice(["uniform", "linucb:alpha=1"], size=obs.n_requests)
    return LoggedBandit(obs, decision, SlateFeedback(rewards, extra), names)


def uniform_log(seed: int, n: int) -> LoggedBandit:
    """``random_log``'s requests (``n`` of them, up to 5 candidates, slates of 2) relabelled
    as logged by a uniform-random policy, with its exact probabilities."""
    from policies import UniformRandom

    log = random_log(np.random.default_rng(seed), n_requests=n, max_candidates=5, slate_size=2)
    uniform = UniformRandom(rng=np.random.default_rng(0))
    obs = log.observation
    decision = SlateDecision(
        log.slates,
        uniform.slate_probability(obs, log.slates),
        uniform.position_probability(obs, log.slates),
    )
    return LoggedBandit(obs, decision, log.feedback, "uniform")


def assert_logs_equal(left: LoggedBandit, right: LoggedBandit) -> None:
    """Every column of two tables is equal (shapes, dtypes and values), candidates and
    histories compared up to the longest row (padding beyond it is not part of the data)."""
    assert left.slate_size == right.slate_size
    assert len(left) == len(right)
    assert (left.decision.candidate_position_probability is None) == (
        right.decision.candidate_position_probability is None
    )
    width = int(left.observation.n_candidates.max(initial=0))
    pairs = [(left.policy_names, right.policy_names)]
    for part in ("observation", "decision", "feedback"):
        a, b = getattr(left, part), getattr(right, part)
        pairs += [
            (_trimmed(a, f.name, width), _trimmed(b, f.name, width))
            for f in fields(a)
            if f.name not in ("signals", "items", "_checked_for") and getattr(a, f.name) is not None
        ]
    pairs.append((_trimmed(left.observation, "candidate_features", width),
                  _trimmed(right.observation, "candidate_features", width)))  # fmt: skip
    for a, b in pairs:
        a, b = np.asarray(a), np.asarray(b)
        # numpy's str width is not a property of the column, only its kind is
        assert a.dtype == b.dtype or a.dtype.kind == b.dtype.kind == "U"
        np.testing.assert_array_equal(a, b)
    assert left.feedback.signals.keys() == right.feedback.signals.keys()
    for name in left.feedback.signals:
        np.testing.assert_array_equal(left.feedback.signals[name], right.feedback.signals[name])


def _trimmed(part, name: str, width: int) -> np.ndarray:
    """A column with candidate padding cut to ``width`` and history padding to the longest
    real history."""
    value = np.asarray(getattr(part, name))
    if name == "history":
        return value[:, : int((value != PAD_ID).sum(axis=1).max(initial=0))]
    if name in ("candidate_ids", "candidate_features", "candidate_position_probability"):
        return value[:, :width]
    return value
