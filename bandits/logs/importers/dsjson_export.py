"""A bandits log as Vowpal Wabbit DSJson, one event per line, streamed batch by batch.

Each row becomes one event that VW reads with ``--cb_explore_adf --dsjson`` (slate size 1) or
``--ccb_explore_adf --dsjson`` (larger slates), and that :func:`import_dsjson` reads back:

- ``EventId`` is the request id (as text), ``Timestamp`` the time read as microseconds since
  the epoch (UTC, ISO 8601).
- ``c.x`` is the context as an array (features ``x[0]``, ``x[1]``, ...); ``c._multi`` the
  candidates in order, each ``{"_id": <item id>, "i": [item features]}`` (VW ignores ``_id``).
- Slate size 1: ``_labelIndex`` (0-based), ``_label_Action`` (1-based), ``_label_cost`` =
  -reward, ``_label_probability``; ``a`` / ``p`` are the chosen action and its probability, or,
  when the log carries the logger's marginals, every candidate (chosen first) with its
  marginal.
- Larger slates: ``c._slots`` (one empty slot per position) and ``_outcomes``, per position
  ``{"_label_cost": -reward, "_a": [chosen], "_p": [position probability]}``. VW's CCB reads a
  slot's probability as conditional on the earlier slots; the log holds marginals, so for
  positions after the first this is what the log has, not VW's meaning, and the slate
  probability is not written (a re-import takes the product of the slots').
- A log with the signal ``pdrop`` (from :func:`import_dsjson`) gets its ``pdrop`` back and its
  probabilities divided by ``1 - pdrop``.

User ids, histories, other signals and the policy name have no place in DSJson and are left
out.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any, TextIO

import numpy as np

from bandits.logged import LoggedBandit
from bandits.logs.atomic import atomic_path
from bandits.logs.importers.dsjson import EPOCH
from bandits.logs.parquet import DEFAULT_BATCH_BYTES, open_log


def export_dsjson(
    log: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> int:
    """Write the log at ``log`` to ``out`` as DSJson (atomically); returns the rows written."""
    opened = open_log(log)
    rows = 0
    with atomic_path(out, replace=overwrite) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            for batch in opened.iter_batches(batch_bytes=batch_bytes):
                write_events(batch, handle)
                rows += len(batch)
    return rows


def write_events(log: LoggedBandit, handle: TextIO) -> None:
    """Write every row of ``log`` to ``handle`` as one DSJson line."""
    obs, decision = log.observation, log.decision
    kept = 1.0 - log.feedback.signals.get("pdrop", np.zeros(log.slates.shape))
    position_p = decision.position_probability / kept
    costs = 0.0 - log.rewards  # no -0.0
    features = obs.candidate_features
    marginals = decision.candidate_position_probability
    for row in range(len(log)):
        count = int(obs.n_candidates[row])
        ids = obs.candidate_ids[row, :count].tolist()
        event: dict[str, Any] = {"EventId": str(int(obs.request_ids[row]))}
        event["Timestamp"] = _timestamp(int(obs.times[row]))
        actions = [{"_id": item, "i": features[row, j].tolist()} for j, item in enumerate(ids)]
        context: dict[str, Any] = {"x": obs.context[row].tolist(), "_multi": actions}
        slate = log.slates[row].tolist()
        if log.slate_size == 1:
            chosen = slate[0]
            event.update(
                _label_cost=float(costs[row, 0]),
                _label_probability=float(position_p[row, 0]),
                _label_Action=chosen + 1,
                _labelIndex=chosen,
            )
            order = [chosen]
            if marginals is not None:
                order += [j for j in range(count) if j != chosen]
                shown_p = (marginals[row, order, 0] / kept[row, 0]).tolist()
            else:
                shown_p = [float(position_p[row, 0])]
            event["a"] = [j + 1 for j in order]
            event["p"] = shown_p
        else:
            context["_slots"] = [{} for _ in slate]
            event["_outcomes"] = [
                {"_label_cost": float(costs[row, k]), "_a": [j], "_p": [float(position_p[row, k])]}
                for k, j in enumerate(slate)
            ]
        if "pdrop" in log.feedback.signals:
            event["pdrop"] = float(log.feedback.signals["pdrop"][row, 0])
        event["c"] = context
        handle.write(json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n")


def _timestamp(micros: int) -> str:
    """ISO 8601 UTC time of ``micros`` microseconds since the epoch."""
    moment = EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
