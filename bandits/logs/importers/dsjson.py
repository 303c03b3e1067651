"""Vowpal Wabbit decision-service logs (DSJson, one JSON event per line) into a bandits log.

The file is read twice, line by line, in bounded memory: a first pass collects the feature
names (so every row has the same columns) and the slate size; the second writes the rows in
batches through :class:`~bandits.logs.LogWriter`. What VW's own reader does
(``parse_example_json.cc``: ``parse_line_json``, ``read_line_decision_service_json``,
``apply_pdrop``, VW 9) and what this importer does with each kind of line:

=================================================  ==========================================
line                                               here (VW)
=================================================  ==========================================
does not start with ``{`` (blank, ``[``, text)     skipped, counted ``not_event`` (VW skips it)
not JSON, or an event this reader refuses          an error naming file, line, field and value;
                                                   with ``skip_malformed``, skipped and counted
                                                   ``malformed`` (VW logs and skips it)
``"pdrop": 1`` (or outside [0, 1))                 malformed (VW: "pdrop==1 not supported")
``"_skipLearn": true``                             skipped, counted ``skip_learn`` (VW skips it)
no actions: no ``a`` (single action) or no         skipped, counted ``no_actions`` (VW skips it:
``_outcomes`` (slates); e.g. a dangling reward     "zero actions")
``{"RewardValue": ...}``
actions but no ``_label_cost``                     skipped, counted ``unlabelled`` (VW predicts
                                                   on it but does not learn: no reward to log)
=================================================  ==========================================

A UTF-8 byte-order mark opening the file is dropped (it is not part of the first line); an
event whose slate probability underflows to 0 (a product of tiny slot probabilities) is
malformed.

A single-action event (``--cb_adf``): candidates are ``c._multi`` in order; the chosen one is
``_labelIndex`` (0-based); ``_label_Action`` and ``a[0]`` (1-based, chosen first), when
present, must name the same action; the probability is ``_label_probability`` and the cost
``_label_cost`` (what VW learns from; ``p`` is not read). A slate event (``--ccb_adf``):
``_outcomes`` holds one outcome per slot of ``c._slots`` (as many of each); slot ``j`` shows
``_outcomes[j]._a[0]`` (0-based, chosen first; a single number is allowed as in VW) with the
probability ``_p[0]`` and the cost ``_label_cost``; slots show distinct actions (VW's CCB
excludes chosen ones). Every event of a file has the slate size of its first event.

The table: reward = -cost per position. ``slate_probability`` is the product of the slots'
logged probabilities (exact for VW's CCB, whose slot ``j`` draws from the actions left after
slots ``< j``); ``position_probability`` holds each slot's logged probability, which for
``j > 0`` is VW's probability *given the earlier slots*, not the marginal the schema names
(the log does not carry the marginal). ``pdrop`` (the event survived down-sampling with
probability ``1 - pdrop``; VW weighs it by ``1 / (1 - pdrop)``) is folded into the
probabilities: both are multiplied by ``1 - pdrop``, so an importance weight ``pi / mu`` carries
VW's ``1 / (1 - pdrop)``, and the value is kept as the signal ``pdrop`` (only when some event
has one). With dropped events, the self-normalised estimators (SNIPS, SNDR) give the
down-sampling-corrected value; plain IPS averages over the kept rows only, so it is inflated by
(events before dropping) / (rows kept), about ``1 / (1 - pdrop)`` for a constant ``pdrop``.
``request_id`` is ``EventId`` when it is a decimal integer, else a stable 63-bit hash of it,
else the line number; ``time`` is ``Timestamp`` in microseconds since the epoch (UTC), else
the line number; ``user_id`` is -1 and ``history`` empty (DSJson has neither).

Features: see :mod:`bandits.logs.importers.features` for the flattening; the shared context
``c`` (without ``_multi``, ``_slots``) gives the context columns, each action of ``_multi`` its
item features. An item's id is the action's field ``item_id_field`` (a dotted path, default
``_id``) when present: a non-negative integer below 2**63 as is, anything else as a stable
hash of its JSON; an action without it gets the hash of its whole JSON (identical actions are
one item).
The id field is not a feature. An item must have the same features wherever it appears.

Not implemented: continuous actions (``_label_ca``, ``pdf``), ``--slates`` events (``_slot_id``),
the ``_label`` object form, ``_inc`` (slot-restricted actions: the logged probabilities are
taken as they are), ``_text`` and ``_tag`` (no numeric features), slot features of ``_slots``,
``_original_label_cost``, ``_ba``, deduplicated actions (``__aid``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bandits.logs.importers.features import FeatureColumns, features_of, finite_float
from bandits.logs.importers.rows import (
    ImportSummary,
    RowBuffer,
    batch_rows_for,
    stable_id,
)
from bandits.logs.parquet import DEFAULT_BATCH_BYTES, LogWriter
from bandits.validation import InputValueError, check_regular_file, shown

NOT_EVENT = "not_event"
SKIP_LEARN = "skip_learn"
NO_ACTIONS = "no_actions"
UNLABELLED = "unlabelled"
MALFORMED = "malformed"

MAX_LINE_BYTES = 256 * 2**20
"""Longest line read (a line is one event, read whole)."""

DEFAULT_ITEM_ID_FIELD = "_id"


@dataclass
class Event:
    """One labelled DSJson event, its features flattened (see the module docstring)."""

    request_id: int
    time: int
    context: dict[str, float]
    item_ids: list[int]
    item_features: list[dict[str, float]]
    slate: list[int]
    probability: list[float]
    cost: list[float]
    pdrop: float


def parse_event(text: str, line: int, item_id_field: str = DEFAULT_ITEM_ID_FIELD) -> Event | str:
    """An event, or the reason the line is skipped (``NOT_EVENT``, ``SKIP_LEARN``,
    ``NO_ACTIONS``, ``UNLABELLED``). Raises :class:`InputValueError` naming the field and value
    of a malformed event."""
    if not text.startswith("{"):
        return NOT_EVENT
    try:
        event = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputValueError(f"not valid JSON: {error.msg} at column {error.colno}.") from None
    except ValueError as error:  # an integer of more digits than Python converts
        raise InputValueError(f"not valid JSON here: {error}.") from None
    except RecursionError:
        raise InputValueError("not valid JSON here: nested too deeply.") from None
    if not isinstance(event, dict):
        raise InputValueError("an event must be a JSON object.")
    pdrop = _number(event, "pdrop", default=0.0)
    if not 0.0 <= pdrop < 1.0:
        raise InputValueError(f"field 'pdrop' must be in [0, 1); got {shown(event['pdrop'])}.")
    skip_learn = event.get("_skipLearn", False)
    if not isinstance(skip_learn, bool):
        raise InputValueError(f"field '_skipLearn' must be true or false; got {shown(skip_learn)}.")
    if skip_learn:
        return SKIP_LEARN
    slots = "_outcomes" in event
    if not (event.get("_outcomes") if slots else _present(event.get("a"))):
        return NO_ACTIONS
    context = event.get("c")
    if not isinstance(context, dict):
        raise InputValueError(f"field 'c' must be an object (the context); got {shown(context)}.")
    item_ids, item_features = _actions(context, item_id_field)
    chosen = _slots(event, context, len(item_ids)) if slots else _single(event, len(item_ids))
    if chosen is None:
        return UNLABELLED
    slate, probability, cost = chosen
    return Event(
        request_id=_request_id(event, line),
        time=_time(event, line),
        context=features_of(context, where="c"),
        item_ids=item_ids,
        item_features=item_features,
        slate=slate,
        probability=probability,
        cost=cost,
        pdrop=pdrop,
    )


Chosen = tuple[list[int], list[float], list[float]]
"""(slate, probabilities, costs) of an event."""


def _single(event: dict[str, Any], n_actions: int) -> Chosen | None:
    """(slate, probabilities, costs) of a single-action event, or None without a label."""
    if "_label_cost" not in event:
        return None
    index = _integer(event, "_labelIndex", low=0, high=n_actions - 1)
    for name in ("_label_Action",):
        if name in event and _integer(event, name, low=1, high=n_actions) != index + 1:
            raise InputValueError(
                f"field {name!r} is {event[name]} but '_labelIndex' is {index} (1-based "
                f"{index + 1}); they must name the same action."
            )
    first = _as_list(event["a"])[0]
    if first != index + 1:
        raise InputValueError(
            f"field 'a' must start with the chosen action, 1-based ('_labelIndex' {index} + 1 "
            f"= {index + 1}); got {shown(event['a'])}."
        )
    return [index], [_probability(event, "_label_probability")], [_number(event, "_label_cost")]


def _slots(event: dict[str, Any], context: dict[str, Any], n_actions: int) -> Chosen | None:
    """(slate, probabilities, costs) of a slate (CCB) event, or None if a slot has no label."""
    outcomes = event["_outcomes"]
    slots = context.get("_slots")
    if not isinstance(outcomes, list) or not isinstance(slots, list):
        raise InputValueError(
            f"a slate event needs the arrays '_outcomes' and 'c._slots'; got {shown(outcomes)} "
            f"and {shown(slots)}."
        )
    if len(outcomes) != len(slots):
        raise InputValueError(
            f"field '_outcomes' has {len(outcomes)} outcomes for {len(slots)} slots in 'c._slots'; "
            f"every slot needs its outcome."
        )
    slate: list[int] = []
    probability: list[float] = []
    cost: list[float] = []
    for j, outcome in enumerate(outcomes):
        where = f"_outcomes[{j}]"
        if not isinstance(outcome, dict):
            raise InputValueError(f"field {where!r} must be an object; got {shown(outcome)}.")
        if "_label_cost" not in outcome:
            return None
        actions, probabilities = _as_list(outcome.get("_a")), _as_list(outcome.get("_p"))
        if not actions or len(actions) != len(probabilities):
            raise InputValueError(
                f"fields '{where}._a' and '{where}._p' must be as long and not empty; got "
                f"{shown(outcome.get('_a'))} and {shown(outcome.get('_p'))}."
            )
        chosen = _integer({"_a": actions[0]}, "_a", low=0, high=n_actions - 1, where=where)
        if chosen in slate:
            raise InputValueError(
                f"field '{where}._a' shows action {chosen}, already shown in slot "
                f"{slate.index(chosen)}; slots show distinct actions."
            )
        slate.append(chosen)
        probability.append(_probability({"_p": probabilities[0]}, "_p", where))
        cost.append(_number(outcome, "_label_cost", where=where))
    return slate, probability, cost


def _actions(context: dict[str, Any], id_field: str) -> tuple[list[int], list[dict[str, float]]]:
    """Item ids and flattened features of the actions ``c._multi``."""
    actions = context.get("_multi")
    if not isinstance(actions, list) or not actions:
        raise InputValueError(
            f"field 'c._multi' must be a non-empty array of actions; got {shown(actions)}."
        )
    ids, features = [], []
    path = id_field.split(".")
    for index, action in enumerate(actions):
        if not isinstance(action, dict):
            raise InputValueError(
                f"field 'c._multi[{index}]' must be an object; got {shown(action)}."
            )
        value = _lookup(action, path)
        if value is None:
            ids.append(stable_id(_canonical(action)))
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
            ids.append(value)
        else:
            ids.append(stable_id(_canonical(value)))
        flat = features_of(action, where=f'c["_multi"][{index}]')
        for name in (id_field, f"{id_field}={value}"):
            flat.pop(name, None)
        features.append(flat)
    if len(set(ids)) < len(ids):
        first = next(i for i, item in enumerate(ids) if ids.count(item) > 1)
        again = ids.index(ids[first], first + 1)
        raise InputValueError(
            f"actions {first} and {again} of 'c._multi' are the same item (id {ids[first]}); "
            f"a request's candidates must be distinct."
        )
    return ids, features


def _lookup(obj: dict[str, Any], path: list[str]) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _present(value: Any) -> bool:
    return value is not None and value != []


def _as_list(value: Any) -> list[Any]:
    """VW reads a single number where an array is expected as a one-element array."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _number(
    obj: dict[str, Any], name: str, *, default: float | None = None, where: str = ""
) -> float:
    label = f"{where}.{name}" if where else name
    if name not in obj and default is not None:
        return default
    value = obj.get(name)
    number = finite_float(value)
    if number is None:
        raise InputValueError(f"field {label!r} must be a finite number; got {shown(value)}.")
    return number


