"""Small inputs (one request's arrays) take short checks: a Python sum for finiteness, a count
of padding for the history, first lengths compared before ``check_shape``. They must accept
exactly what the full checks accept and fail with the same errors."""

from __future__ import annotations

import numpy as np
import pytest

from bandits import observation as observation_module
from bandits import validation
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import PAD_ID, SlateObservation
from bandits.validation import InputTypeError, InputValueError, check_finite


def full_checks(monkeypatch) -> None:
    """Send every array, however small, through the numpy checks."""
    monkeypatch.setattr(validation, "SMALL_ARRAY", -1)
    monkeypatch.setattr(observation_module, "SMALL_ARRAY", -1)


def error_of(call) -> str | None:
    try:
        call()
    except (InputValueError, InputTypeError) as error:
        return f"{type(error).__name__}: {error}"
    return None


FINITE_CASES = [
    np.zeros((1, 5)),
    np.array([[1.0, np.nan, 2.0]]),
    np.array([[np.inf, 1.0], [2.0, -np.inf]]),
    np.array([[1.0, 2.0], [3.0, -np.inf]]),
    np.array([[np.inf, -np.inf]]),  # a NaN sum from two infinities
    np.array([[1e308, 1e308, -1e308]]),  # finite entries whose sum overflows
    np.array([[-1e308, -1e308]]),
    np.zeros((0, 3)),
    np.array([1.0, 2.0, np.nan]),
]


@pytest.mark.parametrize("array", FINITE_CASES, ids=range(len(FINITE_CASES)))
def test_check_finite_of_a_small_array_answers_as_the_numpy_check(monkeypatch, array):
    short = error_of(lambda: check_finite(array, "'context' of X"))
    full_checks(monkeypatch)
    assert short == error_of(lambda: check_finite(array, "'context' of X"))
    assert (short is None) == bool(np.isfinite(array).all())


def test_check_finite_of_a_small_array_with_a_mask_ignores_masked_out_entries():
    array = np.array([[1.0, np.nan], [np.inf, 2.0]])
    check_finite(array, "x", np.array([[True, False], [False, True]]))  # only padding is bad
    with pytest.raises(InputValueError, match=r"'x' must be finite; row 1, position 0 is inf"):
        check_finite(array, "'x'", np.array([[True, False], [True, True]]))


def request(**changes):
    """The arguments of a valid observation of two requests, with ``changes``."""
    items = ItemTable(np.array([3, 5, 8]), np.eye(3))
    values = {
        "context": np.array([[0.5, -1.0], [2.0, 3.0]]),
        "candidate_ids": np.array([[5, 3, PAD_ID], [8, 5, 3]]),
        "n_candidates": np.array([2, 3]),
        "slate_size": 1,
        "history": np.array([[8, PAD_ID], [PAD_ID, PAD_ID]]),
        "request_ids": np.array([7, 9]),
        "user_ids": np.array([1, PAD_ID]),
        "times": np.array([4, 6]),
        "items": items,
    }
    return values | changes


