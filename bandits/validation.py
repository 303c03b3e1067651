"""Input checks shared by the kernel types, policies, environments and estimators.

Every check raises :class:`InputValueError` or :class:`InputTypeError` (subclasses of
``ValueError`` and ``TypeError``) with a message that names the field, the first bad row (and
position) and the value found, e.g. ``"column 'rewards' must be finite; row 3, position 1 is
nan."``. Both derive from :class:`InputError`, which is how the command line tells a user's
mistake (one line, exit status 2) from a bug in the toolkit (a traceback).
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray


class InputError(Exception):
    """Something the user gave (an argument, an array, a file) is not allowed."""


class InputValueError(InputError, ValueError):
    """A value of the right kind but not allowed: out of range, wrong shape, unknown name."""


class InputTypeError(InputError, TypeError):
    """A value of the wrong kind: a string where a number belongs, a dict for a table."""


T = TypeVar("T")


def unchecked(cls: type[T], **values: Any) -> T:
    """An instance of a frozen dataclass built from values that need no checks (slices or
    concatenations of checked instances): ``__post_init__`` is skipped."""
    instance = cls.__new__(cls)
    instance.__dict__.update(values)  # what object.__setattr__ does per field, at once
    return instance


BRIEF_VALUES = 8
"""Most values an error message lists."""


def brief(values: Any) -> str:
    """A list of values for an error message, cut after ``BRIEF_VALUES`` (``[1, 2, ...]
    (40 in all)``)."""
    items = np.asarray(values).ravel().tolist()
    if len(items) <= BRIEF_VALUES:
        return str(items)
    shown = ", ".join(str(item) for item in items[:BRIEF_VALUES])
    return f"[{shown}, ...] ({len(items)} in all)"


SHOWN_CHARACTERS = 80
"""Longest repr of a value an error message shows."""


def shown(value: object) -> str:
    """``repr(value)`` for an error message, cut to ``SHOWN_CHARACTERS`` (a huge number or a
    long string is not printed in full; an integer too long to print is described)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, np.generic):  # 0.5, not np.float64(0.5)
        value = value.item()
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        return f"an integer of about {int(value).bit_length() * 0.30103:.0f} digits"  # type: ignore[call-overload]
    if len(text) <= SHOWN_CHARACTERS:
        return text
    return f"{text[: SHOWN_CHARACTERS - 20]}...{text[-10:]} ({len(text):,} characters)"


def one_line(text: str) -> str:
    """``text`` on one line: line breaks, tabs and other control characters are shown as
    escapes (``\\n``), so text from a path cannot pass for another line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def suggest(name: object, choices: Iterable[str]) -> str:
    """``" Did you mean 'linucb'?"`` when ``name`` is close to one of ``choices``, else ``""``."""
    text = str(name)[: SHOWN_CHARACTERS + 1]  # difflib is quadratic in the length
    close = difflib.get_close_matches(text, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_choice(name: object, choices: Iterable[str], what: str) -> str:
    """Return ``name`` if it is one of ``choices``; else raise naming them (and the closest)."""
    options = list(choices)
    if not isinstance(name, str) or name not in options:
        raise InputValueError(
            f"Unknown {what} {shown(name)}.{suggest(name, options)} Known: {', '.join(options)}."
        )
    return name


def check_real(
    value: object,
    name: str,
    owner: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking type and bounds.

    The error reads "The 'alpha' parameter of LinUCB must be >= 0; got -1."
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(
            f"The {name!r} parameter of {owner} must be a real number; "
            f"got {shown(value)} of type {type(value).__name__}."
        )
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the float range
        number = float("inf")
    if not np.isfinite(number):
        raise InputValueError(
            f"The {name!r} parameter of {owner} must be finite; got {shown(value)}."
        )
    if low is not None and (number <= low if low_open else number < low):
        raise InputValueError(
            f"The {name!r} parameter of {owner} must be {'>' if low_open else '>='} {low:g}; "
            f"got {shown(value)}."
        )
    if high is not None and (number >= high if high_open else number > high):
        raise InputValueError(
            f"The {name!r} parameter of {owner} must be {'<' if high_open else '<='} {high:g}; "
            f"got {shown(value)}."
        )
    return number


def check_integer(
    value: object, name: str, owner: str, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an int after checking type and bounds (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(
            f"The {name!r} parameter of {owner} must be an integer; "
            f"got {shown(value)} of type {type(value).__name__}."
        )
    number = int(value)
    if low is not None and number < low:
        raise InputValueError(
            f"The {name!r} parameter of {owner} must be >= {low}; got {shown(value)}."
        )
    if high is not None and number > high:
        raise InputValueError(
            f"The {name!r} parameter of {owner} must be <= {high}; got {shown(value)}."
        )
    return number


def check_generator(rng: object, owner: str) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``; raise naming ``owner`` otherwise."""
    if not isinstance(rng, np.random.Generator):
        raise InputTypeError(
            f"The 'rng' parameter of {owner} must be a numpy.random.Generator (make one with "
            f"numpy.random.default_rng(seed)); got {shown(rng)} of type {type(rng).__name__}."
        )
    return rng


