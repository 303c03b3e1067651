"""Reward models shared by the linear policies and the DM/DR estimators."""

from bandits.models.candidate import LINEAR_MODELS, CandidateModel, make_candidate_model
from bandits.models.disjoint import DisjointRidge
from bandits.models.features import (
    interaction_features,
    interaction_quadratic,
    interaction_scores,
    n_interaction_features,
)
from bandits.models.hybrid import HybridRidge
from bandits.models.joint import JointRidge
from bandits.models.ridge import RIDGE_RANGE, RidgeRegression, check_ridge

__all__ = [
    "LINEAR_MODELS",
    "RIDGE_RANGE",
    "CandidateModel",
    "DisjointRidge",
    "HybridRidge",
    "JointRidge",
    "RidgeRegression",
    "check_ridge",
    "interaction_features",
    "interaction_quadratic",
    "interaction_scores",
    "make_candidate_model",
    "n_interaction_features",
]
