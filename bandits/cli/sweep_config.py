"""Sweep configs: policies (with grids over their parameters) on worlds, over seeds, read from
the ``[sweep]`` table of a TOML file and planned into runs."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bandits.cli.config import DEFAULT_ENV, MAX_INT64, SimulationConfig, read_toml_table
from bandits.cli.sweep_evaluation import EvaluationPlan
from bandits.run.executors import EXECUTORS
from bandits.specs import format_spec, parse_spec
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_choice,
    check_integer,
    shown,
    suggest,
)

MAX_RUNS = 10_000
"""Most runs (worlds x seeds) one sweep may plan."""

SWEEP_KEYS = ("requests", "batch_size", "seeds", "root_seed", "policies", "grid", "worlds",
              "evaluate", "executor", "workers", "scheduler", "out")  # fmt: skip
BATCH_PARAM = "n_requests"
"""The world parameter ``batch_size`` sets: requests per step (per policy decision batch)."""
WORLD_KEYS = ("name", "env", "params")
WORLD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class World:
    """An environment and its parameters, named for the run folders (``small``, ``shop``)."""

    name: str
    env: str
    params: dict[str, Any]


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: a world, a seed and the simulation it stands for."""

    world: str
    seed_index: int
    config: SimulationConfig

    @property
    def run_id(self) -> str:
        """The run folder's name, e.g. ``small-seed0``."""
        return f"{self.world}-seed{self.seed_index}"


@dataclass(frozen=True)
class SweepConfig:
    """What a sweep runs: every policy (grids expanded) on every world for every seed.

    Attributes
    ----------
    requests : int
        Requests served by each policy in each run.
    seeds : tuple of int
        The runs' root seeds: a count ``n`` in the file gives ``n`` seeds spawned from
        ``root_seed`` by ``numpy.random.SeedSequence``; a list is used as written.
    policies : tuple of str
        Policy specs, grids expanded (``linucb`` with ``grid.linucb = {alpha = [0.5, 1]}``
        gives ``linucb:alpha=0.5`` and ``linucb:alpha=1``).
    worlds : tuple of World
    executor : {"local", "dask"}
    workers : int or None
        Local processes (default: the machine's cores) or Dask workers of a local cluster.
    scheduler : str or None
        A Dask scheduler's address (then ``executor`` is ``dask``).
    evaluate : EvaluationPlan or None
        Off-policy estimates each run makes on each listed policy's log, checked against
        the truth of that log.
    batch_size : int or None
        Requests per step in every world (the worlds' ``n_requests``; a world that sets its
        own must agree). None: each world's own.

    The output folder (``out`` in the file, or ``--out``) is not part of the sweep: the
    command reads it, so the same sweep can resume into the folder it started in.
    """

    requests: int
    seeds: tuple[int, ...]
    policies: tuple[str, ...]
    worlds: tuple[World, ...]
    executor: str = "local"
    workers: int | None = None
    scheduler: str | None = None
    evaluate: EvaluationPlan | None = None
    batch_size: int | None = None

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepConfig:
        """Read the ``[sweep]`` table of a TOML file."""
        return cls.from_mapping(read_toml_table(path, "sweep"), str(path))

    @classmethod
    def from_mapping(cls, values: dict[str, Any], source: str = "the config") -> SweepConfig:
        """Build from a dict (a TOML table); errors name the key and suggest the closest."""
        check_keys(values, SWEEP_KEYS, f"{source}: [sweep]")
        requests = check_integer(values.get("requests", 10_000), "requests", "[sweep]", low=1,
                                 high=MAX_INT64)  # fmt: skip
        root = check_integer(values.get("root_seed", 0), "root_seed", "[sweep]", low=0,
                             high=MAX_INT64)  # fmt: skip
        seeds = _seeds(values.get("seeds", 1), root)
        policies = _policies(values.get("policies"), values.get("grid", {}))
        worlds = _worlds(values.get("worlds"), source)
        batch_size = values.get("batch_size")
        if batch_size is not None:
            batch_size = check_integer(batch_size, "batch_size", "[sweep]", low=1, high=10**7)
            for world in worlds:
                own = world.params.get(BATCH_PARAM, batch_size)
                if own != batch_size:
                    raise InputValueError(
                        f"{source}: world {world.name!r} sets {BATCH_PARAM} = {shown(own)}, but "
                        f"[sweep] sets batch_size = {batch_size}; drop one of them."
                    )
        if len(worlds) * len(seeds) > MAX_RUNS:
            raise InputValueError(
                f"{source}: {len(worlds)} worlds x {len(seeds)} seeds is more than "
                f"{MAX_RUNS:,} runs; split the sweep."
            )
        scheduler = values.get("scheduler")
        if scheduler is not None and not isinstance(scheduler, str):
            raise InputTypeError(f"The 'scheduler' of [sweep] must be an address; got "
                                 f"{shown(scheduler)}.")  # fmt: skip
        executor = check_choice(values.get("executor", "dask" if scheduler else "local"),
                                EXECUTORS, "executor")  # fmt: skip
        if scheduler is not None and executor != "dask":
            raise InputValueError(
                f"The 'scheduler' of [sweep] ({shown(scheduler)}) needs executor = \"dask\"; "
                f"got executor = {shown(executor)}."
            )
        workers = values.get("workers")
        if workers is not None:
            workers = check_integer(workers, "workers", "[sweep]", low=1, high=1024)
        evaluate = values.get("evaluate")
        plan = None if evaluate is None else EvaluationPlan.from_mapping(evaluate, policies)
        return cls(requests, seeds, policies, worlds, executor, workers, scheduler, plan,
                   batch_size)  # fmt: skip

    def plan(self) -> list[PlannedRun]:
        """The runs, world by world and seed by seed (the order of the result tables)."""
        runs = []
        for world in self.worlds:
            for index, seed in enumerate(self.seeds):
                batch = {} if self.batch_size is None else {BATCH_PARAM: self.batch_size}
                config = SimulationConfig(
                    env=world.env,
                    env_params={**batch, **world.params},
                    policies=self.policies,
                    total_requests=self.requests,
                    seed=seed,
                )
                runs.append(PlannedRun(world.name, index, config))
        return runs


