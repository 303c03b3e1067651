"""Gymnasium environments of users, items and choice models that serve batches of requests.

The world is built from parts (:mod:`simulator.catalogue`, :mod:`simulator.users`,
:mod:`simulator.context`, :mod:`simulator.choice`, :mod:`simulator.reward`) wired by
:class:`~simulator.world.World` and exposed by :mod:`simulator.env`. Importing the package
registers the presets with gymnasium, each with a natively batched ``vector_entry_point`` for
``gymnasium.make_vec``.
"""

import gymnasium

from simulator.choice import CHOICE_MODELS, Cascade, ChoiceModel, MultinomialLogit, PositionBased
from simulator.env import SlateEnv, SlateVectorEnv, vector_creator
from simulator.latent_factor import LatentFactorEnv
from simulator.shop import OnlineShopEnv
from simulator.spaces import SlateSpace
from simulator.streaming import StreamingServiceEnv
from simulator.value import PolicyValue, true_value
from simulator.world import World

__all__ = [
    "CHOICE_MODELS",
    "Cascade",
    "ChoiceModel",
    "LatentFactorEnv",
    "MultinomialLogit",
    "OnlineShopEnv",
    "PolicyValue",
    "PositionBased",
    "SlateEnv",
    "SlateSpace",
    "SlateVectorEnv",
    "StreamingServiceEnv",
    "World",
    "true_value",
]

PRESETS = {
    "bandits/LatentFactor-v0": LatentFactorEnv,
    "bandits/StreamingService-v0": StreamingServiceEnv,
    "bandits/OnlineShop-v0": OnlineShopEnv,
}
"""The registered environments by gymnasium id."""

SUPERVISED_ID = "bandits/Supervised-v0"
"""A classification data set as a bandit (:class:`simulator.supervised_env.SupervisedBanditEnv`;
``dataset="digits" | "wine" | "breast_cancer"``, scikit-learn imported only when made)."""

if SUPERVISED_ID not in gymnasium.registry:
    gymnasium.register(id=SUPERVISED_ID, entry_point="simulator.supervised_env:SupervisedBanditEnv")

for _env_id, _env_class in PRESETS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(
            id=_env_id,
            entry_point=f"{_env_class.__module__}:{_env_class.__name__}",
            vector_entry_point=vector_creator(_env_class),
        )
