"""One simulation written into a claimed run folder: logs and trace streamed to Parquet, and the
manifest step. The work behind `bandits simulate` and each run of `bandits sweep`."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bandits.cli.config import SimulationConfig
from bandits.cli.manifest import record_step
from bandits.cli.run_folder import LOGS_FOLDER, POLICIES_FOLDER, POLICY_SUFFIX
from bandits.cli.wiring import build_policies, env_context_names, file_slugs, make_env_factory
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import LogWriter
from bandits.policy import Policy
from bandits.policy_files import save_policy
from bandits.reports import read_trace
from bandits.run import TraceWriter, run_simulation, spawn_generators, spawn_int_seed

TRACE_FILE = "trace.parquet"


def write_simulation(
    cfg: SimulationConfig,
    folder: Path,
    *,
    run_id: str,
    log_marginals: bool = False,
    save_policies: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run ``cfg`` and write it into ``folder`` (new, claimed by the caller): one log per
    policy under ``logs/`` and ``trace.parquet``, both streamed step by step (each file takes
    its name only when complete), then the manifest's ``simulate`` step. Returns the trace
    read back from its file (one row per policy x step, ``run`` = the seed).

    Streams: the root seed spawns the environment's seed and one generator per policy
    (``numpy.random.SeedSequence``), so the same config gives the same files wherever it runs.
    Saved policies of ``cfg.policy_files`` go on from their own saved state and stream.

    With ``save_policies``, each policy as it ends the run is saved to
    ``policies/<policy>.policy`` (:func:`bandits.policy_files.save_policy`), which
    ``policy_files`` (``bandits simulate --policy-file``) and ``bandits evaluate
    --target-file`` read back.
    """
    streams = spawn_generators(cfg.seed, len(cfg.policies) + 1)
    env_seed = spawn_int_seed(streams[0])
    make_env = make_env_factory(cfg.env, cfg.env_params)
    policies = build_policies(cfg.policies, streams[1:], cfg.policy_files)
    slugs = file_slugs(list(policies))
    logs = {name: f"{LOGS_FOLDER}/{slugs[name]}.parquet" for name in policies}
    (folder / LOGS_FOLDER).mkdir()
    windows = _item_windows(make_env, env_seed)
    with contextlib.ExitStack() as writers:  # logs and trace stream to disk as the run goes
        trace_writer = writers.enter_context(TraceWriter(folder / TRACE_FILE, run=cfg.seed))
        names = env_context_names(make_env)  # recorded in the logs, for segments by context
        sinks = {name: _windowed(writers.enter_context(LogWriter(folder / logs[name],
                                                                 context_names=names)).write,
                                 windows)
                 for name in policies}  # fmt: skip
        run_simulation(
            make_env,
            policies,
            total_requests=cfg.total_requests,
            env_seed=env_seed,
            log_marginals=log_marginals,
            on_step=on_step,
            sinks=sinks,
            trace_sink=trace_writer.write,
        )
    saved = _save_policies(folder, policies, slugs, run_id) if save_policies else {}
    record_step(
        folder,
        "simulate",
        run_id=run_id,
        config=cfg.to_dict(),
        policies={name: getattr(p, "spec", None) for name, p in policies.items()},
        seeds={"root": cfg.seed, "env": env_seed},
        logs=logs,
        trace=TRACE_FILE,
        **({"policy_files": saved} if saved else {}),
    )
    return read_trace(folder / TRACE_FILE)


def _save_policies(
    folder: Path, policies: dict[str, Policy], slugs: dict[str, str], run_id: str
) -> dict[str, str]:
    """Save every policy into ``folder/policies/``; their paths in the folder by name."""
    (folder / POLICIES_FOLDER).mkdir()
    saved = {}
    for name, policy in policies.items():
        path = f"{POLICIES_FOLDER}/{slugs[name]}{POLICY_SUFFIX}"
        save_policy(policy, folder / path, info={"run_id": run_id})
        saved[name] = path
    return saved


def _item_windows(make_env: Callable[[], Any], env_seed: int) -> ItemTable | None:
    """The environment's item table after ``reset(seed=env_seed)`` (its ``item_table``
    method, as the simulator's environments have: when each item is released and retired),
    or None if it has none or every item is always available."""
    env = make_env()
    try:
        method = getattr(env.unwrapped, "item_table", None)
        if not callable(method):
            return None
        env.reset(seed=env_seed)
        table = method()
    finally:
        env.close()
    return table if isinstance(table, ItemTable) and table.has_windows else None


def _windowed(
    sink: Callable[[LoggedBandit], None], windows: ItemTable | None
) -> Callable[[LoggedBandit], None]:
    """``sink`` given each batch with its items' availability windows from ``windows`` (the
    environment's observations carry the candidates' features, not when they were released),
    so the log's item table records ``valid_from`` / ``valid_until`` for the reports."""
    if windows is None:
        return sink

    def write(log: LoggedBandit) -> None:
        items = log.items
        rows = windows.positions(items.ids[None, :], np.ones((1, items.n_items), dtype=bool),
                                 "the logged items")[0]  # fmt: skip
        dated = ItemTable(items.ids, items.features, valid_from=windows.valid_from[rows],
                          valid_until=windows.valid_until[rows])  # fmt: skip
        obs = dataclasses.replace(log.observation, items=dated)
        sink(LoggedBandit(obs, log.decision, log.feedback, log.policy_names))

    return write
