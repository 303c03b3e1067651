"""Decision makers: uniform random, epsilon-greedy (per slate or per position), softmax
(Plackett-Luce), ridge-greedy, LinUCB, linear Thompson sampling and Vowpal Wabbit (CCB and slates);
popularity, item-item, user-knn, content and cf-hybrid baselines."""

from policies.base import BasePolicy, GreedyPolicy, MonteCarloPolicy
from policies.cf_hybrid import CFHybrid
from policies.content import Content
from policies.epsilon_greedy import EpsilonGreedy, PerPositionEpsilonGreedy
from policies.item_item import ItemItem
from policies.linear import LinearPolicy
from policies.lints import LinTS
from policies.linucb import LinUCB
from policies.popularity import Popularity
from policies.registry import POLICIES, make_policy
from policies.ridge_greedy import RidgeGreedy
from policies.softmax import Softmax
from policies.uniform import UniformRandom
from policies.user_knn import UserKNN
from policies.vw import VowpalWabbit
from policies.vw_slates import VowpalWabbitSlates

__all__ = [
    "POLICIES",
    "BasePolicy",
    "CFHybrid",
    "Content",
    "EpsilonGreedy",
    "GreedyPolicy",
    "ItemItem",
    "LinTS",
    "LinUCB",
    "LinearPolicy",
    "MonteCarloPolicy",
    "PerPositionEpsilonGreedy",
    "Popularity",
    "RidgeGreedy",
    "Softmax",
    "UniformRandom",
    "UserKNN",
    "VowpalWabbit",
    "VowpalWabbitSlates",
    "make_policy",
]
