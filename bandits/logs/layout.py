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

MAX_CANDIDATES = 100_000
"""Most candidates a request of a log may have (a slate is chosen among a shortlist)."""

LIMITS = {
    "slate_size": MAX_CANDIDATES,
    "max_candidates": MAX_CANDIDATES,
    "history_length": 100_000,
    "n_context_features": 100_000,
    "n_item_features": 100_000,
}
"""Largest value metadata may declare for each width; larger ones are refused."""


def metadata_int(metadata: dict[bytes, bytes], key: str) -> int:
    """The whole number under ``bandits.<key>``, at most ``LIMITS[key]``."""
    raw = metadata.get(f"bandits.{key}".encode())
    limit = LIMITS.get(key, 2**31 - 1)
    if raw is None or not raw.isdigit() or len(raw) > 10 or int(raw) > limit:
        shown = "nothing" if raw is None else repr(raw[:40].decode(errors="replace"))
        raise InputValueError(
            f"the metadata key 'bandits.{key}' must be a whole number up to {limit:,}; got {shown}."
        )
    return int(raw)