def check_keys(values: object, known: tuple[str, ...], where: str) -> None:
    if not isinstance(values, dict):
        raise InputTypeError(f"{where} must be a table; got {shown(values)}.")
    for key in values:
        if key not in known:
            raise InputValueError(
                f"{where} has an unknown key {shown(key)}.{suggest(key, known)} Known: "
                f"{', '.join(known)}."
            )


def _seeds(value: object, root: int) -> tuple[int, ...]:
    if isinstance(value, list):
        if not value:
            raise InputValueError("The 'seeds' of [sweep] must list at least one seed.")
        seeds = [check_integer(s, f"seeds[{i}]", "[sweep]", low=0, high=MAX_INT64)
                 for i, s in enumerate(value)]  # fmt: skip
        if len(set(seeds)) < len(seeds):
            raise InputValueError(f"The 'seeds' of [sweep] repeat a seed: {shown(value)}.")
        return tuple(seeds)
    count = check_integer(value, "seeds", "[sweep]", low=1, high=MAX_RUNS)
    children = np.random.SeedSequence(root).spawn(count)
    return tuple(int(child.generate_state(1, dtype=np.uint64)[0] >> 1) for child in children)


def _policies(value: object, grid: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputTypeError(
            f"The 'policies' of [sweep] must be a non-empty list of policy specs; got "
            f"{shown(value)}."
        )
    if not isinstance(grid, dict):
        raise InputTypeError(f"The 'grid' of [sweep] must be a table; got {shown(grid)}.")
    names = [parse_spec(spec)[0] for spec in value]
    for key in grid:
        if key not in value:
            raise InputValueError(
                f"The 'grid' of [sweep] has {shown(key)}, which is not one of the policies "
                f"{value}.{suggest(key, value)}"
            )
    expanded: list[str] = []
    for spec, name in zip(value, names, strict=True):
        axes = grid.get(spec, {})
        if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
            raise InputTypeError(
                f"grid.{spec} of [sweep] must map parameters to non-empty lists of values; "
                f"got {shown(axes)}."
            )
        base = parse_spec(spec)[1]
        for combination in itertools.product(*axes.values()):
            expanded.append(
                format_spec(name, {**base, **dict(zip(axes, combination, strict=True))})
            )
    if len(set(expanded)) < len(expanded):
        raise InputValueError(f"The policies of [sweep] repeat a spec: {expanded}.")
    return tuple(expanded)


def _worlds(value: object, source: str) -> tuple[World, ...]:
    if value is None:
        return (World("default", DEFAULT_ENV, {}),)
    if not isinstance(value, list) or not value:
        raise InputTypeError(
            f"{source}: [[sweep.worlds]] must be a list of tables; got {shown(value)}."
        )
    worlds = []
    for index, table in enumerate(value):
        where = f"{source}: sweep.worlds[{index}]"
        check_keys(table, WORLD_KEYS, where)
        name = table.get("name", f"world{index}")
        if not isinstance(name, str) or not WORLD_NAME.match(name):
            raise InputValueError(
                f"{where}: 'name' must be letters, digits, '_', '.' or '-' (at most 64, not "
                f"starting with a symbol); got {shown(name)}."
            )
        params = table.get("params", {})
        if not isinstance(params, dict):
            raise InputTypeError(f"{where}: 'params' must be a table; got {shown(params)}.")
        worlds.append(World(name, table.get("env", DEFAULT_ENV), params))
    names = [w.name for w in worlds]
    if len(set(names)) < len(names):
        raise InputValueError(f"{source}: the worlds' names repeat: {names}.")
    return tuple(worlds)