def check_instance(value: object, kind: type, label: str) -> Any:
    """Return ``value`` if it is a ``kind``; raise ``"The {label} must be a {kind}; got ..."``."""
    if not isinstance(value, kind):
        raise InputTypeError(f"The {label} must be a {kind.__name__}; got {type(value).__name__}.")
    return value


def read_only(array: NDArray[Any]) -> NDArray[Any]:
    """A read-only view of ``array`` (the array itself when it is read-only already): what
    validation found of a log's values stays true of them through the log's own handle."""
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


def as_array(value: ArrayLike, label: str, dtype: type | np.dtype[Any], ndim: int) -> NDArray[Any]:
    """Convert to a contiguous array of ``dtype`` with ``ndim`` axes, or raise naming ``label``.

    Integer targets refuse fractional values and values outside the int64 range instead of
    truncating or wrapping them.
    """
    if (
        type(value) is np.ndarray
        and value.dtype == dtype
        and value.ndim == ndim
        and value.flags.c_contiguous
    ):
        return value  # already what is asked for (the common case, kept cheap)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InputTypeError(f"{label} must be array-like; got {type(value).__name__}.") from error
    if array.ndim != ndim:
        raise InputValueError(f"{label} must have {ndim} axes; got shape {array.shape}.")
    is_bool = np.issubdtype(array.dtype, np.bool_)
    wants_bool = np.issubdtype(dtype, np.bool_)
    if array.size and not (np.issubdtype(array.dtype, np.number) or (is_bool and wants_bool)):
        raise InputTypeError(f"{label} must hold numbers; got dtype {array.dtype}.")
    if array.size and np.issubdtype(dtype, np.integer):
        _check_integral(array, label)
    return np.ascontiguousarray(array, dtype=dtype)


def _check_integral(array: NDArray[Any], label: str) -> None:
    """Raise unless every entry is a whole number that fits in int64."""
    if np.issubdtype(array.dtype, np.inexact):
        bad = ~integral_mask(array) | (np.abs(array) >= 2.0**63)
    elif array.dtype == np.uint64:
        bad = array > np.iinfo(np.int64).max
    else:
        return
    if bad.any():
        index = first_index(bad)
        raise InputTypeError(
            f"{label} must hold integers within int64; {where(index)} is {array[index].item()!r}."
        )


def check_shape(array: NDArray[Any], shape: Sequence[int | None], label: str) -> None:
    """Check ``array.shape`` against ``shape`` (``None`` matches any length)."""
    got = array.shape
    expected = tuple(shape)
    if got == expected:
        return
    if len(got) == len(expected):
        for axis, want in enumerate(expected):  # a plain loop: it runs per request
            if want is not None and got[axis] != want:
                break
        else:
            return
    pretty = "(" + ", ".join("*" if s is None else str(s) for s in expected) + ")"
    raise InputValueError(f"{label} must have shape {pretty}; got {array.shape}.")


SMALL_ARRAY = 64
"""Arrays of at most this many entries (one request's) are checked in Python first: a
numpy call on them costs more than the arithmetic (see :func:`check_finite`)."""


def check_finite(array: NDArray[Any], label: str, mask: NDArray[np.bool_] | None = None) -> None:
    """Raise if any (masked-in) entry is NaN or infinite.

    A small float64 array whose Python sum is finite has only finite entries (a NaN or an
    infinity makes the sum NaN or infinite), so it passes without a numpy call; otherwise
    (a non-finite entry, or finite ones whose sum overflows) the full check below decides.
    """
    if (
        array.size <= SMALL_ARRAY
        and array.dtype.char == "d"
        and math.isfinite(sum(array.ravel().tolist()))
    ):
        return
    finite = np.isfinite(array)
    if finite.all():  # the common case, kept cheap
        return
    bad = ~finite
    if mask is not None:
        bad &= mask
    if bad.any():
        index = first_index(bad)
        raise InputValueError(f"{label} must be finite; {where(index)} is {array[index].item()!r}.")


ONE_BITS = int(np.array(1.0).view(np.uint64))
"""The bits of 1.0 read as an unsigned integer: a float64 in [+0, 1] has bits at most these,
and among non-negative floats the bits' order is the values' order."""

INF_BITS = int(np.array(np.inf).view(np.uint64))
"""The bits of +inf read as an unsigned integer: every finite float >= +0 has bits below."""


def check_positive_probability(array: NDArray[np.float64], label: str) -> float:
    """:func:`check_probability` of a float64 array (entries in (0, 1]) from the extremes of
    its bits read as unsigned integers (two reductions, no masks): at most those of 1.0 (a
    sign bit, NaN or more than 1 is above) and at least 1 (+0.0 is 0). Returns the largest
    entry (0.0 when empty)."""
    if not array.size:
        return 0.0
    bits = array.view(np.uint64)
    top = bits.max()
    if top > ONE_BITS or not bits.min():
        check_probability(array, label)  # raises, naming the first bad entry
    return float(top.view(np.float64))


