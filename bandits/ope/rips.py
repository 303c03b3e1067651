"""Reward-interaction IPS (McInerney et al. 2020; Kiyohara et al. 2022): position k's reward
weighed by the ratio of the probabilities of the top-k prefix of the slate."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.base import EstimatorInput
from bandits.ope.positionwise import PositionwiseEstimator, ratios
from bandits.ope.targets import TargetRows
from bandits.policy import Policy
from bandits.slates import count_ordered_slates
from bandits.validation import InputTypeError, InputValueError

PREFIX_TOLERANCE = 1e-9
"""Relative tolerance of the checks that recognise uniform and product logged probabilities."""


def prefix_probabilities(policy: Policy, log: LoggedBandit) -> NDArray[np.float64]:
    """A policy's probability of each logged slate's top-k prefix, k = 1..slate_size, shape
    (n_requests, slate_size): the probability of the k-item slate ``s_1..s_k`` asked of the
    policy on the same requests with ``slate_size`` k.

    That equals the probability of the prefix for a policy that fills a slate from the top
    (uniform, top-k, epsilon-greedy, Plackett-Luce, VW's slot-by-slot slates: every policy in
    ``policies/``); a policy whose choice at the top depends on the slate size breaks it.
    """
    obs, slates = log.observation, log.slates
    columns = [
        np.asarray(
            policy.slate_probability(obs.with_slate_size(k), slates[:, :k]), dtype=np.float64
        )
        for k in range(1, log.slate_size)
    ]
    columns.append(np.asarray(policy.slate_probability(obs, slates), dtype=np.float64))
    return np.column_stack(columns)


def uniform_rows(log: LoggedBandit) -> NDArray[np.bool_]:
    """Rows whose logger is taken to be uniform over ordered slates of distinct candidates,
    shape (n_requests,): the logged position probabilities are ``1/n`` and the slate
    probability ``(n - K)! / n!`` for the row's ``n`` candidates, and, when the log carries
    marginals, every real candidate's marginal is ``1/n`` at every position."""
    obs = log.observation
    n = obs.n_candidates.astype(np.float64)
    # |x - 1| <= tolerance is numpy.isclose(x, 1, rtol=tolerance, atol=0), without its
    # temporaries; a position at a time (a reduction along the short axis is slow)
    slate = log.decision.slate_probability * count_ordered_slates(obs.n_candidates, log.slate_size)
    uniform = _near_one(slate)
    position = log.decision.position_probability
    for k in range(log.slate_size):
        uniform &= _near_one(np.multiply(position[:, k], n, out=slate))
    marginals = log.decision.candidate_position_probability
    if marginals is not None:
        scaled = np.isclose(marginals * n[:, None, None], 1.0, rtol=PREFIX_TOLERANCE, atol=0.0)
        uniform &= (scaled | ~obs.candidate_mask[:, :, None]).all(axis=(1, 2))
    return np.asarray(uniform, dtype=np.bool_)


