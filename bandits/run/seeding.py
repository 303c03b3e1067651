"""Turn one integer seed into independent streams, one per component of a run."""

from __future__ import annotations

import numpy as np


def spawn_generators(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators from ``SeedSequence(seed).spawn(n)``."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)]


def spawn_int_seed(generator: np.random.Generator) -> int:
    """An int seed (for APIs such as ``gymnasium.Env.reset``) drawn from ``generator``."""
    return int(generator.integers(0, 2**31 - 1))
