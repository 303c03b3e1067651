"""Decision makers: uniform random, epsilon-greedy (per slate or per position), softmax
(Plackett-Luce), ridge-greedy, LinUCB and linear Thompson sampling slates."""

from policies.base import BasePolicy, GreedyPolicy, MonteCarloPolicy
from policies.epsilon_greedy import EpsilonGreedy, PerPositionEpsilonGreedy
from policies.linear import LinearPolicy
from policies.lints import LinTS
from policies.linucb import LinUCB
from policies.registry import POLICIES, make_policy
from policies.ridge_greedy import RidgeGreedy
from policies.softmax import Softmax
from policies.uniform import UniformRandom

__all__ = [
    "POLICIES",
    "BasePolicy",
    "EpsilonGreedy",
    "GreedyPolicy",
    "LinTS",
    "LinUCB",
    "LinearPolicy",
    "MonteCarloPolicy",
    "PerPositionEpsilonGreedy",
    "RidgeGreedy",
    "Softmax",
    "UniformRandom",
    "make_policy",
]
