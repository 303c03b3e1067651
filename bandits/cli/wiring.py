"""Build environments and policies from the names in a config (the CLI's side of the kernel).

This is the only part of the kernel, with the rest of ``bandits.cli``, that imports
``simulator`` and ``policies``.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
from collections.abc import Callable, Container, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import load_env_creator

from bandits.logged import MAX_NAME_CHARACTERS
from bandits.policy import Policy
from bandits.policy_files import load_policy
from bandits.specs import format_spec, parse_spec
from bandits.validation import InputValueError, check_choice, shown, suggest


def environment_ids() -> list[str]:
    """The registered ``bandits/`` environment ids."""
    import simulator  # noqa: F401  (registers the bandits/ environments)

    return sorted(key for key in gym.registry if key.startswith("bandits/"))


def make_env_factory(env_id: str, params: dict[str, Any]) -> Callable[[], gym.Env[Any, Any]]:
    """A function that makes a fresh environment; checks the id and parameters once, now.

    Only ``bandits/`` environments qualify: other gymnasium environments do not speak the
    slate protocol (an environment registered under ``bandits/`` by the user does).
    """
    check_choice(env_id, environment_ids(), "environment")
    creator = _check_env_params(env_id, params)
    if creator is not None:
        creator(**params).close()  # the environment's own errors, not gymnasium's rewording

    def make() -> gym.Env[Any, Any]:
        return gym.make(env_id, **params)

    make().close()
    return make


def env_context_names(make_env: Callable[[], gym.Env[Any, Any]]) -> list[str] | None:
    """Names of the columns of the environment's observed ``context`` (its ``context_names``
    method, as the simulator's environments have), or None if it does not name them."""
    env = make_env()
    try:
        method = getattr(env.unwrapped, "context_names", None)
        return [str(name) for name in method()] if callable(method) else None
    finally:
        env.close()


def _check_env_params(env_id: str, params: dict[str, Any]) -> Callable[..., Any] | None:
    """Name unknown keyword arguments, with the allowed ones, before gymnasium sees them;
    returns the environment's creator (None if gymnasium has none)."""
    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    if creator is None:
        return None
    signature = inspect.signature(creator)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return creator
    allowed = [name for name in signature.parameters if name != "render_mode"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputValueError(
            f"Environment {env_id!r} has no parameter {shown(unknown[0])}."
            f"{suggest(unknown[0], allowed)} It takes {allowed}."
        )
    return creator


def check_specs(specs: Sequence[str], option: str) -> None:
    """Refuse an empty or blank spec given to ``option`` (``--policy ""``), naming both."""
    for spec in specs:
        if not spec.strip():
            raise InputValueError(
                f"{option} {shown(spec)} is empty; give a spec NAME[:KEY=VALUE,...] "
                f"(`bandits list` shows the names)."
            )


def policy_label(spec: str) -> str:
    """The display name of a policy spec: the spec as the user wrote it, normalised
    (``"linucb: alpha=1.0 "`` -> ``"linucb:alpha=1.0"``), defaults not added."""
    return format_spec(*parse_spec(spec))


def unique_label(base: str, taken: Container[str], too_long: str) -> str:
    """``base``, or ``base#2``, ``base#3``... if it is ``taken``; refused with ``too_long``
    (a phrase) beyond the longest name a log may hold."""
    label, copy = base, 2
    while label in taken:
        label, copy = f"{base}#{copy}", copy + 1
    if len(label) > MAX_NAME_CHARACTERS:
        raise InputValueError(f"{too_long} ({MAX_NAME_CHARACTERS:,} characters).")
    return label


def build_policies(
    specs: Sequence[str],
    rngs: Sequence[np.random.Generator],
    files: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, Policy]:
    """Policies by display name (:func:`policy_label`; repeats get ``#2``, ``#3``...): one
    per spec, then the saved policies of ``files`` (:func:`bandits.policy_files.load_policy`:
    each goes on from its saved state with its own random stream; named by its saved name)."""
    from policies import make_policy

    built: dict[str, Policy] = {}

    def add(policy: Policy, base: str, what: str) -> None:
        label = unique_label(base, built, f"{what} is longer than a logged policy name may be")
        policy.name = label
        built[label] = policy

    for spec, rng in zip(specs, rngs, strict=True):
        name, params = parse_spec(spec)
        add(
            make_policy(name, params, rng=rng), policy_label(spec), f"The policy spec {shown(spec)}"
        )
    for file in files:
        policy = load_policy(file)
        add(policy, policy.name, f"The name of the policy saved in {file}")
    return built


MAX_SLUG = 100
"""Longest file-name form of a policy name (a longer one is cut and given a hash)."""


def file_slugs(names: Sequence[str]) -> dict[str, str]:
    """A distinct file-name-safe form of each name: ``linucb:alpha=1`` -> ``linucb_alpha=1``;
    names that would collide get ``-2``, ``-3``..."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._=-]+", "_", name).strip("_.") or "policy"
        if len(base) > MAX_SLUG:  # keep file names well under the file system's 255 bytes
            digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:10]
            base = f"{base[: MAX_SLUG - 11]}-{digest}"
        slug, copy = base, 2
        while slug.lower() in taken:
            slug, copy = f"{base}-{copy}", copy + 1
        taken.add(slug.lower())
        slugs[name] = slug
    return slugs
