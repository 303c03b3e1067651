"""Policies by name, and ``make_policy`` to build one from a name and parameters."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np

from bandits.specs import parse_spec
from bandits.validation import InputValueError, check_choice, check_generator, suggest
from policies.base import BasePolicy
from policies.cf_hybrid import CFHybrid
from policies.content import Content
from policies.epsilon_greedy import EpsilonGreedy, PerPositionEpsilonGreedy
from policies.item_item import ItemItem
from policies.lints import LinTS
from policies.linucb import LinUCB
from policies.popularity import Popularity
from policies.ridge_greedy import RidgeGreedy
from policies.softmax import Softmax
from policies.uniform import UniformRandom
from policies.user_knn import UserKNN
from policies.vw import VowpalWabbit
from policies.vw_slates import VowpalWabbitSlates

POLICIES: dict[str, type[BasePolicy]] = {
    "uniform": UniformRandom,
    "epsilon-greedy": EpsilonGreedy,
    "per-position-epsilon-greedy": PerPositionEpsilonGreedy,
    "softmax": Softmax,
    "ridge-greedy": RidgeGreedy,
    "linucb": LinUCB,
    "lints": LinTS,
    "vw": VowpalWabbit,
    "vw-slates": VowpalWabbitSlates,
    "popularity": Popularity,
    "item-item": ItemItem,
    "user-knn": UserKNN,
    "content": Content,
    "cf-hybrid": CFHybrid,
}
"""Registry name -> policy class (each class's ``spec_name`` is its key)."""


def make_policy(name: str, params: Mapping[str, Any], *, rng: np.random.Generator) -> BasePolicy:
    """Build the policy registered as ``name`` with keyword arguments ``params``.

    ``rng`` goes only to policies that take one. ``make_policy(*parse_spec(policy.spec),
    rng=rng)`` rebuilds a policy from its spec.

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
    InputValueError
        For an unknown name or parameter (with the closest known one).
    """
    cls = POLICIES[check_choice(name, POLICIES, "policy")]
    allowed = cls.param_names()
    unknown = [key for key in params if key not in allowed]
    if unknown:
        hint = (
            " (rng is given to make_policy separately)."
            if unknown[0] == "rng"
            else "." + suggest(unknown[0], allowed)
        )
        raise InputValueError(
            f"The policy {name!r} ({cls.__name__}) has no parameter {unknown[0]!r}; "
            f"allowed parameters are {allowed}{hint}"
        )
    check_generator(rng, "make_policy")
    kwargs = dict(params)
    if isinstance(kwargs.get("base"), str):  # a wrapped policy given by its own spec
        kwargs["base"] = make_policy(*parse_spec(kwargs["base"]), rng=rng.spawn(1)[0])
    if "rng" in inspect.signature(cls).parameters:
        kwargs["rng"] = rng
    return cls(**kwargs)
