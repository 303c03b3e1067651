"""Cascade doubly robust estimation of slates (Kiyohara, Saito, Matsuhiro, Narita, Shimizu and
Yamamoto, WSDM 2022): reward-interaction IPS with a reward model as a control variate at
every position."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.logged import LoggedBandit
from bandits.ope.base import EstimatorInput
from bandits.ope.model_based import ModelBasedEstimator
from bandits.ope.rips import RIPS
from bandits.ope.targets import TargetRows
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


class CascadeDR(ModelBasedEstimator, RIPS):
    """Cascade doubly robust (Cascade-DR; obp's ``SlateCascadeDoublyRobust``): the mean over
    rows of

        sum_k [ w_1:k (r_k - q(x, s_k, k)) + w_1:k-1 sum_c pi(c at k | x, s_1..s_k-1) q(x, c, k) ]

    with RIPS's prefix weights ``w_1:k = pi(s_1..s_k | x) / mu(s_1..s_k | x)`` (``w_1:0 = 1``)
    and ``q`` the cross-fitted reward model.

    Assumption (cascade, as :class:`~bandits.ope.rips.RIPS`): the expected reward at position
    ``k`` depends only on the context and the items at positions ``1..k``, and the logger
    supports the target's prefixes. Then it is unbiased *whatever the model*: given the
    prefix ``s_1..s_k-1``, the model's two terms at ``k`` have the same expectation under the
    logger, so they only cancel noise. A reward that depends on items below its position
    biases it (as it does RIPS).

    The model (the paper's ``Q_k``): ``q(x, s_k, k)``, the reward at position ``k`` predicted
    from the context, the item at ``k`` and the position (the ``model=`` of the other model
    estimators, cross-fitted), not from the items above nor the rewards below. The paper fits
    ``Q_k(x, s_1..s_k)``, the expected reward from ``k`` to the bottom of the slate under the
    target, by regressing backwards from the last position; that choice lowers the variance
    further and is not built here. Any model keeps the estimator unbiased under a cascade.

    What it asks: the target's prefix probabilities (as RIPS) and its probability of every
    one-item extension of each logged prefix (:func:`extension_probabilities`, ``max_candidates
    x slate_size`` calls); the logger's prefix probabilities as RIPS gets them (the log, or
    ``logging_policy``). The diagnostics describe RIPS's weights. With one position it is DR.

    Parameters
    ----------
    logging_policy : Policy, optional
        As :class:`~bandits.ope.rips.RIPS`.
    **options
        :class:`~bandits.ope.model_based.ModelBasedEstimator`'s ``model``, ``ridge``,
        ``folds`` and the base's options.
    """

    name = "cascade-dr"
    target_needs = "its probabilities of each logged slate's prefixes and of their extensions"
    target_uses = frozenset({"prefix", "extensions"})

    def weighted_parts(
        self, data: EstimatorInput
    ) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64]], ...]:
        """``(w_1:k, r_k - q_k)`` and ``(w_1:k-1, b_k)``, ``b_k`` the target's expected model
        reward at ``k`` given the logged items above (0 where the target never shows the
        prefix, whose weight is then 0)."""
        log = data.log
        if data.target is None:  # needs_policy refuses earlier; kept for direct callers
            raise TypeError("cascade DR needs the target policy")
        q = self.predictions(log)
        weights = self._weights(data)
        shown = np.take_along_axis(q, log.slates[:, None, :], axis=1)[:, 0, :]
        if isinstance(data.target, TargetRows):  # slates of one item (check_uses): marginals
            extensions = data.target.marginals[:, :, :1]
        else:
            extensions = extension_probabilities(data.target, log)
        total = extensions.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            baseline = np.where(total > 0, (extensions * q).sum(axis=1) / total, 0.0)
        before = np.column_stack([np.ones(len(log)), weights[:, :-1]])
        return (weights, log.rewards - shown), (before, baseline)