BAD_REQUESTS = {
    "context NaN": (
        {"context": np.array([[0.5, np.nan], [2.0, 3.0]])},
        r"'context' of SlateObservation must be finite; row 0, position 1 is nan\.",
    ),
    "context inf": (
        {"context": np.array([[0.5, 1.0], [-np.inf, 3.0]])},
        r"'context' of SlateObservation must be finite; row 1, position 0 is -inf\.",
    ),
    "history gap": (
        {"history": np.array([[PAD_ID, 8], [PAD_ID, PAD_ID]])},
        r"'history' of SlateObservation must hold item ids >= 0 followed only by -1 padding; "
        r"row 0, entry 1 is 8\.",
    ),
    "history below the pad": (
        {"history": np.array([[PAD_ID, PAD_ID], [-2, PAD_ID]])},
        r"'history' .* row 1, entry 0 is -2\.",
    ),
    "context rows": (
        {"context": np.zeros((3, 2))},
        r"'context' of SlateObservation must have shape \(2, \*\); got \(3, 2\)\.",
    ),
    "n_candidates rows": (
        {"n_candidates": np.array([2])},
        r"'n_candidates' of SlateObservation must have shape \(2\); got \(1,\)\.",
    ),
    "history rows": (
        {"history": np.full((1, 2), PAD_ID)},
        r"'history' of SlateObservation must have shape \(2, \*\); got \(1, 2\)\.",
    ),
    "request_ids rows": (
        {"request_ids": np.array([1, 2, 3])},
        r"'request_ids' of SlateObservation must have shape \(2\); got \(3,\)\.",
    ),
    "user_ids rows": (
        {"user_ids": np.array([1])},
        r"'user_ids' of SlateObservation must have shape \(2\); got \(1,\)\.",
    ),
    "times rows": (
        {"times": np.zeros(0, dtype=np.int64)},
        r"'times' of SlateObservation must have shape \(2\); got \(0,\)\.",
    ),
    "slate_size 0": (
        {"slate_size": 0},
        r"The 'slate_size' parameter of SlateObservation must be >= 1; got 0\.",
    ),
    "slate_size fractional": (
        {"slate_size": 1.5},
        r"The 'slate_size' parameter of SlateObservation must be an integer; got 1\.5 of type "
        r"float\.",
    ),
    "slate_size bool": (
        {"slate_size": True},
        r"'slate_size' parameter of SlateObservation must be an integer; got True of type bool",
    ),
    "slate_size above the candidates": (
        {"slate_size": 3},
        r"'n_candidates' of SlateObservation must lie between slate_size=3 and "
        r"max_candidates=3; row 0 is 2\.",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_small_requests_fail_naming_field_row_and_value(monkeypatch, case):
    changes, message = BAD_REQUESTS[case]
    with pytest.raises((InputValueError, InputTypeError), match=message):
        SlateObservation(**request(**changes))
    short = error_of(lambda: SlateObservation(**request(**changes)))
    full_checks(monkeypatch)
    assert short == error_of(lambda: SlateObservation(**request(**changes)))


@pytest.mark.parametrize(
    "history", [np.full((2, 3), PAD_ID), np.zeros((2, 0), dtype=np.int64), [[8, 5], [3, -1]]]
)
def test_valid_small_histories_pass_both_checks(monkeypatch, history):
    short = SlateObservation(**request(history=history))
    full_checks(monkeypatch)
    full = SlateObservation(**request(history=history))
    np.testing.assert_array_equal(short.history, full.history)


def test_a_numpy_integer_slate_size_becomes_an_int():
    obs = SlateObservation(**request(slate_size=np.int64(2)))
    assert obs.slate_size == 2 and type(obs.slate_size) is int


def test_the_intercept_column_follows_the_context_for_few_and_many_requests():
    few = SlateObservation(**request())
    np.testing.assert_array_equal(few.context_with_intercept, [[0.5, -1.0, 1.0], [2.0, 3.0, 1.0]])
    assert not few.context_with_intercept.flags.writeable
    n = observation_module.SMALL_ARRAY + 3  # more requests than a small array holds
    rng = np.random.default_rng(0)
    many = few.take(np.zeros(n, dtype=np.int64))
    object.__setattr__(many, "context", rng.normal(size=(n, 2)))
    expected = np.column_stack([many.context, np.ones(n)])
    np.testing.assert_array_equal(many.context_with_intercept, expected)


def test_feedback_without_signals_gets_its_own_dict_and_checks_rewards():
    given: dict = {}
    feedback = SlateFeedback(np.array([[1.0]]), given)
    assert feedback.signals == {} and feedback.signals is not given
    assert SlateFeedback(np.array([[1.0]])).signals is not SlateFeedback(np.ones((1, 1))).signals
    with pytest.raises(InputValueError, match=r"'rewards' of SlateFeedback must be finite; "):
        SlateFeedback(np.array([[np.nan]]))
    with pytest.raises(InputTypeError, match="'signals' of SlateFeedback"):
        SlateFeedback(np.ones((1, 1)), None)  # type: ignore[arg-type]
