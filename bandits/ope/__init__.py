"""Off-policy evaluation: estimators as mergeable statistics, their results, the registry the
command line uses, and the evaluation of targets on a log."""

from bandits.ope.base import Estimator, EstimatorInput, target_probabilities, weight_diagnostics
from bandits.ope.estimate import Estimate
from bandits.ope.evaluate import ESTIMATE_COLUMNS, evaluate_log
from bandits.ope.ips import IPS
from bandits.ope.snips import SNIPS
from bandits.ope.statistics import EstimatorStatistics, Moments

ESTIMATORS: dict[str, type[Estimator]] = {"ips": IPS, "snips": SNIPS}
"""Registry name -> estimator class."""

__all__ = [
    "ESTIMATE_COLUMNS",
    "ESTIMATORS",
    "IPS",
    "SNIPS",
    "Estimate",
    "Estimator",
    "EstimatorInput",
    "EstimatorStatistics",
    "Moments",
    "evaluate_log",
    "target_probabilities",
    "weight_diagnostics",
]
