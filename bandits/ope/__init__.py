"""Off-policy evaluation: estimators, their results and the registry the CLI uses."""

from bandits.ope.base import Estimator, EstimatorInput, target_probabilities, weight_diagnostics
from bandits.ope.estimate import Estimate
from bandits.ope.ips import IPS
from bandits.ope.snips import SNIPS

ESTIMATORS: dict[str, type[Estimator]] = {"ips": IPS, "snips": SNIPS}

__all__ = [
    "ESTIMATORS",
    "IPS",
    "SNIPS",
    "Estimate",
    "Estimator",
    "EstimatorInput",
    "target_probabilities",
    "weight_diagnostics",
]
