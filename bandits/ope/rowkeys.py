"""Per-row random numbers keyed by the request, so they do not depend on how a log is batched.

Cross-fitting folds and Poisson bootstrap weights must be the same for a row whether the log
is read whole, in Parquet batches or partition by partition. They are therefore drawn from a
counter-based generator: SplitMix64 (Steele, Lea and Flood 2014) applied to a key made of the
row's ``request_id`` and ``time`` and a salt drawn once from the estimator's
``numpy.random.Generator``. Rows that share request id and time share their draws (a cluster).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)

POISSON_MAX = 24
"""Poisson(1) draws are capped here (P(X > 24) < 1e-25)."""

_POISSON_CDF = np.cumsum(
    np.exp(-1.0) / np.cumprod(np.concatenate([[1.0], np.arange(1.0, POISSON_MAX + 1)]))
)


def splitmix64(values: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """SplitMix64's finaliser of ``values + golden``: a bijection of uint64 that mixes every
    bit; any shape."""
    with np.errstate(over="ignore"):
        z = values + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def row_keys(log: LoggedBandit, salt: int) -> NDArray[np.uint64]:
    """ndarray of uint64, shape (n_requests,): a hash of (salt, request id, time) per row."""
    obs = log.observation
    salted = splitmix64(obs.request_ids.astype(np.uint64) ^ np.uint64(salt))
    return splitmix64(salted ^ obs.times.astype(np.uint64))


def uniforms(keys: NDArray[np.uint64], stream: int, count: int) -> NDArray[np.float64]:
    """``count`` uniforms in [0, 1) per key, shape (count, n_keys); ``stream`` separates uses."""
    offsets = (np.arange(count, dtype=np.uint64) + np.uint64(1)) * np.uint64(stream * 2 + 1)
    with np.errstate(over="ignore"):
        bits = splitmix64(keys[None, :] + offsets[:, None] * _GOLDEN)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def poisson_weights(keys: NDArray[np.uint64], count: int) -> NDArray[np.float64]:
    """``count`` Poisson(1) draws per key, shape (count, n_keys), by inverting the CDF."""
    draws = np.searchsorted(_POISSON_CDF, uniforms(keys, 1, count), side="right")
    return np.minimum(draws, POISSON_MAX).astype(np.float64)


def folds_of(keys: NDArray[np.uint64], n_folds: int) -> NDArray[np.int64]:
    """The fold of each key, uniform over ``range(n_folds)``, shape (n_keys,)."""
    return (splitmix64(keys ^ np.uint64(0x5DEECE66D)) % np.uint64(n_folds)).astype(np.int64)
