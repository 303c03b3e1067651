"""Run several policies on copies of one environment and collect their logs and traces."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import gymnasium as gym
import pandas as pd

from bandits.logged import LoggedBandit
from bandits.policy import Policy
from bandits.rollout import rollout


@dataclass(frozen=True)
class SimulationResult:
    """Logs by policy name and one tidy trace (one row per policy x step)."""

    logs: dict[str, LoggedBandit]
    trace: pd.DataFrame


def run_simulation(
    make_env: Callable[[], gym.Env],
    policies: Mapping[str, Policy],
    *,
    total_requests: int,
    env_seed: int,
    on_step: Callable[[int], None] | None = None,
) -> SimulationResult:
    """Roll out each policy on a fresh environment reset with the same ``env_seed``.

    The same seed gives every policy the same stream of requests (common random numbers), so
    differences in regret come from the policies, not from luck in the arrivals.
    """
    logs, traces = {}, []
    for name, policy in policies.items():
        env = make_env()
        try:
            result = rollout(
                env,
                policy,
                total_requests=total_requests,
                seed=env_seed,
                policy_name=name,
                on_step=on_step,
            )
        finally:
            env.close()
        logs[name] = result.log
        traces.append(result.trace)
    return SimulationResult(logs, pd.concat(traces, ignore_index=True))
