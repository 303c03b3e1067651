"""Off-policy learning: a policy learns from another policy's log, streamed.

This is the work behind ``bandits learn``, callable from Python. The policy must be an
:class:`~bandits.policy.OffPolicyLearner`: it corrects for the logger's choices with the
logged probabilities (VW through its ``--cb_type``, the linear policies by an
importance-weighted ridge fit), unlike :func:`bandits.run.replay_updates`, which feeds the
rows to ``update`` as if the policy had chosen them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.logs import DEFAULT_BATCH_BYTES
from bandits.logs.source import LogSource, RowRange, split_rows
from bandits.policy import OffPolicyLearner, Policy
from bandits.run.replay import REPLAY_BATCH_SIZE
from bandits.validation import (
    InputError,
    InputTypeError,
    InputValueError,
    check_integer,
    check_real,
    renumber_rows,
)


class LearnResult(NamedTuple):
    """What :func:`learn_from_log` learned from and left out.

    Attributes
    ----------
    n_learned : int
        Rows learned from.
    n_held_out : int
        Rows of the chosen range not learned from (the newest ``1 - train_fraction``).
    held_out : (int, int) or None
        The held-out rows as a range ``(start, stop)`` when they are one (``--rows START:END``
        of ``bandits evaluate``), else None.
    """

    n_learned: int
    n_held_out: int
    held_out: tuple[int, int] | None


def learn_from_log(
    log: LoggedBandit | str | os.PathLike[str],
    policy: Policy,
    *,
    rows: RowRange | None = None,
    train_fraction: float = 1.0,
    clip: float = math.inf,
    batch_size: int = REPLAY_BATCH_SIZE,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    on_rows: Callable[[int], None] | None = None,
) -> LearnResult:
    """Let ``policy`` learn off-policy from the rows of ``log``, in row order.

    Parameters
    ----------
    log : LoggedBandit or path-like
        Logged decisions with their logger's probabilities (checked when read: a missing
        probability column or a probability outside (0, 1] is refused).
    policy : Policy
        An :class:`~bandits.policy.OffPolicyLearner`; learns in place
        (``learn_off_policy``), others are refused.
    rows : (start, stop), optional
        Only these rows (file order, half-open, as a Python slice); default all.
    train_fraction : float in (0, 1]
        Learn from the oldest share of those rows (by time, ties by row order), holding out
        the rest.
    clip : float >= 1 or inf
        Largest importance weight (``1 / logged probability``) a row may have.
    batch_size : int
        Rows per ``learn_off_policy`` call.
    batch_bytes : int
        Memory budget of a batch read from disk.
    on_rows : callable, optional
        Called with the number of rows learned after each batch.
    """
    if not isinstance(policy, OffPolicyLearner):
        raise InputTypeError(
            f"{getattr(policy, 'name', type(policy).__name__)} cannot learn off-policy (it has "
            f"no learn_off_policy); policies that can: vw, ridge-greedy, linucb, lints, and "
            f"epsilon-greedy or softmax over a linear base."
        )
    fraction = check_real(
        train_fraction, "train_fraction", "learn_from_log", low=0.0, high=1.0, low_open=True
    )
    batch_size = check_integer(batch_size, "batch_size", "learn_from_log", low=1)
    source = LogSource(log, batch_bytes)
    split = split_rows(source, rows, fraction)
    if split.n_train == 0:
        raise InputValueError(f"{source.label} leaves no rows to learn from.")
    for batch, numbers in source.batches(split.train):
        for start in range(0, len(batch), batch_size):
            chunk = np.arange(start, min(start + batch_size, len(batch)))
            part = batch.take(chunk)
            try:
                policy.learn_off_policy(part.observation, part.decision, part.feedback, clip=clip)
            except InputError as error:
                raise renumber_rows(error, numbers[chunk], f"{source.label}: ") from None
        if on_rows is not None:
            on_rows(int(numbers.size))
    return LearnResult(split.n_train, split.n_rest, _as_range(split.rest))


def _as_range(mask: NDArray[np.bool_] | None) -> tuple[int, int] | None:
    """The rows of ``mask`` as ``(start, stop)`` when they are consecutive (and some)."""
    if mask is None:
        return None
    chosen = np.flatnonzero(mask)
    if chosen.size == 0 or chosen[-1] - chosen[0] + 1 != chosen.size:
        return None
    return int(chosen[0]), int(chosen[-1]) + 1
