"""Requests as VW conditional-contextual-bandit examples in VW's text format.

One request is a multi-line example: a shared line with the context, one action line per
candidate with its item features and its item id, then one line per slot:

    ccb shared |u 0:0.5 1:-1.25
    ccb action |d 17 |i 0:0.3 1:2
    ccb action |d 42 |i 0:-0.7 1:0.1
    ccb slot 1 'seed=0|s p0          (a slot held to candidate 1)
    ccb slot 'seed=0|s p1            (the slot VW predicts)
    ccb slot 0:-1:0.25 'seed=0|s p1  (to learn: candidate 0 shown, cost -1, probability 0.25)

Namespaces: ``u`` context, ``i`` item features, ``d`` item id, ``s`` the position (so
interactions such as ``ui`` read "context x item"). Every slot carries the tag ``seed=0``: VW
then samples its own (unused) choice from that fixed seed instead of advancing its random
state, so predicting leaves the workspace as it was (bagging draws its bootstrap weights from
that state when learning).

VW parses these lines itself. The policies parse an item's action line once and reuse the
example (:mod:`policies.vw_requests`); only the shared and slot lines are parsed per request.
Both beat VW's typed ``Example`` objects built per request (``benchmarks/bench_vw.py``
prints the three side by side; the README has the run).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bandits.items import ItemTable
from bandits.observation import SlateObservation

NAMESPACES = {"u": "context", "i": "item features", "d": "item id", "s": "position"}
"""The namespaces of the examples, by the letter interactions name them with."""

SLOT_TAG = "'seed=0"
"""Tag of every slot line: VW samples from this seed instead of its random state."""


def _template(prefix: str, n_features: int) -> str:
    return prefix + "".join(f" {j}:%.9g" for j in range(n_features))


MAX_CACHED_LINES = 100_000
"""Most items whose formatted features :class:`RequestHeads` keeps (about 10 MB of text at 5
features); beyond it the cache starts again."""


class RequestHeads:
    """Builds requests' heads (the shared line and the action lines, one text per request),
    formatting each item's features once per item table and reusing them after that.

    ``kind`` is the label word of VW's reduction: ``"ccb"`` (``ccb action |d 17 |i ...``) or
    ``"slates"``, whose action lines name the slot the candidate belongs to: candidate ``j``
    of a request with slates of ``k`` goes to slot ``j mod k`` (``slates action 2 |d 17 |i
    ...``), and the lines are listed slot by slot, so the ``i``-th action of slot ``p`` is
    candidate ``p + i k``. Values are written with 9 significant digits, which VW's 32-bit
    floats read back exactly. The lines of one item table are kept until a request comes with
    another table (only a weak reference to the table is held) or more than
    :data:`MAX_CACHED_LINES` are kept.
    """

    def __init__(self, kind: str = "ccb") -> None:
        self.kind = kind
        self._table: weakref.ref[ItemTable] | None = None
        self._lines: dict[int, str] = {}  # item table row -> its action line (or its features)

    def __call__(self, obs: SlateObservation) -> list[str]:
        """The head of every request: ``1 + n_candidates[i]`` lines joined by newlines.

        Returns
        -------
        list of n_requests str
        """
        return ["\n".join([shared, *actions]) for shared, actions in self.parts(obs)]

    def parts(self, obs: SlateObservation) -> list[tuple[str, list[str]]]:
        """Every request's shared line and its action lines (``n_candidates[i]`` of them,
        in the order VW reads them), shape (n_requests,) of pairs. A ``"ccb"`` request's
        action lines are the cached strings themselves, so the same item gives the same
        object."""
        items = obs.items
        if self._table is None or self._table() is not items or len(self._lines) > MAX_CACHED_LINES:
            self._table, self._lines = weakref.ref(items), {}
        lines = self._lines
        rows, counts = obs.candidate_rows.tolist(), obs.n_candidates.tolist()
        shared = _template(f"{self.kind} shared |u", obs.n_context_features)
        # one format for the whole batch: every shared line, then split at the newlines
        batch = "\n".join([shared] * obs.n_requests) % tuple(obs.context.ravel().tolist())
        shared_lines = batch.split("\n") if obs.n_requests else []
        if self.kind == "ccb":

            def action_lines() -> list[list[str]]:
                pairs = zip(rows, counts, strict=True)
                return [list(map(lines.__getitem__, row[:n])) for row, n in pairs]

            try:  # every item's line made already (items seen before)
                actions = action_lines()
            except KeyError:
                self._add_lines(obs)
                actions = action_lines()
            return list(zip(shared_lines, actions, strict=True))
        self._add_lines(obs)
        k = obs.slate_size
        parts = []
        for line, row, n in zip(shared_lines, rows, counts, strict=True):
            dealt = [(j % k, row[j]) for j in _slot_order(n, k)]  # VW wants slots grouped
            parts.append((line, [f"slates action {slot} {lines[item]}" for slot, item in dealt]))
        return parts

    def _add_lines(self, obs: SlateObservation) -> None:
        """Make the action line (for slates, the features) of every candidate item of
        ``obs`` that has none yet."""
        items, lines = obs.items, self._lines
        missing = set(obs.candidate_rows[obs.candidate_mask].tolist()).difference(lines)
        if missing:
            prefix = "ccb action " if self.kind == "ccb" else ""
            action = _template(prefix + "|d %d |i", items.n_item_features)
            for row in missing:
                lines[row] = action % (int(items.ids[row]), *items.features[row].tolist())


def _slot_order(n: int, k: int) -> list[int]:
    """Candidates ``0..n-1`` dealt to ``k`` slots (candidate ``j`` to slot ``j mod k``) and
    listed slot by slot: VW's slates number a slot's actions from its first action line on,
    so each slot's lines must be consecutive."""
    return [j for slot in range(k) for j in range(slot, n, k)]