def _probability(obj: dict[str, Any], name: str, where: str = "") -> float:
    value = _number(obj, name, where=where)
    if not 0.0 < value <= 1.0:
        label = f"{where}.{name}" if where else name
        raise InputValueError(f"field {label!r} must be a probability in (0, 1]; got {value!r}.")
    return value


def _integer(obj: dict[str, Any], name: str, *, low: int, high: int, where: str = "") -> int:
    label = f"{where}.{name}" if where else name
    value = obj.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputValueError(
            f"field {label!r} must be an integer from {low} to {high} (the event has "
            f"{high - low + 1} actions); got {shown(value)}."
        )
    return value


def _request_id(event: dict[str, Any], line: int) -> int:
    event_id = event.get("EventId")
    if isinstance(event_id, str) and event_id.isdecimal() and int(event_id) < 2**63:
        return int(event_id)
    return line if event_id is None else stable_id(str(event_id))


_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?", re.ASCII
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(event: dict[str, Any], line: int) -> int:
    stamp = event.get("Timestamp")
    if stamp is None:
        return line
    match = _TIMESTAMP.fullmatch(stamp) if isinstance(stamp, str) else None
    if match is None:
        raise InputValueError(
            f"field 'Timestamp' must be an ISO 8601 time (2019-03-05T21:22:30.123Z); got "
            f"{shown(stamp)}."
        )
    date, clock, fraction, zone = match.groups()
    micro = int(((fraction or "") + "000000")[:6])
    offset = "+00:00" if zone in (None, "Z") else zone
    try:
        moment = datetime.fromisoformat(f"{date}T{clock}{offset}")
    except ValueError as error:
        raise InputValueError(f"field 'Timestamp' {shown(stamp)} is not a time: {error}.") from None
    return (moment - EPOCH) // timedelta(microseconds=1) + micro


