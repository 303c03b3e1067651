"""A policy's probability of every one-item extension of each logged slate's prefixes: what
cascade DR asks of a target, and what a file of target probabilities stores as
``cascade_dist`` (:mod:`bandits.ope.targets`)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.policy import Policy


def extension_probabilities(policy: Policy, log: LoggedBandit) -> NDArray[np.float64]:
    """A policy's probability of every one-item extension of each logged slate's prefixes,
    shape (n_requests, max_candidates, slate_size): entry ``[i, c, k]`` is
    ``pi(s_i1..s_ik-1, c | x_i)``, the probability of the (k+1)-item slate ``s_1..s_k-1, c``
    (k counted from 0) asked with that slate size, 0 where ``c`` is padding or already in the
    prefix.

    Summed over ``c`` it is the prefix's own probability (1 at the top), so
    ``ext[i, c, k] / ext[i, :, k].sum()`` is the policy's probability of ``c`` at ``k`` given
    the items above. Asks the policy ``max_candidates x slate_size`` times (each a batch).
    """
    obs, slates = log.observation, log.slates
    n, width, size = obs.n_requests, obs.max_candidates, log.slate_size
    rows = np.arange(n)
    result = np.zeros((n, width, size))
    for k in range(size):
        shorter = obs.with_slate_size(k + 1) if k + 1 < size else obs
        prefix = slates[:, :k]
        taken = np.zeros((n, width), dtype=np.bool_)
        taken[rows[:, None], prefix] = True
        allowed = obs.candidate_mask & ~taken
        for c in range(width):
            ok = allowed[:, c]
            if not ok.any():
                continue
            # rows where c cannot extend the prefix ask for the logged slate's instead (valid,
            # distinct items) and are zeroed
            extended = np.column_stack([prefix, np.where(ok, c, slates[:, k])])
            probability = np.asarray(policy.slate_probability(shorter, extended), dtype=np.float64)
            result[:, c, k] = np.where(ok, probability, 0.0)
    return result


def conditional_probabilities(policy: Policy, log: LoggedBandit) -> NDArray[np.float64]:
    """The policy's probability of each candidate at each position given the logged items
    above it, shape (n_requests, max_candidates, slate_size): :func:`extension_probabilities`
    normalised per position (0 at a position whose logged items above the policy never
    shows)."""
    extensions = extension_probabilities(policy, log)
    total = extensions.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, extensions / total, 0.0)
