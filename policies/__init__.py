"""Decision makers: uniform random, epsilon-greedy, ridge-greedy and LinUCB slates."""

from policies.base import BasePolicy, GreedyPolicy
from policies.epsilon_greedy import EpsilonGreedy
from policies.features import interaction_features, n_interaction_features
from policies.linear import LinearPolicy
from policies.linear_model import RidgeRegression
from policies.linucb import LinUCB
from policies.registry import POLICIES, make_policy
from policies.ridge_greedy import RidgeGreedy
from policies.uniform import UniformRandom

__all__ = [
    "POLICIES",
    "BasePolicy",
    "EpsilonGreedy",
    "GreedyPolicy",
    "LinUCB",
    "LinearPolicy",
    "RidgeGreedy",
    "RidgeRegression",
    "UniformRandom",
    "interaction_features",
    "make_policy",
    "n_interaction_features",
]