def check_finite_sign(array: NDArray[np.float64], label: str) -> bool:
    """:func:`check_finite` of a float64 array; returns whether every entry is known to be
    non-negative. Read as unsigned integers, the bits of a finite float >= +0 are below
    those of +inf, and a sign bit, NaN or an infinity is not: one reduction decides for
    arrays of such numbers; other arrays (and small ones) take :func:`check_finite` and
    return False."""
    if array.size > SMALL_ARRAY and array.view(np.uint64).max() < INF_BITS:
        return True
    check_finite(array, label)
    return False


def check_unit_interval(array: NDArray[np.float64], label: str, first: int = 0) -> None:
    """Raise unless every entry of a 1-D float64 array lies in [0, 1] (-0.0 included), naming
    its row (``first`` plus the index). Callers go here when the bits' maximum is above
    :data:`ONE_BITS`: then an entry is NaN, negative, above 1, or -0.0 (which passes)."""
    if not (array.min() >= 0 and array.max() <= 1):  # NaN fails both
        bad = ~((array >= 0) & (array <= 1))
        row = int(np.flatnonzero(bad)[0])
        raise InputValueError(
            f"{label} must lie in [0, 1]; row {first + row} is {array[row].item()!r}."
        )


def check_probability(array: NDArray[Any], label: str, *, allow_zero: bool = False) -> None:
    """Raise unless every entry lies in (0, 1] (or [0, 1] with ``allow_zero``)."""
    low_ok = array >= 0.0 if allow_zero else array > 0.0
    bad = ~(low_ok & (array <= 1.0))
    if bad.any():
        index = first_index(bad)
        interval = "[0, 1]" if allow_zero else "(0, 1]"
        raise InputValueError(
            f"{label} must be probabilities in {interval}; {where(index)} is "
            f"{array[index].item()!r}."
        )


def check_slates(slates: NDArray[np.int64], n_candidates: NDArray[np.int64], label: str) -> None:
    """Check that every slate row holds distinct indices into its own candidate set.

    This is the one slate check of the toolkit: environments, decisions and policies call it
    at their boundary.

    Parameters
    ----------
    slates : ndarray of int64, shape (n_requests, slate_size)
    n_candidates : ndarray of int64, shape (n_requests,)
    """
    outside = (slates < 0) | (slates >= n_candidates[:, None])
    if outside.any():
        row, position = first_index(outside)
        raise InputValueError(
            f"{label} must index the row's candidates (0 to {n_candidates[row] - 1}); "
            f"row {row}, position {position} is {slates[row, position]}."
        )
    if slates.shape[1] > 1:
        ordered = np.sort(slates, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            values, counts = np.unique(slates[row], return_counts=True)
            raise InputValueError(
                f"{label} must not repeat an item within a slate; row {row} shows "
                f"candidate {values[counts > 1][0]} more than once: {brief(slates[row])}."
            )


def renumber_rows(error: InputError, rows: NDArray[np.int64], prefix: str = "") -> InputError:
    """The same error with every ``row N`` it names replaced by ``rows[N]`` (the number of a
    batch's row N in the whole file or log), and ``prefix`` in front (e.g. the file)."""

    def whole(match: re.Match[str]) -> str:
        local = int(match.group(1))
        return f"row {int(rows[local])}" if local < len(rows) else match.group(0)

    return type(error)(prefix + re.sub(r"\brow (\d+)", whole, str(error)))


def check_regular_file(path: os.PathLike[str] | str, what: str) -> Path:
    """Return ``path`` if it is an existing regular file; raise naming it otherwise (a missing
    file, a folder, or a pipe or device, which would block or never end when read)."""
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No {what} at {file}.")
    if file.is_dir():
        raise InputValueError(f"{file} is a folder; give the path of a {what}.")
    if not file.is_file():
        raise InputValueError(
            f"{file} is not a regular file (a pipe or a device?); give the path of a {what}."
        )
    return file


def check_columns(frame: object, required: Sequence[str], label: str) -> None:
    """Raise unless ``frame`` (a DataFrame) has every column in ``required``."""
    columns = getattr(frame, "columns", None)
    if columns is None:
        raise InputTypeError(f"{label} must be a pandas DataFrame; got {type(frame).__name__}.")
    missing = [name for name in required if name not in columns]
    if missing:
        raise InputValueError(f"{label} lacks the column(s) {missing}; it has {list(columns)}.")


def integral_mask(array: NDArray[Any]) -> NDArray[np.bool_]:
    """True where a float entry is a finite whole number."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(array) & (array == np.round(array))


def first_index(mask: NDArray[np.bool_]) -> tuple[int, ...]:
    """The index of the first True entry of ``mask`` (row-major)."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def where(index: tuple[int, ...]) -> str:
    """``"row 3"``, ``"row 3, position 1"`` or ``"row 3, index (1, 2)"`` for error messages."""
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, position {index[1]}"
    return f"row {index[0]}, index {index[1:]}"
