"""Build environments and policies from the names in a config (the CLI's side of the kernel).

This is the only kernel module, with the CLI, that imports ``simulator`` and ``policies``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from bandits.policy import Policy
from bandits.specs import parse_spec


def make_env_factory(env_id: str, params: dict[str, Any]) -> Callable[[], gym.Env]:
    """A function that makes a fresh environment; checks the id and parameters once, now."""
    import simulator  # noqa: F401  (registers the bandits/ environments)

    if env_id not in gym.registry:
        known = sorted(key for key in gym.registry if key.startswith("bandits/"))
        raise ValueError(f"Unknown environment {env_id!r}; the bandits environments are {known}.")
    _check_env_params(env_id, params)

    def make() -> gym.Env:
        return gym.make(env_id, **params)

    make().close()
    return make


def _check_env_params(env_id: str, params: dict[str, Any]) -> None:
    """Name unknown keyword arguments, with the allowed ones, before gymnasium sees them."""
    creator = gym.spec(env_id).entry_point
    if isinstance(creator, str):
        creator = load_env_creator(creator)
    signature = inspect.signature(creator)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return
    allowed = [name for name in signature.parameters if name != "render_mode"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(
            f"Environment {env_id!r} has no parameter(s) {unknown}; it takes {allowed}."
        )


def build_policies(specs: Sequence[str], rngs: Sequence[np.random.Generator]) -> dict[str, Policy]:
    """Policies by display name (the spec itself; repeated specs get ``#2``, ``#3``...)."""
    from policies import make_policy

    built: dict[str, Policy] = {}
    for spec, rng in zip(specs, rngs, strict=True):
        name, params = parse_spec(spec)
        label, copy = spec, 2
        while label in built:
            label, copy = f"{spec}#{copy}", copy + 1
        built[label] = make_policy(name, params, rng=rng)
    return built


def file_slug(name: str) -> str:
    """A file-name-safe form of a policy name: ``linucb:alpha=1`` -> ``linucb_alpha=1``."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_") or "policy"