def _refuse_constant(name: str) -> float:
    raise InputValueError(f"not valid JSON: {name} is not a JSON number.")


@dataclass
class _Reader:
    """Reads the events of a file, in order, counting what it skips."""

    path: Path
    item_id_field: str
    skip_malformed: bool
    summary: ImportSummary = field(default_factory=ImportSummary)
    slate_size: int | None = None

    def events(self) -> Iterator[tuple[str, Event]]:
        """(``file:line`` for errors, event) for every event written to the log."""
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
                where = f"{self.path}, line {number}"
                try:
                    result = self._parse(raw, number)
                except InputValueError as error:
                    if not self.skip_malformed:
                        raise InputValueError(f"{where}: {error}") from None
                    self.summary.skip(MALFORMED)
                    continue
                if isinstance(result, str):
                    self.summary.skip(result)
                else:
                    yield where, result

    def skip_record(self, error: InputValueError) -> None:
        """Count a record refused after parsing, or raise its error."""
        if not self.skip_malformed:
            raise error
        self.summary.skip(MALFORMED)

    def _parse(self, raw: bytes, number: int) -> Event | str:
        if len(raw) > MAX_LINE_BYTES:
            raise InputValueError(f"the line is longer than {MAX_LINE_BYTES:,} bytes.")
        try:  # a byte-order mark opening the file is the encoding's, not the first event's
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise InputValueError(f"not UTF-8 text (byte {error.start}).") from None
        result = parse_event(text, number, self.item_id_field)
        if isinstance(result, Event):
            size = len(result.slate)
            if self.slate_size is None:
                self.slate_size = size
            elif size != self.slate_size:
                raise InputValueError(
                    f"the event shows {size} action(s); the file's first event shows "
                    f"{self.slate_size} (every event of a file must have one slate size)."
                )
        return result


