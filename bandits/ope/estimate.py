"""The result of an off-policy estimate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Estimate:
    """A policy value estimate with its uncertainty and weight diagnostics.

    Attributes
    ----------
    estimator : str
        Name of the estimator (``"ips"``, ``"snips"``...).
    value : float
        Estimated expected slate reward per request under the target policy.
    stderr : float
        Standard error of ``value`` (NaN for fewer than two rows).
    ci_low, ci_high : float
        Confidence interval at level ``confidence``.
    confidence : float
    n : int
        Rows used.
    effective_sample_size : float
        Kish's (sum w)^2 / sum w^2 of the importance weights; small means few rows carry the
        estimate.
    max_weight, mean_weight : float
        Largest and average importance weight (mean near 1 is expected when support is full).
    warnings : tuple of str
        Human-readable diagnostics (exploding weights, missing support).
    interval : str
        How ``ci_low`` and ``ci_high`` were made (see :mod:`bandits.ope.intervals`).
    unsupported_mass : float
        Share of the target's (candidate, position) probability on pairs the logger never
        shows, averaged over rows and positions; NaN where not computable (it needs the
        logger's marginals in the log and an estimator that asks the target for its own).
    tuning : str
        What a data-driven hyperparameter choice chose (e.g. SLOPE), else empty.
    """

    estimator: str
    value: float
    stderr: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int
    effective_sample_size: float
    max_weight: float
    mean_weight: float
    warnings: tuple[str, ...] = field(default=())
    interval: str = "normal"
    unsupported_mass: float = float("nan")
    tuning: str = ""

    def as_dict(self) -> dict[str, object]:
        """A flat dict (warnings joined) for tables and CSV files."""
        values = asdict(self)
        values["warnings"] = "; ".join(self.warnings)
        return values
