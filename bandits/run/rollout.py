"""Run policies on an environment, logging every decision and the exact regret trace."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import as_observation
from bandits.policy import Policy
from bandits.validation import InputValueError, check_instance, check_integer

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
    "clicks",
    "engagement",
)
"""Columns of a rollout trace: one row per step (batch); sums over the batch's requests.
``clicks`` and ``engagement`` are the sums of the feedback's ``CLICK_SIGNAL`` and
``ENGAGEMENT_SIGNAL`` signals (NaN when the environment does not give them), apart from the
scalar ``reward`` (which may be either, or a mix)."""

CLICK_SIGNAL = "click"
"""The feedback signal counted as clicks (the simulator's worlds always give it)."""

ENGAGEMENT_SIGNAL = "watch_time"
"""The feedback signal counted as engagement (the simulator's watch time, when its reward
has one)."""

TRUTH_KEYS = ("expected_reward", "oracle_reward")
"""Keys of an environment's ``info`` holding the exact expected reward, shape (n_requests,),
of the slate shown and of the best slate. Regret is their difference, defined only here."""


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
    env: gym.Env[Any, Any],
    policy: Policy,
    *,
    total_requests: int,
    seed: int | None = None,
    policy_name: str | None = None,
    log_marginals: bool = False,
    on_step: Callable[[int], None] | None = None,
) -> RolloutResult:
    """Let ``policy`` serve ``total_requests`` requests of ``env``, learning after every batch;
    the log is kept in memory (see :func:`stream_rollout` to send it elsewhere batch by batch).

    The environment must be batched: each observation is a batch of requests in the
    :class:`~bandits.observation.SlateObservation` dict layout, turned into one (and checked)
    once per batch here; the policy's decision is checked against it once, too. ``info`` must
    hold ``"rewards"`` (n_requests, slate_size), optionally ``"signals"`` and the ground truth
    ``TRUTH_KEYS`` (NaN in the trace if absent). The last batch is cut to the requests still
    wanted, and the policy learns only from logged rows.

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
    log_marginals : bool, default False
        Also log the policy's probability of every candidate at every position (needed by
        the pseudo-inverse estimator with this log; costs max_candidates x slate_size floats
        per row).
    on_step : callable, optional
        Called with the number of requests served in each step (for progress bars).
    """
    batches: list[LoggedBandit] = []
    trace = stream_rollout(
        env,
        policy,
        batches.append,
        total_requests=total_requests,
        seed=seed,
        policy_name=policy_name,
        log_marginals=log_marginals,
        on_step=on_step,
    )
    return RolloutResult(LoggedBandit.concat(batches), trace)


def stream_rollout(
    env: gym.Env[Any, Any],
    policy: Policy,
    on_batch: Callable[[LoggedBandit], None],
    *,
    total_requests: int,
    seed: int | None = None,
    policy_name: str | None = None,
    log_marginals: bool = False,
    on_step: Callable[[int], None] | None = None,
    on_trace: Callable[[dict[str, Any]], None] | None = None,
) -> pd.DataFrame:
    """:func:`rollout` that hands each step's logged rows to ``on_batch`` (e.g. a
    :class:`~bandits.logs.LogWriter`'s ``write``) instead of keeping them, so memory stays flat
    in the number of requests; returns the trace (one row per step).

    With ``on_trace`` (e.g. a :class:`~bandits.run.TraceWriter`'s ``write``) each step's trace
    row (a dict of ``TRACE_COLUMNS``, running sums included) goes there as it is made and the
    returned trace has no rows: nothing grows with the number of steps.
    """
    total_requests = check_integer(total_requests, "total_requests", "rollout", low=1)
    name = policy_name or policy.name
    raw_obs, _ = env.reset(seed=seed)
    rows: list[dict[str, Any]] = []
    emit = rows.append if on_trace is None else on_trace
    running = RunningTrace(name)
    served = 0
    while served < total_requests:
        obs = as_observation(raw_obs)
        decision = policy.act(obs, with_marginals=True) if log_marginals else policy.act(obs)
        check_instance(decision, SlateDecision, f"decision returned by {name}.act")
        decision.check_against(obs)
        raw_obs, _, terminated, truncated, info = env.step(decision.slates)
        feedback = SlateFeedback(_info(info, "rewards"), info.get("signals", {}))
        keep = min(obs.n_requests, total_requests - served)
        if keep < obs.n_requests:
            kept = np.arange(keep)
            kept_obs = obs.take(kept)
            decision, feedback = decision.take(kept, kept_obs), feedback.take(kept)
            obs = kept_obs
        truth = {key: np.asarray(info[key])[:keep] for key in TRUTH_KEYS if key in info}
        policy.update(obs, decision, feedback)
        on_batch(LoggedBandit.from_batch(obs, decision, feedback, name))
        served += keep
        emit(running.row(served, feedback, truth))
        if on_step is not None:
            on_step(keep)
        if terminated or truncated:
            raw_obs, _ = env.reset()
    return pd.DataFrame(rows, columns=list(TRACE_COLUMNS))


