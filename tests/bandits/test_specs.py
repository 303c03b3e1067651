"""Component specs: parse_spec and format_spec on small exact cases."""

from __future__ import annotations

import re

import pytest

from bandits.specs import format_spec, parse_spec
from bandits.validation import InputValueError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("linucb:alpha=1,ridge=-2", {"alpha": 1, "ridge": -2}),
        ("linucb:alpha=0.5,ridge=1e-3", {"alpha": 0.5, "ridge": 0.001}),
        ("x:flag=true,other=false", {"flag": True, "other": False}),
        ("x:mode=fast", {"mode": "fast"}),
        ("x:mode=True", {"mode": "True"}),  # not a TOML literal: kept as text
        ('x:label="a,b",n=2', {"label": "a,b", "n": 2}),
        ("x:arms=[1, 2, 3],alpha=0.5", {"arms": [1, 2, 3], "alpha": 0.5}),
        ('x:m=[[1, 2], [3]],s=["a,b"]', {"m": [[1, 2], [3]], "s": ["a,b"]}),
    ],
)
def test_parse_spec_reads_toml_literals(spec, expected):
    name, params = parse_spec(spec)
    assert name == spec.partition(":")[0]
    assert params == expected
    assert [type(v) for v in params.values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize("spec", ["uniform", "uniform:", "  uniform  ", "uniform: "])
def test_parse_spec_without_params(spec):
    assert parse_spec(spec) == ("uniform", {})


def test_parse_spec_strips_whitespace():
    spec = "  linucb : alpha = 0.5 , ridge = 2 "
    assert parse_spec(spec) == ("linucb", {"alpha": 0.5, "ridge": 2})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "A spec must be a non-empty string like 'linucb:alpha=0.5'; got ''."),
        ("   ", "A spec must be a non-empty string like 'linucb:alpha=0.5'; got '   '."),
        (":alpha=1", "The spec ':alpha=1' has no name before ':'."),
        (
            "linucb:alpha",
            "The spec 'linucb:alpha' has 'alpha'; parameters must be written key=value.",
        ),
        ("linucb:=1", "The spec 'linucb:=1' has '=1'; parameters must be written key=value."),
        ("linucb:alpha=1,alpha=2", "The spec 'linucb:alpha=1,alpha=2' sets 'alpha' twice."),
    ],
)
def test_parse_spec_errors(spec, message):
    with pytest.raises(InputValueError, match=f"^{re.escape(message)}$"):
        parse_spec(spec)


def test_format_spec():
    assert format_spec("uniform", {}) == "uniform"
    assert format_spec("linucb", {"alpha": 0.5, "ridge": 1}) == "linucb:alpha=0.5,ridge=1"


@pytest.mark.parametrize(
    "params", [{"alpha": 0.5, "ridge": 1}, {"arms": [1, 2]}, {"s": ["a"]}, {"x": 1e-07}]
)
def test_format_spec_round_trips(params):
    assert parse_spec(format_spec("p", params)) == ("p", params)


def test_format_spec_round_trips_bools():
    assert parse_spec(format_spec("p", {"flag": True})) == ("p", {"flag": True})
