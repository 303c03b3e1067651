"""Policies by name, and ``make_policy`` to build one from a name and parameters."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from bandits.specs import parse_spec
from policies.base import BasePolicy
from policies.epsilon_greedy import EpsilonGreedy
from policies.linucb import LinUCB
from policies.ridge_greedy import RidgeGreedy
from policies.uniform import UniformRandom

POLICIES: dict[str, type[BasePolicy]] = {
    cls.spec_name: cls for cls in (UniformRandom, EpsilonGreedy, RidgeGreedy, LinUCB)
}
"""Registry name -> policy class."""


def make_policy(name: str, params: Mapping[str, Any], *, rng: np.random.Generator) -> BasePolicy:
    """Build the policy registered as ``name`` with keyword arguments ``params``.

    ``rng`` goes only to policies that take one. ``make_policy(*parse_spec(policy.name),
    rng=rng)`` rebuilds a policy from its name.

    Parameters
    ----------
    name : str
        A key of :data:`POLICIES`, e.g. ``"linucb"``.
    params : mapping of str to object
        Constructor arguments, e.g. ``{"alpha": 0.5}``. A wrapped policy (``base``) may be
        given by its spec, e.g. ``{"base": "linucb:alpha=0.5"}``.
    rng : numpy.random.Generator

    Raises
    ------
    ValueError
        For an unknown name or parameter.
    """
    if name not in POLICIES:
        raise ValueError(f"Unknown policy {name!r}; known policies are {sorted(POLICIES)}.")
    cls = POLICIES[name]
    allowed = cls.param_names()
    unknown = [key for key in params if key not in allowed]
    if unknown:
        raise ValueError(
            f"The policy {name!r} ({cls.__name__}) has no parameter {unknown[0]!r}; "
            f"allowed parameters are {allowed}"
            + (" (rng is given to make_policy separately)." if unknown[0] == "rng" else ".")
        )
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"The 'rng' argument of make_policy must be a numpy.random.Generator; "
            f"got {type(rng).__name__}."
        )
    params = dict(params)
    if isinstance(params.get("base"), str):  # a wrapped policy given by its own spec
        params["base"] = make_policy(*parse_spec(params["base"]), rng=rng.spawn(1)[0])
    if "rng" in inspect.signature(cls).parameters:
        return cls(**params, rng=rng)
    return cls(**params)
