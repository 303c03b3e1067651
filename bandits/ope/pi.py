"""The pseudo-inverse slate estimator (Swaminathan et al. 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.ope.base import (
    MAX_WEIGHT,
    Estimator,
    EstimatorInput,
    LinearEstimator,
    unsupported_position_mass,
)
from bandits.ope.gamma import exact_pseudo_inverse_weights
from bandits.ope.rips import check_logging_policy, uniform_rows
from bandits.policy import Policy
from bandits.slates import shown_marginals, sum_last_axis
from bandits.validation import InputTypeError, InputValueError


def pseudo_inverse_weights(
    data: EstimatorInput, logging_policy: Policy | None = None
) -> NDArray[np.float64]:
    """``q_pi' Gamma^+ 1_s`` per row, shape (n_requests,), in closed form, or exactly from the
    logging policy.

    ``q_pi`` is the target's candidate-position marginals, ``1_s`` the logged slate's
    (candidate, position) indicator and ``Gamma = E_mu[1_s 1_s']``. With ``A`` the sum over
    positions of the target's probability of the logged item at its position,
    ``pi(s_k at k | x)``, and ``K`` the slate size:

    - product logger (positions chosen independently; Example 4 of the paper):
      ``w = sum_k pi(s_k at k | x) / mu(s_k at k | x) - (K - 1)``;
    - uniform logger over ordered slates of ``K`` distinct items among ``n`` candidates, with
      ``S = sum_k P_pi(s_k shown anywhere | x)``: for ``n > K``,
      ``w = (n - 1) A + (n - 1) / (n - K) S + 1 - K (n - 1) / (n - K)``; for ``n = K`` (whole
      rankings), ``w = (n - 1) A - (n - 2)`` (this module's derivation of ``Gamma^+`` for that
      ``Gamma``; checked against a numerical pseudo-inverse in the tests).

    Uniform rows (:func:`uniform_rows`) take the uniform form. Every other row takes, with
    ``logging_policy``, the exact weight from ``Gamma`` enumerated over the logger's slates
    (:func:`bandits.ope.gamma.exact_pseudo_inverse_weights`), and without it the product
    form, which for a logger that is neither (Plackett-Luce, epsilon-greedy top-k) replaces
    ``Gamma``'s off-diagonal blocks by products of the marginals: an approximation, biased.
    """
    if data.target is None:  # needs_policy refuses earlier; kept for direct callers
        raise InputTypeError("the pseudo-inverse estimator needs the target policy")
    log = data.log
    size = log.slate_size
    target = data.target_marginals
    shown = shown_marginals(target, log.slates)  # pi(s_k at k | x), (n_requests, K)
    logged = log.decision.position_probability
    uniform = uniform_rows(data.log)
    every = bool(uniform.all())  # then the product form is not needed
    product = np.zeros(0)
    if not every:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            product = sum_last_axis(shown / logged) - (size - 1)
    if uniform.any():
        counts = log.observation.n_candidates
        # P_pi(s_j shown at any position), summed over the shown items j
        at_any = np.take_along_axis(target, log.slates[:, :, None], axis=1)  # (n, K, K)
        spread = sum_last_axis(sum_last_axis(at_any))
        direct = sum_last_axis(shown)
        if counts.min(initial=0) == counts.max(initial=0) > size:  # one n: numbers, in place
            form = _uniform_form(float(counts[0]), size, direct, spread)
        else:
            n = counts.astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = (n - 1) / (n - size)
                form = (n - 1) * direct + ratio * spread + 1 - size * ratio
            whole = n <= size
            if whole.any():
                form = np.where(whole, (n - 1) * direct - (n - 2), form)
        product = form if every else np.where(uniform, form, product)
    if logging_policy is not None and not every:
        others = np.flatnonzero(~uniform)
        product[others] = exact_pseudo_inverse_weights(log, target, logging_policy, others)
    # two passes and no temporary when all is well (NaN fails the comparisons)
    if not (product.max(initial=0.0) <= MAX_WEIGHT and product.min(initial=0.0) >= -MAX_WEIGHT):
        row = int(np.flatnonzero(~(np.abs(product) <= MAX_WEIGHT))[0])
        position = int(np.argmin(logged[row]))
        raise InputValueError(
            f"The pseudo-inverse weight of row {row} is too large to estimate with (logged "
            f"position probability {float(logged[row, position]):.6g} at position "
            f"{position}, above {MAX_WEIGHT:.0e} once divided); drop such rows."
        )
    return product


def _uniform_form(
    n: float, size: int, direct: NDArray[np.float64], spread: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(n - 1) A + (n - 1) / (n - K) S + 1 - K (n - 1) / (n - K)`` for one ``n > K``,
    written into ``direct`` (the same operations, in the same order, as per row)."""
    ratio = (n - 1) / (n - size)
    form = np.multiply(direct, n - 1, out=direct)
    form += np.multiply(spread, ratio, out=spread)
    form += 1
    form -= size * ratio
    return form


class PseudoInverseWeights(Estimator):
    """The pseudo-inverse weights as an estimator's importance weights: needs the target's
    marginals, reports the unsupported (candidate, position) mass when marginals are logged.

    Parameters
    ----------
    logging_policy : Policy, optional
        The policy that logged the rows, in the state it logged them in: rows that are not
        uniform then get the exact weight from its enumerated ``Gamma`` instead of the
        product form.
    **options
        The base's ``confidence``, ``interval``, ``bootstrap_samples``, ``reward_range``,
        ``rng``.
    """

    needs_policy = True
    target_needs = "its candidate-position marginals"
    target_uses = frozenset({"marginals"})

    def __init__(self, *, logging_policy: Policy | None = None, **options: Any) -> None:
        self.logging_policy = check_logging_policy(logging_policy, type(self).__name__)
        super().__init__(**options)

    def importance_weights(self, data: EstimatorInput) -> NDArray[np.float64]:
        return data.memo(
            ("pseudo-inverse weights", self),
            lambda: pseudo_inverse_weights(data, self.logging_policy),
        )

    def unsupported_mass(self, data: EstimatorInput) -> NDArray[np.float64] | None:
        return unsupported_position_mass(data)


class PseudoInverse(PseudoInverseWeights, LinearEstimator):
    """Pseudo-inverse (PI, Swaminathan et al. 2017): the mean of ``w_PI r`` with ``r`` the
    slate reward and ``w_PI = q_pi' Gamma^+ 1_s`` (:func:`pseudo_inverse_weights`); for a
    product logger ``w_PI = sum_k pi(s_k at k | x) / mu(s_k at k | x) - (K - 1)``.

    Assumption: the slate reward is additive over positions in expectation,
    ``E[r | x, s] = sum_k phi(x, s_k, k)`` (no interaction between positions), and the logger
    supports the target's (item, position) pairs. Then it is unbiased for uniform loggers and
    for loggers that choose each position independently (exact closed forms), and for any
    logger given as ``logging_policy`` (``Gamma`` enumerated over its slates,
    :mod:`bandits.ope.gamma`; up to 20,000 ordered slates a row). Without the logging policy,
    other loggers take the product form, an approximation (the log holds the logger's
    marginals at best, not the pairwise probabilities ``Gamma`` needs). Interactions between
    positions (cascade, a choice among the whole slate) bias it. ``w_PI`` can be negative;
    its mean under the logger is 1.

    Asks the target for its candidate-position marginals; uses the logged position
    probabilities, and recognises uniform rows from the logged marginals
    (``simulate --log-marginals``) when present.
    """

    name = "pi"

    def weighted_reward_form(self) -> tuple[float, bool] | None:
        return (np.inf, False) if self.interval == "normal" else None

    def affine_terms(self, data: EstimatorInput) -> tuple[float, NDArray[np.float64]]:
        weights = self.importance_weights(data)
        return 0.0, weights
