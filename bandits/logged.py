"""The logged-data table: every decision with its context, candidates, probabilities and rewards."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits._checks import check_real, check_shape
from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import PAD_ID, SlateObservation


@dataclass(frozen=True, eq=False)
class LoggedBandit:
    """A validated table of logged slate decisions, one row per request.

    The table is the three things a rollout sees for each request (what was observed, what was
    decided with which probabilities, what came back) plus the name of the logging policy.
    Construction checks that the parts agree: the same number of rows, slates of the observed
    size and inside each row's candidate set, no repeated item in a slate.

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
            if not isinstance(getattr(self, name), kind):
                raise TypeError(
                    f"The {name!r} of LoggedBandit must be a {kind.__name__}; "
                    f"got {type(getattr(self, name)).__name__}."
                )
        decision.check_against(obs.n_candidates, obs.slate_size)
        check_shape(feedback.rewards, decision.slates.shape, "column 'rewards'")
        names = np.asarray(self.policy_names, dtype=np.str_)
        if names.ndim == 0:
            names = np.full(obs.n_requests, names, dtype=np.str_)
        check_shape(names, (obs.n_requests,), "column 'policy'")
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
        """Stack tables row-wise, padding candidates and histories to the widest one."""
        if not tables:
            raise ValueError("LoggedBandit.concat needs at least one table; got none.")
        first = tables[0]
        for i, table in enumerate(tables[1:], start=1):
            for attribute in ("slate_size", "n_context_features", "n_item_features"):
                got, want = (
                    getattr(table.observation, attribute),
                    getattr(first.observation, attribute),
                )
                if got != want:
                    raise ValueError(
                        f"LoggedBandit.concat needs tables of one {attribute}; table 0 has "
                        f"{want}, table {i} has {got}."
                    )
        signal_names = set(first.feedback.signals)
        for i, table in enumerate(tables):
            if set(table.feedback.signals) != signal_names:
                raise ValueError(
                    f"LoggedBandit.concat needs tables with the same signals; table 0 has "
                    f"{sorted(signal_names)}, table {i} has {sorted(table.feedback.signals)}."
                )
        width = max(t.observation.max_candidates for t in tables)
        depth = max(t.observation.history.shape[1] for t in tables)
        pads = {
            "candidate_ids": (width, PAD_ID),
            "candidate_features": (width, 0.0),
            "history": (depth, PAD_ID),
        }
        columns = {}
        for f in fields(SlateObservation):
            if f.name == "slate_size":
                continue
            parts = [getattr(t.observation, f.name) for t in tables]
            if f.name in pads:
                size, fill = pads[f.name]
                parts = [_pad_axis1(part, size, fill) for part in parts]
            columns[f.name] = np.concatenate(parts)
        observation = SlateObservation(slate_size=first.observation.slate_size, **columns)
        decision = SlateDecision(
            np.concatenate([t.decision.slates for t in tables]),
            np.concatenate([t.decision.slate_probability for t in tables]),
            np.concatenate([t.decision.position_probability for t in tables]),
        )
        feedback = SlateFeedback(
            np.concatenate([t.feedback.rewards for t in tables]),
            {
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
        """The rows ``rows`` (indices or a boolean mask) as a new table."""
        rows = np.asarray(rows)
        return LoggedBandit(
            self.observation.take(rows),
            self.decision.take(rows),
            self.feedback.take(rows),
            self.policy_names[rows],
        )

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the table to a Parquet file atomically (see :mod:`bandits.parquet`)."""
        from bandits.parquet import write_log

        return write_log(self, path)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike[str]) -> LoggedBandit:
        """Read and validate a Parquet log written by :meth:`to_parquet`."""
        from bandits.parquet import read_log

        return read_log(path)

    def split(self, fraction: float) -> tuple[LoggedBandit, LoggedBandit]:
        """The first ``fraction`` (in [0, 1]) of rows in time order, and the rest."""
        fraction = check_real(fraction, "fraction", "LoggedBandit.split", low=0.0, high=1.0)
        order = np.argsort(self.observation.times, kind="stable")
        cut = round(fraction * len(self))
        return self.take(order[:cut]), self.take(order[cut:])


def _pad_axis1(array: NDArray, size: int, fill: float) -> NDArray:
    missing = size - array.shape[1]
    if missing == 0:
        return array
    widths = [(0, 0), (0, missing)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, widths, constant_values=fill)