def import_dsjson(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    skip_malformed: bool = False,
    item_id_field: str = DEFAULT_ITEM_ID_FIELD,
    policy: str = "dsjson",
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> ImportSummary:
    """Import the DSJson file ``path`` into the log ``out`` (see the module docstring).

    Returns what was written and skipped. Nothing is left at ``out`` if the import fails.
    """
    source = check_regular_file(path, "DSJson file")
    scan = _Reader(source, item_id_field, skip_malformed)
    context_names: set[str] = set()
    item_names: set[str] = set()
    widest, has_pdrop = 1, False
    for _, event in scan.events():
        context_names.update(event.context)
        for features in event.item_features:
            item_names.update(features)
        widest = max(widest, len(event.item_ids))
        has_pdrop = has_pdrop or event.pdrop > 0
    context_columns = FeatureColumns(context_names, "context")
    item_columns = FeatureColumns(item_names, "item")
    reader = _Reader(source, item_id_field, skip_malformed)
    slate_size = scan.slate_size or 1
    with LogWriter(out, overwrite=overwrite, batch_bytes=batch_bytes) as writer:
        buffer = RowBuffer(
            writer,
            slate_size=slate_size,
            n_context_features=len(context_columns),
            n_item_features=len(item_columns),
            signals=["pdrop"] if has_pdrop else [],
            policy=policy,
            batch_rows=batch_rows_for(
                batch_bytes,
                n_context=len(context_columns),
                max_candidates=widest,
                n_item=len(item_columns),
                slate_size=slate_size,
            ),
            summary=reader.summary,
        )
        for where, event in reader.events():
            kept = 1.0 - event.pdrop
            probability = np.array(event.probability) * kept
            slate_probability = float(np.prod(event.probability)) * kept
            try:
                if slate_probability == 0.0:
                    raise InputValueError(
                        f"{where}: the slate's probability, the product of the slots' "
                        f"{event.probability} times 1 - pdrop, is below the smallest float."
                    )
                buffer.add(
                    where=where,
                    request_id=event.request_id,
                    time=event.time,
                    context=context_columns.row(event.context),
                    candidate_ids=np.array(event.item_ids, dtype=np.int64),
                    candidate_features=np.array([item_columns.row(f) for f in event.item_features]),
                    slate=np.array(event.slate, dtype=np.int64),
                    slate_probability=slate_probability,
                    position_probability=probability,
                    rewards=0.0 - np.array(event.cost),  # no -0.0
                    signals={"pdrop": np.full(slate_size, event.pdrop)},
                )
            except InputValueError as error:
                reader.skip_record(error)
        buffer.flush(force=True)
    return reader.summary
