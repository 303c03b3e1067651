"""Suite-wide settings: one BLAS thread, and the seeds of the statistical tests.

Statistical tests take the ``stat_seed`` fixture. By default they run for seeds 0 and 1; set
``BANDITS_TEST_SEEDS`` to widen them, e.g. ``BANDITS_TEST_SEEDS=0-99 scripts/test -k
statistical`` re-checks the claim that they hold for seeds 0-99 (a range ``a-b`` and
comma-separated seeds can be mixed: ``0-9,42``).
"""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_limits

DEFAULT_SEEDS = "0,1"

_blas = threadpool_limits(limits=1, user_api="blas")  # kept for the whole session


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]``."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        seeds.extend(range(int(low), int(high) + 1) if dash else [int(low)])
    if not seeds:
        raise pytest.UsageError(f"BANDITS_TEST_SEEDS={text!r} names no seed.")
    return seeds


STAT_SEEDS = parse_seeds(os.environ.get("BANDITS_TEST_SEEDS", DEFAULT_SEEDS))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stat_seed" in metafunc.fixturenames:
        metafunc.parametrize("stat_seed", STAT_SEEDS, ids=[f"seed{s}" for s in STAT_SEEDS])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "stat_seed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.statistical)
