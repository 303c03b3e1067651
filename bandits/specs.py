"""Parse component specs such as ``"linucb:alpha=0.5,ridge=1"`` into a name and parameters."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from bandits.validation import InputTypeError, InputValueError, shown


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name:key=value,key=value"`` into ``("name", {"key": value, ...})``.

    Values are read as TOML literals (``1``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``);
    anything that is not a TOML literal is kept as a plain string.
    """
    if not isinstance(spec, str):
        raise InputTypeError(
            f"A spec must be a string like 'linucb:alpha=0.5'; got {type(spec).__name__}."
        )
    if not spec.strip():
        raise InputValueError(
            f"A spec must be a non-empty string like 'linucb:alpha=0.5'; got {shown(spec)}."
        )
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise InputValueError(f"The spec {shown(spec)} has no name before ':'.")
    params: dict[str, Any] = {}
    for item in _split_top_level(rest):
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise InputValueError(
                f"The spec {shown(spec)} has {shown(item)}; parameters must be written key=value."
            )
        if key in params:
            raise InputValueError(f"The spec {spec!r} sets {key!r} twice.")
        params[key] = parse_value(text.strip())
    return name, params


def format_spec(name: str, params: dict[str, Any]) -> str:
    """The inverse of :func:`parse_spec` for simple values: ``"linucb:alpha=0.5"``."""
    if not params:
        return name
    return name + ":" + ",".join(f"{key}={_format_value(value)}" for key, value in params.items())


def _format_value(value: Any) -> str:
    """A value written so that :func:`parse_spec` reads it back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        plain = parse_value(value) == value and not any(c in value for c in ",='\"[]{}")
        return value if plain else json.dumps(value)
    if isinstance(value, list | tuple):
        items = (json.dumps(v) if isinstance(v, str) else _format_value(v) for v in value)
        return "[" + ", ".join(items) + "]"
    return repr(value)


def parse_value(text: str) -> Any:
    """A TOML literal (``1``, ``0.5``, ``true``, ``\"x\"``, ``[1, 2]``), or the text itself.

    A ``#`` outside quotes (TOML would read the rest as a comment and drop it silently) and a
    line break are refused; quote the value to keep them (``name="a#b"``).
    """
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            raise InputValueError(
                f"The value {shown(text)} has a '#', which would cut it short; quote the value "
                f'("...") to keep it.'
            )
    if "\n" in text or "\r" in text:
        raise InputValueError(f"The value {shown(text)} spans several lines; give it on one line.")
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    except ValueError as error:  # e.g. an integer of thousands of digits
        raise InputValueError(f"The value {text[:40]!r}... cannot be read: {error}") from None
    except RecursionError:
        raise InputValueError(f"The value {text[:40]!r}... is nested too deeply.") from None


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes."""
    items: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise InputValueError(
            f"The parameters {shown(text)} have an unclosed {'quote' if quote else 'bracket'}."
        )
    if current or items:
        items.append("".join(current))
    return [item for item in items if item.strip()]
