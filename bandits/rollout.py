"""Run one policy on one environment, logging every decision and the exact regret trace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd

from bandits._checks import check_integer
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import as_observation
from bandits.policy import Policy

TRACE_COLUMNS = (
    "policy",
    "step",
    "requests",
    "reward",
    "expected_reward",
    "oracle_reward",
    "regret",
    "cumulative_reward",
    "cumulative_regret",
)
"""Columns of a rollout trace: one row per step (batch); sums over the batch's requests."""

_TRUTH_KEYS = ("expected_reward", "oracle_reward")


@dataclass(frozen=True)
class RolloutResult:
    """What a rollout produced.

    Attributes
    ----------
    log : LoggedBandit
        Every decision, one row per request.
    trace : pandas.DataFrame
        One row per step with the columns in ``TRACE_COLUMNS``; ``requests`` is the running
        count of requests served, the reward columns are sums over the step's requests.
    """

    log: LoggedBandit
    trace: pd.DataFrame


def rollout(
    env: gym.Env,
    policy: Policy,
    *,
    total_requests: int,
    seed: int | None = None,
    policy_name: str | None = None,
    on_step: Callable[[int], None] | None = None,
) -> RolloutResult:
    """Let ``policy`` serve ``total_requests`` requests of ``env``, learning after every batch.

    The environment must be batched (each observation is a batch of requests in the
    :class:`~bandits.observation.SlateObservation` layout) and put in ``info``:
    ``"rewards"`` (n_requests, slate_size), optionally ``"signals"`` and the ground truth
    ``"expected_reward"`` and ``"oracle_reward"`` (n_requests,) (NaN in the trace if absent).
    The last batch is cut to the requests still wanted: the policy learns only from logged rows.

    Parameters
    ----------
    env : gymnasium.Env
    policy : Policy
    total_requests : int
        Requests to serve and log.
    seed : int, optional
        Passed to ``env.reset``.
    policy_name : str, optional
        Name written in the log's ``policy`` column (default ``policy.name``).
    on_step : callable, optional
        Called with the number of requests served in each step (for progress bars).
    """
    total_requests = check_integer(total_requests, "total_requests", "rollout", low=1)
    name = policy_name or policy.name
    raw_obs, _ = env.reset(seed=seed)
    batches: list[LoggedBandit] = []
    rows: list[dict[str, Any]] = []
    served = 0
    while served < total_requests:
        obs = as_observation(raw_obs)
        decision = policy.act(obs)
        raw_obs, _, terminated, truncated, info = env.step(decision.slates)
        keep = min(obs.n_requests, total_requests - served)
        feedback = SlateFeedback(info["rewards"], info.get("signals", {}))
        if keep < obs.n_requests:
            kept = np.arange(keep)
            obs, decision, feedback = obs.take(kept), decision.take(kept), feedback.take(kept)
        truth = {key: np.asarray(info[key])[:keep] for key in _TRUTH_KEYS if key in info}
        policy.update(obs, decision, feedback)
        batches.append(LoggedBandit.from_batch(obs, decision, feedback, name))
        served += keep
        rows.append(_trace_row(name, len(rows), served, feedback, truth))
        if on_step is not None:
            on_step(keep)
        if terminated or truncated:
            raw_obs, _ = env.reset()
    trace = pd.DataFrame(rows)
    trace = trace.assign(
        cumulative_reward=trace["reward"].cumsum(), cumulative_regret=trace["regret"].cumsum()
    )
    return RolloutResult(LoggedBandit.concat(batches), trace[list(TRACE_COLUMNS)])


def _trace_row(
    name: str, step: int, served: int, feedback: SlateFeedback, truth: dict[str, Any]
) -> dict[str, Any]:
    expected, oracle = (_total(truth, key) for key in _TRUTH_KEYS)
    return {
        "policy": name,
        "step": step,
        "requests": served,
        "reward": float(feedback.slate_reward.sum()),
        "expected_reward": expected,
        "oracle_reward": oracle,
        "regret": oracle - expected,
    }


def _total(truth: dict[str, Any], key: str) -> float:
    return float(np.sum(truth[key])) if key in truth else float("nan")
