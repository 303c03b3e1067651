"""Vowpal Wabbit JSON features flattened into named numbers, and named numbers into columns.

The flattening (the same for a shared context and for an action):

====================================  ===========================================
``"k": 1.5`` (a number)               column ``k`` = 1.5
``"k": true`` / ``false``             ``k`` = 1 / nothing (VW adds no feature for false)
``"k": "v"`` (a string)               ``k=v`` = 1 (one-hot, as VW hashes ``k`` + ``v``)
``"k": {...}`` (a namespace)          its features, named ``k.<name>``
``"k": [1, 2]`` (numbers)             ``k[0]`` = 1, ``k[1]`` = 2 (VW's anonymous array features)
``"k": [{...}, ...]`` (objects)       the objects' features, named ``k.<name>`` (summed if
                                      repeated, as VW adds them to one namespace)
``"k": null``                         nothing
keys starting with ``_``              skipped (``_text``, ``_tag``, ``_id`` ... carry no
                                      numeric feature; ``_multi``, ``_slots`` are read apart)
====================================  ===========================================

Two spellings that flatten to one name (a dotted key ``"a.b": 1`` and a nested ``"a": {"b":
2}``; a key ``"k=v"`` and a string ``"k": "v"``; a key ``"k[0]"`` and an array ``"k": [...]``)
are refused, naming the feature and both: VW reads them as different features (its JSON
parser makes a nested object a namespace of its own, while a dotted key is one feature of the
enclosing namespace, so they hash apart), and summing them into one column would merge what
VW keeps apart. Repeated objects of one array are the one exception: VW adds them to one
namespace, and they are summed.

A feature absent from a record is 0 (VW's sparse semantics). :class:`FeatureColumns` fixes the
columns of a file: every name seen in a first pass, in natural order (``x[2]`` before
``x[10]``), so every row has the same width whatever appears later.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.logs.importers.rows import natural_key
from bandits.validation import InputValueError, shown

MAX_COLUMNS = 10_000
"""Most context (or item) feature columns an import may create; one-hot strings such as ids
would otherwise make every row as wide as the number of distinct values."""


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, or None if it is not a number (a bool is not) or is not
    finite as a float (NaN, an infinity, an integer beyond float64's range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


Address = tuple[str | int, ...]
"""Where a value is in the JSON: its object's place in the event (``c``), then the keys and
array indices leading to it; spelled ``c["user"]["age"]`` only when an error names it."""


def flatten(
    value: Any,
    path: str,
    out: dict[str, float],
    address: Address | None = None,
    origins: dict[str, tuple[Address, str | None]] | None = None,
) -> None:
    """Add the numeric features of the JSON ``value`` found at ``path`` to ``out``.

    ``address`` is where ``value`` is in the JSON (default ``(path,)``), and ``origins``
    (shared by the calls for one object) keeps the address of each name added (with the
    string, for a string's one-hot name), so that two spellings of one name are refused (see
    the module notes).

    Raises :class:`InputValueError` naming the field (``c.user.age``) and the value for what VW
    cannot read either: a non-finite number, a string or array nested in an array; and naming
    the feature and both addresses for two spellings of one name.
    """
    address = (path,) if address is None else address
    origins = {} if origins is None else origins
    if value is None or value is False:
        return
    if value is True:
        _add(out, origins, path, 1.0, (address, None))
    elif isinstance(value, int | float):
        number = finite_float(value)
        if number is None:
            raise InputValueError(f"field {path!r} must be a finite number; got {shown(value)}.")
        _add(out, origins, path, number, (address, None))
    elif isinstance(value, str):
        _add(out, origins, f"{path}={value}", 1.0, (address, value))
    elif isinstance(value, dict):
        for key, inner in value.items():
            if not key.startswith("_"):
                name = f"{path}.{key}" if path else key
                flatten(inner, name, out, (*address, key), origins)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if isinstance(inner, dict):
                flatten(inner, path, out, address, origins)  # summed, as VW adds them
            elif isinstance(inner, int | float) and not isinstance(inner, bool):
                flatten(inner, f"{path}[{index}]", out, (*address, index), origins)
            elif inner is not None:
                raise InputValueError(
                    f"field {path!r} is an array of numbers or objects; item {index} is "
                    f"{shown(inner)}."
                )


def _add(
    out: dict[str, float],
    origins: dict[str, tuple[Address, str | None]],
    name: str,
    number: float,
    origin: tuple[Address, str | None],
) -> None:
    """``out[name] += number``, refusing a name an earlier address gave."""
    first = origins.setdefault(name, origin)
    if first != origin:
        raise InputValueError(
            f"feature {name!r} is written two ways, {_spelled(*first)} and {_spelled(*origin)}: "
            f"VW reads them as different features (a nested object is a namespace of its own, "
            f"a dotted key a feature of the enclosing one), which one column would sum; rename "
            f"one."
        )
    out[name] = out.get(name, 0.0) + number


def _spelled(address: Address, string: str | None) -> str:
    """``c["user"]["city"] = "paris"``: an address as JSON indexing (and the string found)."""
    where, *steps = address
    text = f"{where}" + "".join(f"[{json.dumps(step)}]" for step in steps)
    return text if string is None else f"{text} = {json.dumps(string)}"


def features_of(obj: dict[str, Any], skip: Iterable[str] = (), where: str = "") -> dict[str, float]:
    """The flattened numeric features of a JSON object, leaving out the keys in ``skip``;
    ``where`` spells the object's place in the event (``c``) for errors."""
    out: dict[str, float] = {}
    origins: dict[str, tuple[Address, str | None]] = {}
    left_out = set(skip)
    for key, value in obj.items():
        if key not in left_out and not key.startswith("_"):
            flatten(value, key, out, (where, key), origins)
    return out


class FeatureColumns:
    """Fixed, sorted feature columns: names -> positions in a row.

    Parameters
    ----------
    names : iterable of str
        Every feature name of the file (from a first pass).
    what : str
        ``"context"`` or ``"item"``, for the error when there are too many.
    """

    def __init__(self, names: Iterable[str], what: str) -> None:
        self.names = sorted(set(names), key=natural_key)
        if len(self.names) > MAX_COLUMNS:
            raise InputValueError(
                f"the {what} features would make {len(self.names):,} columns, more than "
                f"{MAX_COLUMNS:,}; string features become one column per value, so a "
                f"feature holding ids or free text makes too many (drop it before importing)."
            )
        self.index = {name: position for position, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)

    def row(self, features: dict[str, float]) -> NDArray[np.float64]:
        """ndarray of float64, shape (n_columns,): the features in column order (0 if
        absent); a name not among the columns is an error."""
        row = np.zeros(len(self.names))
        for name, value in features.items():
            position = self.index.get(name)
            if position is None:
                raise InputValueError(f"feature {name!r} was not seen in the first pass.")
            row[position] = value
        return row