@dataclass(frozen=True)
class SimulationResult:
    """Logs by policy name and one tidy trace (one row per policy x step)."""

    logs: dict[str, LoggedBandit]
    trace: pd.DataFrame


def run_simulation(
    make_env: Callable[[], gym.Env[Any, Any]],
    policies: Mapping[str, Policy],
    *,
    total_requests: int,
    env_seed: int,
    log_marginals: bool = False,
    on_step: Callable[[int], None] | None = None,
    sinks: Mapping[str, Callable[[LoggedBandit], None]] | None = None,
    trace_sink: Callable[[dict[str, Any]], None] | None = None,
) -> SimulationResult:
    """Roll out each policy on a fresh environment reset with the same ``env_seed``.

    The same seed gives every policy the same stream of requests (common random numbers), so
    differences in regret come from the policies, not from luck in the arrivals. Policies are
    keyed by display name, which goes into the logs and the trace. With ``sinks`` (one per
    policy name, e.g. a LogWriter's ``write``) each step's rows go there as they are made and
    ``logs`` is empty; with ``trace_sink`` (e.g. a :class:`~bandits.run.TraceWriter`'s
    ``write``) every policy's trace rows go there, in order, and ``trace`` has no rows: memory
    stays flat in the number of requests.
    """
    logs, traces = {}, []
    for name, policy in policies.items():
        batches: list[LoggedBandit] = []
        sink = sinks[name] if sinks is not None else batches.append
        env = make_env()
        try:
            trace = stream_rollout(
                env,
                policy,
                sink,
                total_requests=total_requests,
                seed=env_seed,
                policy_name=name,
                log_marginals=log_marginals,
                on_step=on_step,
                on_trace=trace_sink,
            )
        finally:
            env.close()
        if sinks is None:
            logs[name] = LoggedBandit.concat(batches)
        traces.append(trace)
    return SimulationResult(logs, pd.concat(traces, ignore_index=True))


def _info(info: dict[str, Any], key: str) -> NDArray[Any]:
    if key not in info:
        raise InputValueError(
            f"The environment's info lacks {key!r}; a batched bandits environment puts the "
            f"per-position rewards there (it has {sorted(info)})."
        )
    return np.asarray(info[key])


class RunningTrace:
    """Makes one policy's trace rows step by step, keeping only the running sums (added in
    step order, as a cumulative sum over the whole trace would)."""

    def __init__(self, policy: str) -> None:
        self.policy = policy
        self.step = 0
        self.cumulative_reward = 0.0
        self.cumulative_regret = 0.0

    def row(self, served: int, feedback: SlateFeedback, truth: dict[str, Any]) -> dict[str, Any]:
        """The next step's row (``TRACE_COLUMNS``): ``served`` requests so far."""
        expected, oracle = (_total(truth, key) for key in TRUTH_KEYS)
        reward = float(feedback.slate_reward.sum())
        regret = oracle - expected
        self.cumulative_reward += reward
        self.cumulative_regret += regret
        row = {
            "policy": self.policy,
            "step": self.step,
            "requests": served,
            "reward": reward,
            "expected_reward": expected,
            "oracle_reward": oracle,
            "regret": regret,
            "cumulative_reward": self.cumulative_reward,
            "cumulative_regret": self.cumulative_regret,
            "clicks": _signal_total(feedback, CLICK_SIGNAL),
            "engagement": _signal_total(feedback, ENGAGEMENT_SIGNAL),
        }
        self.step += 1
        return row


def _signal_total(feedback: SlateFeedback, name: str) -> float:
    values = feedback.signals.get(name)
    return float("nan") if values is None else float(np.sum(values))


def _total(truth: dict[str, Any], key: str) -> float:
    return float(np.sum(truth[key])) if key in truth else float("nan")
