"""Decision makers: uniform random, epsilon-greedy, ridge-greedy, LinUCB, linear Thompson
sampling and Vowpal Wabbit slates."""

from policies.base import BasePolicy, GreedyPolicy, MonteCarloPolicy
from policies.epsilon_greedy import EpsilonGreedy
from policies.linear import LinearPolicy
from policies.lints import LinTS
from policies.linucb import LinUCB
from policies.registry import POLICIES, make_policy
from policies.ridge_greedy import RidgeGreedy
from policies.uniform import UniformRandom
from policies.vw import VowpalWabbit

__all__ = [
    "POLICIES",
    "BasePolicy",
    "EpsilonGreedy",
    "GreedyPolicy",
    "LinTS",
    "LinUCB",
    "LinearPolicy",
    "MonteCarloPolicy",
    "RidgeGreedy",
    "UniformRandom",
    "VowpalWabbit",
    "make_policy",
]
