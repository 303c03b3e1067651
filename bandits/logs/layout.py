"""Names shared by the log formats: metadata keys, column prefixes, limits."""

from __future__ import annotations

from bandits.validation import InputValueError

VERSION_KEY = b"bandits.schema_version"
SIGNAL_PREFIX = "signal."
MARGINALS_COLUMN = "candidate_position_probability"
SIZE_KEYS = (
    "slate_size",
    "n_context_features",
    "n_item_features",
    "history_length",
    "max_candidates",
)
"""Widths every log's metadata declares (``bandits.<key>``)."""

MAX_WIDTH = 2**31 - 1
"""Largest width metadata may declare; larger values are refused (a corrupt file)."""


def metadata_int(metadata: dict[bytes, bytes], key: str) -> int:
    """The whole number under ``bandits.<key>``, at most ``MAX_WIDTH``."""
    raw = metadata.get(f"bandits.{key}".encode())
    if raw is None or not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_WIDTH:
        raise InputValueError(
            f"the metadata key 'bandits.{key}' must be a whole number up to {MAX_WIDTH}; "
            f"got {raw if raw is None else raw[:40]!r}."
        )
    return int(raw)
