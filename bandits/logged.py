"""The logged-data table: every decision with its context, candidates, probabilities and rewards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import SlateObservation
from bandits.validation import (
    InputValueError,
    check_instance,
    check_real,
    check_shape,
    read_only,
    unchecked,
)

MAX_NAME_CHARACTERS = 1000
"""Longest policy name a log may hold (names are spec strings)."""


@dataclass(frozen=True, eq=False)
class LoggedBandit:
    """A validated table of logged slate decisions, one row per request.

    The table is the three things a rollout sees for each request (what was observed, what was
    decided with which probabilities, what came back) plus the name of the logging policy.
    Construction checks that the parts agree: the same number of rows, slates of the observed
    size and inside each row's candidate set, no repeated item in a slate, logging marginals
    (when present) consistent with the logged probabilities. Item features live once in
    ``observation.items``. Read and write tables with :mod:`bandits.logs`.

    Attributes
    ----------
    observation : SlateObservation
        Requests: context, candidates, history, ids and times (n_requests rows).
    decision : SlateDecision
        Logged slates and the logging policy's probabilities.
    feedback : SlateFeedback
        Per-position rewards (and named signals).
    policy_names : ndarray of str, shape (n_requests,)
        The logging policy of each row.
    """

    observation: SlateObservation
    decision: SlateDecision
    feedback: SlateFeedback
    policy_names: NDArray[np.str_]

    def __post_init__(self) -> None:
        obs, decision, feedback = self.observation, self.decision, self.feedback
        for name, kind in (
            ("observation", SlateObservation),
            ("decision", SlateDecision),
            ("feedback", SlateFeedback),
        ):
            check_instance(getattr(self, name), kind, f"{name!r} of LoggedBandit")
        decision.check_against(obs)
        check_shape(feedback.rewards, decision.slates.shape, "column 'rewards'")
        names = np.asarray(self.policy_names, dtype=np.str_)
        if names.ndim == 0:  # one name for every row
            names = np.full(obs.n_requests, names.item(), dtype=names.dtype)
        check_shape(names, (obs.n_requests,), "column 'policy'")
        if names.dtype.itemsize > 4 * MAX_NAME_CHARACTERS:
            row = int(np.argmax(np.char.str_len(names) > MAX_NAME_CHARACTERS))
            raise InputValueError(
                f"column 'policy' holds names of at most {MAX_NAME_CHARACTERS:,} characters; "
                f"row {row} has {len(names[row]):,}."
            )
        object.__setattr__(self, "policy_names", names)

    @classmethod
    def from_batch(
        cls,
        observation: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        policy_name: str,
    ) -> LoggedBandit:
        """A table for one batch logged by one policy."""
        return cls(observation, decision, feedback, np.full(observation.n_requests, policy_name))

    @classmethod
    def concat(cls, tables: Sequence[LoggedBandit]) -> LoggedBandit:
        """Stack tables row-wise, padding candidates and histories to the widest one and
        uniting their item tables."""
        if not tables:
            raise InputValueError("LoggedBandit.concat needs at least one table; got none.")
        first = tables[0]
        signal_names = set(first.feedback.signals)
        has_marginals = first.decision.candidate_position_probability is not None
        for i, table in enumerate(tables):
            if set(table.feedback.signals) != signal_names:
                raise InputValueError(
                    f"LoggedBandit.concat needs tables with the same signals; table 0 has "
                    f"{sorted(signal_names)}, table {i} has {sorted(table.feedback.signals)}."
                )
            if (table.decision.candidate_position_probability is not None) != has_marginals:
                raise InputValueError(
                    f"LoggedBandit.concat needs all tables or none to carry logging marginals; "
                    f"table 0 {'does' if has_marginals else 'does not'}, table {i} differs."
                )
        observation = SlateObservation.concat([t.observation for t in tables])
        marginals = None
        if has_marginals:
            width = observation.max_candidates
            marginals = np.concatenate(
                [_pad_candidates(t.decision.candidate_position_probability, width) for t in tables]
            )
        decision = unchecked(
            SlateDecision,
            slates=np.concatenate([t.decision.slates for t in tables]),
            slate_probability=read_only(
                np.concatenate([t.decision.slate_probability for t in tables])
            ),
            position_probability=read_only(
                np.concatenate([t.decision.position_probability for t in tables])
            ),
            candidate_position_probability=marginals,
            _checked_for=observation,
            _bound=float(np.max([t.decision.probability_bound for t in tables])),  # NaN stays
        )
        feedback = unchecked(
            SlateFeedback,
            rewards=read_only(np.concatenate([t.feedback.rewards for t in tables])),
            _nonnegative=all(t.feedback.known_nonnegative for t in tables),
            signals={
                name: np.concatenate([t.feedback.signals[name] for t in tables])
                for name in sorted(signal_names)
            },
        )
        names = np.concatenate([t.policy_names for t in tables])
        return cls(observation, decision, feedback, names)

    def __len__(self) -> int:
        return self.observation.n_requests

    @property
    def n_requests(self) -> int:
        return self.observation.n_requests

    @property
    def slate_size(self) -> int:
        return self.observation.slate_size

    @property
    def items(self) -> ItemTable:
        """The item table the candidates refer to."""
        return self.observation.items

    @property
    def slates(self) -> NDArray[np.int64]:
        """ndarray of int64, shape (n_requests, slate_size)."""
        return self.decision.slates

    @property
    def rewards(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests, slate_size): per-position rewards."""
        return self.feedback.rewards

    @property
    def slate_rewards(self) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_requests,): rewards summed over the slate."""
        return self.feedback.slate_reward

    def take(self, rows: ArrayLike) -> LoggedBandit:
        """The rows ``rows`` (indices or a boolean mask) as a new table (slices are trusted)."""
        rows = np.asarray(rows)
        observation = self.observation.take(rows)
        return unchecked(
            LoggedBandit,
            observation=observation,
            decision=self.decision.take(rows, observation),
            feedback=self.feedback.take(rows),
            policy_names=self.policy_names[rows],
        )

    def split(self, fraction: float) -> tuple[LoggedBandit, LoggedBandit]:
        """The oldest ``fraction`` (in [0, 1]) of rows and the rest, each in row order.

        Rows are ranked by time, ties by row order; see :func:`time_split_mask`.
        """
        fraction = check_real(fraction, "fraction", "LoggedBandit.split", low=0.0, high=1.0)
        train = time_split_mask(self.observation.times, fraction)
        return self.take(train), self.take(~train)


def time_split_mask(times: NDArray[np.int64], fraction: float) -> NDArray[np.bool_]:
    """True for the oldest ``round(fraction * n)`` rows (by time, ties by row order).

    Runs in linear time (a partition, not a sort), so it suits the time column of a log
    larger than memory.

    Parameters
    ----------
    times : ndarray of int64, shape (n_rows,)
    fraction : float in [0, 1]

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    fraction = check_real(fraction, "fraction", "time_split_mask", low=0.0, high=1.0)
    n = times.shape[0]
    cut = round(fraction * n)
    if cut == 0:
        return np.zeros(n, dtype=np.bool_)
    if cut == n:
        return np.ones(n, dtype=np.bool_)
    threshold = np.partition(times, cut - 1)[cut - 1]  # a copy: 8 bytes a row
    train = times < threshold
    ties = np.flatnonzero(times == threshold)
    train[ties[: cut - int(train.sum())]] = True
    return train


def _pad_candidates(marginals: NDArray[np.float64] | None, width: int) -> NDArray[np.float64]:
    assert marginals is not None  # concat checked that every table carries marginals
    missing = width - marginals.shape[1]
    return np.pad(marginals, [(0, 0), (0, missing), (0, 0)]) if missing else marginals
