"""Simulation configs: the names and numbers a run is wired from, read from TOML."""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bandits.specs import parse_spec
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_integer,
    check_regular_file,
    shown,
    suggest,
)

DEFAULT_ENV = "bandits/LatentFactor-v0"
MAX_INT64 = 2**63 - 1
MAX_CONFIG_BYTES = 1 << 20
DEFAULT_POLICIES = ("uniform", "epsilon-greedy:epsilon=0.1", "linucb:alpha=1.0")


@dataclass(frozen=True)
class SimulationConfig:
    """A simulation run: an environment, the policies to run on it, how long, which seed.

    Every policy runs on its own copy of the environment reset with the same seed, so all
    policies meet the same stream of requests (common random numbers).

    Attributes
    ----------
    env : str
        A gymnasium id (``"bandits/LatentFactor-v0"``).
    env_params : dict
        Keyword arguments for ``gymnasium.make``.
    policies : tuple of str
        Policy specs, ``"name:key=value,..."`` (see :func:`bandits.specs.parse_spec`).
    total_requests : int
        Requests served by each policy.
    seed : int
        Root of every random stream of the run.
    policy_files : tuple of str
        Saved policies (:mod:`bandits.policy_files`, e.g. a run folder's ``policies/``) that
        go on acting and learning from where they were saved, after the ``policies``.
    """

    env: str = DEFAULT_ENV
    env_params: dict[str, Any] = field(default_factory=dict)
    policies: tuple[str, ...] = DEFAULT_POLICIES
    total_requests: int = 10_000
    seed: int = 0
    policy_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        owner = "SimulationConfig"
        if not isinstance(self.env, str) or not self.env:
            raise InputValueError(
                f"The 'env' of {owner} must be a gymnasium id; got {shown(self.env)}."
            )
        if not isinstance(self.env_params, dict):
            raise InputTypeError(
                f"The 'env_params' of {owner} must be a table of keyword arguments; "
                f"got {shown(self.env_params)}."
            )
        if isinstance(self.policies, str):
            policies: tuple[str, ...] = (self.policies,)
        elif isinstance(self.policies, list | tuple) and all(
            isinstance(spec, str) for spec in self.policies
        ):
            policies = tuple(self.policies)
        else:
            raise InputTypeError(
                f"The 'policies' of {owner} must be a list of policy specs (strings); got "
                f"{shown(self.policies)}."
            )
        files = self.policy_files
        if isinstance(files, str):
            files = (files,)
        if not isinstance(files, list | tuple) or not all(isinstance(f, str) for f in files):
            raise InputTypeError(
                f"The 'policy_files' of {owner} must be a list of paths (strings); got "
                f"{shown(self.policy_files)}."
            )
        object.__setattr__(self, "policy_files", tuple(files))
        if not policies and not files:
            raise InputValueError(
                f"The 'policies' of {owner} must name at least one policy (or 'policy_files' "
                f"one saved policy); got none."
            )
        for index, spec in enumerate(policies):
            try:
                parse_spec(spec)
            except (InputTypeError, InputValueError) as error:
                raise type(error)(
                    f"The 'policies' of {owner} has a bad spec at index {index}: {error}"
                ) from None
        object.__setattr__(self, "policies", policies)
        for name, low in (("total_requests", 1), ("seed", 0)):
            value = check_integer(getattr(self, name), name, owner, low=low, high=MAX_INT64)
            object.__setattr__(self, name, value)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> SimulationConfig:
        """Build from a dict (e.g. a TOML table), rejecting unknown keys by name."""
        known = {f.name for f in fields(cls)}
        if not isinstance(values, dict):
            raise InputTypeError(
                f"The [simulation] settings must be a table; got {type(values).__name__}."
            )
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputValueError(
                f"Unknown simulation setting {shown(unknown[0])}.{suggest(unknown[0], known)} The "
                f"allowed ones are {sorted(known)}."
            )
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Read the ``[simulation]`` table of a TOML file."""
        return cls.from_mapping(read_toml_table(path, "simulation"))

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON and TOML friendly)."""
        values = asdict(self)
        values["policies"] = list(self.policies)
        values["policy_files"] = list(self.policy_files)
        return values


def read_toml_table(path: str | os.PathLike[str], table: str) -> dict[str, Any]:
    """The table ``[table]`` of the TOML file at ``path``; a file that cannot be read, is not
    TOML or lacks the table gives one error naming the file (and the closest table name)."""
    try:
        file = check_regular_file(path, "config file")
        if file.stat().st_size > MAX_CONFIG_BYTES:
            raise InputValueError(
                f"{path} is larger than a config can be ({MAX_CONFIG_BYTES:,} bytes)."
            )
        with open(file, "rb") as handle:
            document = tomllib.load(handle)
    except InputValueError as error:
        raise InputValueError(f"Cannot read the config {path}: {error}") from None
    except ValueError as error:  # not TOML, not UTF-8, an integer of thousands of digits
        raise InputValueError(f"{path} is not valid TOML: {error}") from None
    except RecursionError:
        raise InputValueError(f"{path} is not valid TOML: nested too deeply.") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise InputValueError(f"Cannot read the config {path}: {reason}") from None
    if not isinstance(document.get(table, {}), dict):
        raise InputTypeError(f"{path}: [{table}] must be a table.")
    if table not in document:
        tables = sorted(document)
        close = difflib.get_close_matches(table, tables, n=1)
        hint = f" Rename [{close[0]}] to [{table}]?" if close else ""
        raise InputValueError(f"{path} has no [{table}] table (it has {tables}).{hint}")
    values: dict[str, Any] = document[table]
    return values
