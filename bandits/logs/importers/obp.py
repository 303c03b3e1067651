"""obp's ``bandit_feedback`` (a dict of arrays) from a bandits log, and back.

obp (Open Bandit Pipeline) has no per-request candidate sets and one round per shown item, so
a log of ``n_requests`` slates of ``slate_size`` becomes ``n_rounds = n_requests *
slate_size`` rounds, request by request, positions in order:

=================  ==========================================================================
``n_rounds``       int
``n_actions``      int: the items of the log's item table
``action``         int64 (n_rounds,): the shown item's row in ``action_context``
``position``       int64 (n_rounds,): 0-based position
``reward``         float64 (n_rounds,)
``pscore``         float64 (n_rounds,): the logger's probability of the item at its position
``context``        float64 (n_rounds, n_context_features), repeated over a request's positions
``action_context`` float64 (n_actions, n_item_features)
``item_ids``       int64 (n_actions,): not obp's; the log's item id of each action
=================  ==========================================================================

:func:`from_obp` reads such a dict back: one request per round (``slate_size=1``) or, with
``slate_size=k``, one request per block of ``k`` consecutive rounds at positions ``0..k-1`` with
one context. Every action is a candidate of every request (obp has no candidate sets), and
the slate probability, which obp does not carry, is the product of the pscores (exact when the
positions were drawn independently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputValueError, as_array, check_integer, check_shape

KEYS = ("n_rounds", "n_actions", "action", "position", "reward", "pscore", "context",
        "action_context")  # fmt: skip
"""The keys obp's ``bandit_feedback`` has (and :func:`to_obp` writes)."""


def to_obp(log: LoggedBandit) -> dict[str, Any]:
    """The log as obp's ``bandit_feedback`` dict (see the module docstring)."""
    obs, k = log.observation, log.slate_size
    shown_ids = np.take_along_axis(obs.candidate_ids, log.slates, axis=1)
    action = np.searchsorted(obs.items.ids, shown_ids).reshape(-1)
    return {
        "n_rounds": int(len(log) * k),
        "n_actions": obs.items.n_items,
        "action": action.astype(np.int64),
        "position": np.tile(np.arange(k, dtype=np.int64), len(log)),
        "reward": log.rewards.reshape(-1).copy(),
        "pscore": log.decision.position_probability.reshape(-1).copy(),
        "context": np.repeat(obs.context, k, axis=0),
        "action_context": obs.items.features.copy(),
        "item_ids": obs.items.ids.copy(),
    }


def from_obp(
    feedback: Mapping[str, Any], *, slate_size: int = 1, policy: str = "obp"
) -> LoggedBandit:
    """A log from obp's ``bandit_feedback`` (see the module docstring); ``time`` and
    ``request_id`` are the request's number."""
    k = check_integer(slate_size, "slate_size", "from_obp", low=1)
    missing = [key for key in KEYS if key not in feedback]
    if missing:
        raise InputValueError(f"the bandit_feedback dict lacks the key(s) {missing}.")
    n_rounds = check_integer(feedback["n_rounds"], "n_rounds", "bandit_feedback", low=0)
    action = _column(feedback, "action", np.int64, n_rounds)
    position = _column(feedback, "position", np.int64, n_rounds)
    reward = _column(feedback, "reward", np.float64, n_rounds)
    pscore = _column(feedback, "pscore", np.float64, n_rounds)
    context = as_array(feedback["context"], "'context' of bandit_feedback", np.float64, 2)
    check_shape(context, (n_rounds, None), "'context' of bandit_feedback")
    features = as_array(
        feedback["action_context"], "'action_context' of bandit_feedback", np.float64, 2
    )
    n_actions = features.shape[0]
    ids = np.asarray(feedback.get("item_ids", np.arange(n_actions)), dtype=np.int64)
    check_shape(ids, (n_actions,), "'item_ids' of bandit_feedback")
    if n_rounds % k:
        raise InputValueError(f"{n_rounds} rounds do not make slates of {k} positions.")
    n = n_rounds // k
    blocks = position.reshape(n, k) != np.arange(k)
    if blocks.any():
        row = int(np.flatnonzero(blocks.reshape(-1))[0])
        raise InputValueError(
            f"round {row} of bandit_feedback is at position {position[row]}; slates of {k} "
            f"need rounds in blocks at positions 0..{k - 1}."
        )
    first = context[::k]
    differs = (context.reshape(n, k, -1) != first[:, None, :]).any(axis=(1, 2))
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        raise InputValueError(
            f"rounds {row * k} to {row * k + k - 1} of bandit_feedback form one slate but their "
            f"contexts differ."
        )
    bad = (action < 0) | (action >= n_actions)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputValueError(
            f"'action' of bandit_feedback must be from 0 to {n_actions - 1}; round {row} is "
            f"{action[row]}."
        )
    order = np.argsort(ids)
    candidate_ids = np.broadcast_to(ids[order], (n, n_actions)).copy()
    rank = np.empty(n_actions, dtype=np.int64)
    rank[order] = np.arange(n_actions)
    position_p = pscore.reshape(n, k)
    observation = SlateObservation(
        context=first,
        candidate_ids=candidate_ids,
        n_candidates=np.full(n, n_actions),
        slate_size=k,
        history=np.full((n, 0), PAD_ID, dtype=np.int64),
        request_ids=np.arange(n),
        user_ids=np.full(n, PAD_ID),
        times=np.arange(n),
        items=ItemTable(ids, features),
    )
    decision = SlateDecision(rank[action].reshape(n, k), position_p.prod(axis=1), position_p)
    return LoggedBandit(
        observation, decision, SlateFeedback(reward.reshape(n, k)), np.full(n, policy)
    )


def _column(feedback: Mapping[str, Any], key: str, dtype: type, n_rounds: int) -> NDArray[Any]:
    label = f"{key!r} of bandit_feedback"
    values = as_array(feedback[key], label, dtype, 1)
    check_shape(values, (n_rounds,), label)
    return values
