"""Adaptive IPS's learned partition of the context space (after Kiyohara et al. 2023): a tree
grown greedily on context features, each split taken where it lowers the sum over leaves of
each leaf's smallest estimated MSE among the user behaviors
(:func:`bandits.ope.adaptive_ips.estimated_mse`).

A leaf's estimate is the mean over *all* ``n`` rows of a behavior's per-row term times the
indicator of the leaf, so its moments come from the leaf's sums (zeros elsewhere). Candidate
thresholds of a feature are up to ``candidates`` quantiles of the node's values; a split is
kept when both children hold at least ``min_leaf`` rows and the children's summed MSE is below
the node's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bandits.validation import InputValueError

CANDIDATES = 32
"""Candidate thresholds per feature and node (quantiles of the node's values)."""


def estimated_mse(
    means: NDArray[np.float64], covariance: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """The estimated mean squared error of each behavior's estimate of one part's value.

    ``means`` (b,) and ``covariance`` (b, b) are those of the part's per-row terms under the
    behaviors, the last the standard (unbiased) one (a row outside the part has term 0), over
    ``n`` rows. Behavior ``b``'s bias is estimated by ``D_b = V_b - V_standard``, and its
    square, less the variance of ``D_b`` that inflates it, by ``max(D_b^2 - var(D_b), 0)``;
    the MSE estimate adds ``var(V_b)``:

        MSE_b = max((V_b - V_std)^2 - var(V_b - V_std), 0) + var(V_b)

    with ``var`` the sample (co)variances over ``n``. Returns shape (b,).
    """
    standard = means.shape[0] - 1
    if n < 2:
        result = np.full(means.shape[0], np.inf)
        result[standard] = 0.0
        return result
    variance = np.diag(covariance) / n
    difference = means - means[standard]
    spread = (variance + variance[standard] - 2 * covariance[:, standard] / n).clip(min=0.0)
    return np.maximum(difference**2 - spread, 0.0) + variance


def leaf_mse(
    sums: NDArray[np.float64], squares: NDArray[np.float64], n: int
) -> NDArray[np.float64]:
    """Per candidate leaf, the smallest estimated MSE over the behaviors, shape (m,).

    ``sums`` (m, b) and ``squares`` (m, b, b) are the leaves' sums of the per-row terms and of
    their outer products; each leaf's estimate is a mean over ``n`` rows (zeros outside it).
    """
    means = sums / n
    covariance = (squares - n * means[:, :, None] * means[:, None, :]) / max(n - 1, 1)
    return np.array([estimated_mse(m, c, n).min() for m, c in zip(means, covariance, strict=True)])


@dataclass(frozen=True)
class Node:
    """A node of the tree: a leaf (``feature`` None) numbered ``leaf``, or a split sending
    ``context[:, feature] <= threshold`` to ``low`` and the rest to ``high``."""

    feature: int | None = None
    threshold: float = 0.0
    low: Node | None = None
    high: Node | None = None
    leaf: int = 0

    def describe(self, names: list[str]) -> str:
        """The tree as text, each leaf by its name in ``names`` (e.g. its behavior)."""
        if self.feature is None or self.low is None or self.high is None:
            return names[self.leaf]
        j, t = self.feature, self.threshold
        return (
            f"x{j} <= {t:.4g}: [{self.low.describe(names)}], "
            f"x{j} > {t:.4g}: [{self.high.describe(names)}]"
        )


class BehaviorTree:
    """A partition of the context space grown on per-row terms.

    Parameters
    ----------
    root : Node
    n_leaves : int
    """

    def __init__(self, root: Node, n_leaves: int) -> None:
        self.root = root
        self.n_leaves = n_leaves

    @classmethod
    def grow(
        cls,
        context: NDArray[np.float64],
        terms: NDArray[np.float64],
        *,
        max_depth: int,
        min_leaf: int,
    ) -> BehaviorTree:
        """Grow on rows' ``context`` (n, q) and per-behavior terms (n, b)."""
        n = context.shape[0]
        counter = [0]

        def build(rows: NDArray[np.int64], depth: int) -> Node:
            best = (
                _best_split(context[rows], terms[rows], n, min_leaf) if depth < max_depth else None
            )
            if best is None:
                counter[0] += 1
                return Node(leaf=counter[0] - 1)
            feature, threshold = best
            below = context[rows, feature] <= threshold
            return Node(
                feature=feature,
                threshold=threshold,
                low=build(rows[below], depth + 1),
                high=build(rows[~below], depth + 1),
            )

        root = build(np.arange(n), 0)
        return cls(root, counter[0])

    def leaf_of(self, context: NDArray[np.float64]) -> NDArray[np.int64]:
        """Each row's leaf, shape (n,)."""
        result = np.zeros(context.shape[0], dtype=np.int64)

        def walk(node: Node, rows: NDArray[np.int64]) -> None:
            if node.feature is None or node.low is None or node.high is None:
                result[rows] = node.leaf
                return
            if node.feature >= context.shape[1]:
                raise InputValueError(
                    f"The adaptive IPS tree splits on context column {node.feature}; this batch's "
                    f"context has {context.shape[1]} columns."
                )
            below = context[rows, node.feature] <= node.threshold
            walk(node.low, rows[below])
            walk(node.high, rows[~below])

        walk(self.root, np.arange(context.shape[0]))
        return result


def _best_split(
    context: NDArray[np.float64], terms: NDArray[np.float64], n: int, min_leaf: int
) -> tuple[int, float] | None:
    """The (feature, threshold) whose children's summed estimated MSE is smallest and below
    the node's own, each child holding at least ``min_leaf`` rows; None when none is."""
    size = context.shape[0]
    if size < 2 * min_leaf:
        return None
    outer = terms[:, :, None] * terms[:, None, :]
    total, total_squares = terms.sum(axis=0), outer.sum(axis=0)
    best_mse = float(leaf_mse(total[None], total_squares[None], n)[0])
    best: tuple[int, float] | None = None
    for feature in range(context.shape[1]):
        order = np.argsort(context[:, feature], kind="stable")
        values = context[order, feature]
        # cut after position i (rows order[:i+1] go low) where the value changes
        cuts = np.flatnonzero(values[1:] > values[:-1])
        cuts = cuts[(cuts + 1 >= min_leaf) & (size - cuts - 1 >= min_leaf)]
        if cuts.size == 0:
            continue
        if cuts.size > CANDIDATES:
            cuts = cuts[np.linspace(0, cuts.size - 1, CANDIDATES).round().astype(np.int64)]
        low = np.cumsum(terms[order], axis=0)[cuts]
        low_squares = np.cumsum(outer[order], axis=0)[cuts]
        mse = leaf_mse(low, low_squares, n) + leaf_mse(total - low, total_squares - low_squares, n)
        pick = int(np.argmin(mse))
        if mse[pick] < best_mse:
            best_mse = float(mse[pick])
            cut = int(cuts[pick])
            best = (feature, float((values[cut] + values[cut + 1]) / 2))
    return best
