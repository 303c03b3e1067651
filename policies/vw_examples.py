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

Text lines are faster than VW's typed ``Example`` objects: on 20 candidates with 5 context and
5 item features ``benchmarks/bench_vw.py`` measured 7,650 predictions/s from text against
5,288 from typed examples (the README has the run).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation

NAMESPACES = {"u": "context", "i": "item features", "d": "item id", "s": "position"}
"""The namespaces of the examples, by the letter interactions name them with."""

SLOT_TAG = "'seed=0"
"""Tag of every slot line: VW samples from this seed instead of its random state."""


def _template(prefix: str, n_features: int) -> str:
    return prefix + "".join(f" {j}:%.9g" for j in range(n_features))


def request_heads(obs: SlateObservation) -> list[list[str]]:
    """The shared line and the action lines of every request (slots are added per call).

    Values are written with 9 significant digits, which VW's 32-bit floats read back exactly.

    Returns
    -------
    list of n_requests lists of 1 + n_candidates[i] str
    """
    shared = _template("ccb shared |u", obs.n_context_features)
    action = _template("ccb action |d %d |i", obs.n_item_features)
    ids, features = obs.candidate_ids, obs.candidate_features
    heads = []
    for row, context in enumerate(obs.context.tolist()):
        n = int(obs.n_candidates[row])
        values = np.column_stack([ids[row, :n], features[row, :n]]).tolist()
        heads.append([shared % tuple(context), *(action % (int(v[0]), *v[1:]) for v in values)])
    return heads


def predict_lines(head: list[str], taken: Sequence[int]) -> list[str]:
    """``head`` with slots held to the candidates ``taken`` and one free slot after them,
    whose prediction is the distribution of the next position."""
    held = [f"ccb slot {item} {SLOT_TAG}|s p{j}" for j, item in enumerate(taken)]
    return [*head, *held, f"ccb slot {SLOT_TAG}|s p{len(taken)}"]


def learn_lines(
    head: list[str],
    slate: NDArray[np.int64],
    costs: NDArray[np.float64],
    probabilities: NDArray[np.float64],
) -> list[str]:
    """``head`` with one labelled slot per position: the shown candidate, its cost and the
    probability it had in that slot given the slots above."""
    labels = zip(slate.tolist(), costs.tolist(), probabilities.tolist(), strict=True)
    slots = [
        f"ccb slot {item}:{cost:.9g}:{probability:.9g} {SLOT_TAG}|s p{j}"
        for j, (item, cost, probability) in enumerate(labels)
    ]
    return [*head, *slots]
