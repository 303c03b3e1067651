"""The run engine: rollouts of policies on environments, replaying logs, seeding."""

from bandits.run.learn import LearnResult, learn_from_log
from bandits.run.replay import replay_updates
from bandits.run.rollout import (
    TRACE_COLUMNS,
    RolloutResult,
    RunningTrace,
    SimulationResult,
    rollout,
    run_simulation,
    stream_rollout,
)
from bandits.run.seeding import spawn_generators, spawn_int_seed
from bandits.run.trace_file import TraceWriter

__all__ = [
    "TRACE_COLUMNS",
    "LearnResult",
    "RolloutResult",
    "RunningTrace",
    "SimulationResult",
    "TraceWriter",
    "learn_from_log",
    "replay_updates",
    "rollout",
    "run_simulation",
    "spawn_generators",
    "spawn_int_seed",
    "stream_rollout",
]
