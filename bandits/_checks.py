"""Input checks shared by the kernel types, policies, environments and estimators.

Every check raises ``ValueError`` or ``TypeError`` with a message that names the field, the
first bad row (and position) and the value found, e.g.
``"column 'rewards' must be finite; row 3, position 1 is nan."``
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray


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
        raise TypeError(
            f"The {name!r} parameter of {owner} must be a real number; "
            f"got {value!r} of type {type(value).__name__}."
        )
    number = float(value)
    if not np.isfinite(number):
        raise ValueError(f"The {name!r} parameter of {owner} must be finite; got {value!r}.")
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {'>' if low_open else '>='} {low:g}; "
            f"got {value!r}."
        )
    if high is not None and (number >= high if high_open else number > high):
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {'<' if high_open else '<='} {high:g}; "
            f"got {value!r}."
        )
    return number


def check_integer(
    value: object, name: str, owner: str, *, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an int after checking type and bounds (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"The {name!r} parameter of {owner} must be an integer; "
            f"got {value!r} of type {type(value).__name__}."
        )
    number = int(value)
    if low is not None and number < low:
        raise ValueError(f"The {name!r} parameter of {owner} must be >= {low}; got {value!r}.")
    if high is not None and number > high:
        raise ValueError(f"The {name!r} parameter of {owner} must be <= {high}; got {value!r}.")
    return number


def as_array(value: ArrayLike, label: str, dtype: type, ndim: int) -> NDArray:
    """Convert to a contiguous array of ``dtype`` with ``ndim`` axes, or raise naming ``label``."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{label} must be array-like; got {type(value).__name__}.") from error
    if array.ndim != ndim:
        raise ValueError(f"{label} must have {ndim} axes; got shape {array.shape}.")
    if array.size and not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(f"{label} must hold numbers; got dtype {array.dtype}.")
    if array.size and np.issubdtype(dtype, np.integer) and np.issubdtype(array.dtype, np.inexact):
        bad = ~integral_mask(array)
        if bad.any():
            index = _first_index(bad)
            raise TypeError(
                f"{label} must hold integers; {_where(index)} is {array[index].item()!r}."
            )
    return np.ascontiguousarray(array, dtype=dtype)


def check_shape(array: NDArray, shape: Sequence[int | None], label: str) -> None:
    """Check ``array.shape`` against ``shape`` (``None`` matches any length)."""
    expected = tuple(shape)
    if len(array.shape) != len(expected) or any(
        want is not None and got != want for got, want in zip(array.shape, expected, strict=True)
    ):
        pretty = "(" + ", ".join("*" if s is None else str(s) for s in expected) + ")"
        raise ValueError(f"{label} must have shape {pretty}; got {array.shape}.")


def check_finite(array: NDArray, label: str, mask: NDArray | None = None) -> None:
    """Raise if any (masked-in) entry is NaN or infinite."""
    bad = ~np.isfinite(array)
    if mask is not None:
        bad &= mask
    if bad.any():
        index = _first_index(bad)
        raise ValueError(f"{label} must be finite; {_where(index)} is {array[index].item()!r}.")


def check_probability(array: NDArray, label: str) -> None:
    """Raise unless every entry lies in (0, 1]."""
    bad = ~((array > 0.0) & (array <= 1.0))
    if bad.any():
        index = _first_index(bad)
        raise ValueError(
            f"{label} must be probabilities in (0, 1]; {_where(index)} is {array[index].item()!r}."
        )


def check_slates(slates: NDArray, n_candidates: NDArray, label: str) -> None:
    """Check that every slate row holds distinct indices into its own candidate set.

    Parameters
    ----------
    slates : ndarray of int64, shape (n_requests, slate_size)
    n_candidates : ndarray of int64, shape (n_requests,)
    """
    outside = (slates < 0) | (slates >= n_candidates[:, None])
    if outside.any():
        row, position = _first_index(outside)
        raise ValueError(
            f"{label} must index the row's candidates (0 to {n_candidates[row] - 1}); "
            f"row {row}, position {position} is {slates[row, position]}."
        )
    if slates.shape[1] > 1:
        ordered = np.sort(slates, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            values, counts = np.unique(slates[row], return_counts=True)
            raise ValueError(
                f"{label} must not repeat an item within a slate; row {row} shows "
                f"candidate {values[counts > 1][0]} more than once: {slates[row].tolist()}."
            )


def check_generator(rng: object, owner: str) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``; raise naming ``owner`` otherwise."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"The 'rng' parameter of {owner} must be a numpy.random.Generator (make one with "
            f"numpy.random.default_rng(seed)); got {rng!r} of type {type(rng).__name__}."
        )
    return rng


def integral_mask(array: NDArray) -> NDArray:
    """True where a float entry is a finite whole number."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(array) & (array == np.round(array))


def _first_index(mask: NDArray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _where(index: tuple[int, ...]) -> str:
    if len(index) == 1:
        return f"row {index[0]}"
    if len(index) == 2:
        return f"row {index[0]}, position {index[1]}"
    return f"row {index[0]}, index {index[1:]}"


def check_columns(frame: object, required: Sequence[str], label: str) -> None:
    """Raise unless ``frame`` (a DataFrame) has every column in ``required``."""
    columns = getattr(frame, "columns", None)
    if columns is None:
        raise TypeError(f"{label} must be a pandas DataFrame; got {type(frame).__name__}.")
    missing = [name for name in required if name not in columns]
    if missing:
        raise ValueError(f"{label} lacks the column(s) {missing}; it has {list(columns)}.")