def _near_one(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """``|values - 1| <= PREFIX_TOLERANCE`` (False for NaN and inf); ``values`` is overwritten."""
    np.subtract(values, 1.0, out=values)
    np.abs(values, out=values)
    return np.less_equal(values, PREFIX_TOLERANCE)


def logged_prefix_probabilities(log: LoggedBandit, owner: str = "RIPS") -> NDArray[np.float64]:
    """The logger's probability of each logged slate's top-k prefix, shape
    (n_requests, slate_size), from what the log holds alone.

    Exact for k = 1 (the logged position probability of the top item) and k = slate_size (the
    logged slate probability). For 1 < k < slate_size, per row:

    - *uniform* rows (every logged position probability is ``1/n`` and the slate probability
      ``(n - K)! / n!`` for the row's ``n`` candidates): ``(n - k)! / n!``;
    - *product* rows (the slate probability is the product of the position probabilities):
      the product of the first ``k`` position probabilities, i.e. the logger is assumed to
      choose each position independently;
    - any other row is refused (pass ``logging_policy``), naming ``owner`` (the estimator).
    """
    decision = log.decision
    position, slate = decision.position_probability, decision.slate_probability
    size = log.slate_size
    prefixes = np.empty_like(position)
    prefixes[:, 0] = position[:, 0]
    prefixes[:, -1] = slate
    if size <= 2:
        return prefixes
    n = log.observation.n_candidates.astype(np.float64)
    uniform = uniform_rows(log)
    product = np.isclose(slate, position.prod(axis=1), rtol=PREFIX_TOLERANCE, atol=0.0)
    unknown = ~(uniform | product)
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        middle_sizes = "2" if size == 3 else f"2 to {size - 1}"
        raise InputValueError(
            f"{owner} needs the logger's probability of each slate's top-k prefix; the log holds "
            f"only the whole slate's and each position's, and row {row} is neither uniform "
            f"(position probabilities 1/{int(n[row])}, slate probability "
            f"1/{count_ordered_slates(log.observation.n_candidates[row : row + 1], size)[0]:.0f})"
            f" nor a product of its position probabilities (slate "
            f"{float(slate[row]):.6g}, product {float(position[row].prod()):.6g}), so its "
            f"prefixes of {middle_sizes} items cannot be derived. Pass the logging policy "
            f"({owner}(logging_policy=...), e.g. policies.make_policy of the log's 'policy' "
            f"column) or use slates of at most 2 items."
        )
    ks = np.arange(1, size + 1, dtype=np.float64)
    uniform_prefix = 1.0 / np.cumprod(n[:, None] - ks[None, :] + 1.0, axis=1)
    product_prefix = np.cumprod(position, axis=1)
    middle = slice(1, size - 1)
    prefixes[:, middle] = np.where(
        uniform[:, None], uniform_prefix[:, middle], product_prefix[:, middle]
    )
    return prefixes


def prefix_weights(
    data: EstimatorInput, logging_policy: Policy | None, owner: str
) -> NDArray[np.float64]:
    """``pi(s_1..s_k | x) / mu(s_1..s_k | x)``, shape (n_requests, slate_size): the target's
    prefix probabilities over the logger's, from ``logging_policy`` when given, else from the
    log (:func:`logged_prefix_probabilities`, whose refusal names ``owner``)."""
    if data.target is None:  # needs_policy refuses earlier; kept for direct callers
        raise InputTypeError(f"{owner} needs the target policy")
    if isinstance(data.target, TargetRows):
        target = data.target.prefixes(data.log.slates)
    else:
        target = prefix_probabilities(data.target, data.log)
    if logging_policy is not None:
        logged = prefix_probabilities(logging_policy, data.log)
    else:
        logged = logged_prefix_probabilities(data.log, owner)
    return ratios(target, logged, "reward-interaction (prefix)")


def check_logging_policy(logging_policy: object, owner: str) -> Policy | None:
    """``logging_policy`` if it is None or a Policy; a TypeError naming ``owner`` otherwise."""
    if logging_policy is not None and not isinstance(logging_policy, Policy):
        raise InputTypeError(
            f"The 'logging_policy' parameter of {owner} must be a Policy object (act, "
            f"slate_probability, ...), e.g. policies.make_policy(spec); got "
            f"{type(logging_policy).__name__} {logging_policy!r}."
        )
    return logging_policy


class RIPS(PositionwiseEstimator):
    """Reward-interaction IPS (cascade IPS): the mean of ``sum_k w_k r_k`` with
    ``w_k = pi(s_1..s_k | x) / mu(s_1..s_k | x)``, the ratio of the probabilities of the
    slate's top-k prefix (obp's ``SlateRewardInteractionIPS``).

    Assumption (cascade): the expected reward at position ``k`` depends only on the items at
    positions ``1..k`` (``E[r_k | x, s] = q(x, s_1..s_k, k)``: users read from the top), and
    the logger supports the target's prefixes. Then it is unbiased; its weights lie between
    IIPS's and the whole-slate weight (``w_K`` is slate IPS's ``w``). A reward that depends on
    items below its position (e.g. a choice among the whole slate) biases it.

    What the log must carry: the target is asked for the probability of each prefix
    (:func:`prefix_probabilities`). The logger's prefix probabilities come from
    ``logging_policy`` when given, otherwise from the log alone
    (:func:`logged_prefix_probabilities`: exact for slates of 1 or 2 items and for uniform
    loggers, an independence assumption for product rows, refused otherwise). The
    ``bandits/ope`` kernel cannot rebuild the logger from the log's ``policy`` column (it
    does not import ``policies``), so a caller that can passes it here.

    Parameters
    ----------
    logging_policy : Policy, optional
        The policy that logged the rows, in the state it logged them in (asked for its
        probability of each logged prefix).
    **options
        The base's ``confidence``, ``interval``, ``bootstrap_samples``, ``reward_range``,
        ``rng``.
    """

    name = "rips"
    target_needs = "its probability of each logged slate's top-k prefix"
    target_uses = frozenset({"prefix"})

    def __init__(self, *, logging_policy: Policy | None = None, **options: Any) -> None:
        self.logging_policy = check_logging_policy(logging_policy, type(self).__name__)
        super().__init__(**options)

    def position_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        return prefix_weights(data, self.logging_policy, type(self).__name__)
