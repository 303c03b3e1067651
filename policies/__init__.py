"""Decision makers: uniform random, epsilon-greedy, ridge-greedy and LinUCB slates."""

from policies.base import BasePolicy, GreedyPolicy, MonteCarloPolicy
from policies.epsilon_greedy import EpsilonGreedy
from policies.linear import LinearPolicy
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
    "MonteCarloPolicy",
    "RidgeGreedy",
    "UniformRandom",
    "make_policy",
]