def request_heads(obs: SlateObservation, kind: str = "ccb") -> list[str]:
    """The head of every request of ``obs`` (see :class:`RequestHeads`), shape
    (n_requests,) of str."""
    return RequestHeads(kind)(obs)


def predict_slots(taken: Sequence[int]) -> str:
    """The slot lines of a prediction, each after a newline: slots held to the candidates
    ``taken`` and one free slot after them, whose prediction is the distribution of the next
    position."""
    held = "".join(f"\nccb slot {item} {SLOT_TAG}|s p{j}" for j, item in enumerate(taken))
    return f"{held}\nccb slot {SLOT_TAG}|s p{len(taken)}"


def predict_text(head: str, taken: Sequence[int]) -> str:
    """``head`` followed by :func:`predict_slots` of ``taken``."""
    return head + predict_slots(taken)


SLOT_LABEL = "ccb slot %d:%.9g:%.9g"
"""A labelled slot: the shown candidate, its cost and its probability there (9 significant
digits, which VW's 32-bit floats read back exactly)."""


def slot_label(item: int, cost: float, probability: float) -> str:
    """The label of a slot that showed candidate ``item`` with ``cost`` and the
    ``probability`` it had there given the slots above."""
    return SLOT_LABEL % (item, cost, probability)


def slot_labels(
    items: NDArray[np.int64], costs: NDArray[np.float64], probabilities: NDArray[np.float64]
) -> list[str]:
    """:func:`slot_label` of every request: arrays of shape (n_requests,), a list of
    n_requests str."""
    values = np.stack([items, costs, probabilities], axis=-1).tolist()
    return [SLOT_LABEL % tuple(row) for row in values]


def learn_slots(
    slate: NDArray[np.int64], costs: NDArray[np.float64], probabilities: NDArray[np.float64]
) -> str:
    """One labelled slot line per position, each after a newline: the shown candidate, its
    cost and the probability it had in that slot given the slots above."""
    return learn_slots_of_batch(slate[None], costs[None], probabilities[None])[0]


def learn_slots_of_batch(
    slates: NDArray[np.int64], costs: NDArray[np.float64], probabilities: NDArray[np.float64]
) -> list[str]:
    """:func:`learn_slots` of every request: arrays of shape (n_requests, slate_size), a
    list of n_requests str (one format per request, the numbers as :func:`slot_label`
    writes them)."""
    template = "".join(f"\n{SLOT_LABEL} {SLOT_TAG}|s p{j}" for j in range(slates.shape[1]))
    values = np.stack([slates, costs, probabilities], axis=-1).reshape(len(slates), -1)
    return [template % tuple(row) for row in values.tolist()]


def learn_text(
    head: str,
    slate: NDArray[np.int64],
    costs: NDArray[np.float64],
    probabilities: NDArray[np.float64],
) -> str:
    """``head`` followed by :func:`learn_slots`."""
    return head + learn_slots(slate, costs, probabilities)
