"""Gymnasium environments of users, items and choice models that serve batches of requests.

Importing the package registers ``"bandits/LatentFactor-v0"`` with gymnasium.
"""

import gymnasium

from simulator.latent_factor import LatentFactorEnv
from simulator.spaces import SlateSpace

__all__ = ["LatentFactorEnv", "SlateSpace"]

if "bandits/LatentFactor-v0" not in gymnasium.registry:
    gymnasium.register(
        id="bandits/LatentFactor-v0", entry_point="simulator.latent_factor:LatentFactorEnv"
    )
