"""SLOPE: choose a hyperparameter of a DR-family estimator from the data (Su, Srinath and
Krishnamurthy 2020, in Tucker and Lee's 2021 form, as obp implements it).

Each candidate value ``h_j`` of a fixed grid gives an estimate ``V_j`` with a width
``c_j = t_{0.95, n-1} * stderr_j``. Candidates are visited from the widest (least bias, e.g.
the largest Switch threshold) to the narrowest; a candidate is accepted while
``|V_i - V_j| <= c_j + (sqrt(6) - 1) c_i`` for every accepted ``i``, and the last accepted one
is chosen (Lepski's principle: go narrower until the estimate moves more than the widths
explain).

Streaming: the grid is fixed before the data, so each candidate's per-row term is one more
column of the estimator's statistics (13 columns), merged across batches like any term; the
choice is made once, from the merged means and covariance. The standard error and interval
reported are those of the chosen candidate, conditional on the choice (the choice itself adds
variability they do not count); bootstrap replicates re-use the chosen column.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from bandits.ope.base import Point, check_extended
from bandits.ope.model_based import DoublyRobustFamily
from bandits.ope.statistics import Moments
from bandits.validation import InputValueError, shown

SLOPE_CONSTANT = float(np.sqrt(6) - 1)
SLOPE_DELTA = 0.05
"""One-sided level of each candidate's width."""


def slope_select(values: NDArray[np.float64], widths: NDArray[np.float64]) -> int:
    """The index SLOPE chooses among candidates with estimates ``values`` and ``widths``."""
    order = np.argsort(-widths, kind="stable")
    accepted: list[int] = []
    for rank, j in enumerate(order):
        spread = np.abs(values[accepted] - values[j])
        if accepted and not (spread <= widths[j] + SLOPE_CONSTANT * widths[accepted]).all():
            return int(order[rank - 1])
        accepted.append(int(j))
    return int(order[-1])


class GridTuned(DoublyRobustFamily):
    """A DR-family estimator with one hyperparameter, given or chosen by SLOPE from ``grid``.

    Subclasses name the hyperparameter (``parameter``), give the grid and write
    :meth:`adjust` (the weight transform for one value).
    """

    parameter: ClassVar[str]
    grid: ClassVar[tuple[float, ...]]

    def __init__(self, *, setting: object, **options: Any) -> None:
        owner = type(self).__name__
        self.tuned = setting == "auto"
        if not self.tuned and isinstance(setting, str):
            raise InputValueError(
                f"The {self.parameter!r} parameter of {owner} must be a number >= 0, inf or "
                f"'auto'; got {shown(setting)}."
            )
        self.candidates = (
            self.grid if self.tuned else (check_extended(setting, self.parameter, owner),)
        )
        super().__init__(**options)

    @property
    def bounded_terms(self) -> bool:
        return not self.tuned

    @abstractmethod
    def adjust(self, weights: NDArray[np.float64], setting: float) -> NDArray[np.float64]:
        """``v`` for one hyperparameter value, shape (n_requests,)."""

    def adjusted_weights(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        if not self.tuned:
            return self.adjust(weights, self.candidates[0])
        return np.column_stack([self.adjust(weights, value) for value in self.candidates])

    def point(self, terms: Moments) -> Point:
        if not self.tuned:
            return super().point(terms)
        n = terms.n
        if n > 1:
            stderr = np.sqrt(np.maximum(np.diag(terms.covariance), 0.0) / n)
            chosen = slope_select(terms.mean, stats.t.ppf(1 - SLOPE_DELTA, n - 1) * stderr)
        else:
            chosen = len(self.candidates) - 1
        unit = np.zeros(len(self.candidates))
        unit[chosen] = 1.0

        def value_of(means: NDArray[np.float64]) -> float:
            return float(means[chosen])

        tuning = f"{self.parameter}={self.candidates[chosen]:g} (SLOPE)"
        return Point(float(terms.mean[chosen]), unit, value_of, tuning)
