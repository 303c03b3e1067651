"""Off-policy evaluation: estimators as mergeable statistics, reward models, intervals, their
results, the registry the command line uses, and the evaluation of targets on a log."""

from bandits.ope.adaptive_ips import AdaptiveIPS
from bandits.ope.base import (
    Estimator,
    EstimatorInput,
    LinearEstimator,
    target_probabilities,
    weight_diagnostics,
)
from bandits.ope.cascade_dr import CascadeDR
from bandits.ope.crossfit import CrossFitted
from bandits.ope.dm import DM
from bandits.ope.dr import DR
from bandits.ope.dros import DRos
from bandits.ope.estimate import Estimate
from bandits.ope.evaluate import ESTIMATE_COLUMNS, evaluate_log
from bandits.ope.iips import IIPS
from bandits.ope.intervals import INTERVALS
from bandits.ope.ips import IPS
from bandits.ope.model_based import ModelBasedEstimator
from bandits.ope.pi import PseudoInverse
from bandits.ope.registry import DEFAULT_ESTIMATORS, ESTIMATORS, make_estimator
from bandits.ope.reward_models import (
    REWARD_MODELS,
    RewardModel,
    RidgeRewardModel,
    SklearnRewardModel,
)
from bandits.ope.rips import RIPS
from bandits.ope.snadaptive_ips import SNAdaptiveIPS
from bandits.ope.sncascade_dr import SNCascadeDR
from bandits.ope.sndr import SNDR
from bandits.ope.sniips import SNIIPS
from bandits.ope.snips import SNIPS
from bandits.ope.snpi import SNPI
from bandits.ope.snrips import SNRIPS
from bandits.ope.statistics import EstimatorStatistics, Moments
from bandits.ope.switch_dr import SwitchDR
from bandits.ope.targets import (
    ProbabilityTarget,
    probability_target,
    read_probability_target,
    write_probability_target,
)

__all__ = [
    "DEFAULT_ESTIMATORS",
    "DM",
    "DR",
    "ESTIMATE_COLUMNS",
    "ESTIMATORS",
    "IIPS",
    "INTERVALS",
    "IPS",
    "REWARD_MODELS",
    "RIPS",
    "SNDR",
    "SNIIPS",
    "SNIPS",
    "SNPI",
    "SNRIPS",
    "AdaptiveIPS",
    "CascadeDR",
    "CrossFitted",
    "DRos",
    "Estimate",
    "Estimator",
    "EstimatorInput",
    "EstimatorStatistics",
    "LinearEstimator",
    "ModelBasedEstimator",
    "Moments",
    "ProbabilityTarget",
    "PseudoInverse",
    "RewardModel",
    "RidgeRewardModel",
    "SNAdaptiveIPS",
    "SNCascadeDR",
    "SklearnRewardModel",
    "SwitchDR",
    "evaluate_log",
    "make_estimator",
    "probability_target",
    "read_probability_target",
    "target_probabilities",
    "weight_diagnostics",
    "write_probability_target",
]
