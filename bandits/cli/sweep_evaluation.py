"""Off-policy estimates inside a sweep, checked against the world's truth: each run evaluates
targets on each listed policy's log and records each target's true value over the same held-out
period of that log the estimates use (:func:`held_out_truth`); the sweep then tabulates each
estimator's bias, RMSE and interval coverage over the seeds, per log."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bandits.cli.config import SimulationConfig
from bandits.cli.manifest import read_manifest
from bandits.cli.wiring import build_policies, make_env_factory, policy_label
from bandits.logged import LoggedBandit, time_split_mask
from bandits.logs import iter_log_batches, open_log
from bandits.logs.atomic import atomic_path
from bandits.observation import as_observation
from bandits.ope import evaluate_log, make_estimator
from bandits.policy import Policy
from bandits.run import spawn_generators
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_integer,
    check_real,
    shown,
    suggest,
)

EVALUATE_KEYS = ("log", "logs", "targets", "estimators", "train_fraction", "truth_requests")
ESTIMATES_FILE = "estimates.csv"
DEFAULT_ESTIMATORS = ("ips", "snips", "dr")
TRUTH_POINTS = 10
"""Most held-out steps at which a target's true value is computed (evenly spread over the
held-out period; see :func:`held_out_truth`)."""
EVALUATION_STREAM = 2**31 - 1
"""Spawn key of a run's evaluation streams: ``SeedSequence(seed, spawn_key=(EVALUATION_STREAM,))``
is independent of the simulation's streams (``SeedSequence(seed).spawn(n)``, keys ``(0,)`` to
``(n - 1,)``) and of every other run's, whatever the runs' seeds."""


@dataclass(frozen=True)
class EvaluationPlan:
    """What each run evaluates: the log of each policy of ``logs`` (specs among the sweep's
    policies; ``log = "..."`` in a config is a one-element ``logs``), the ``targets`` (specs)
    with the ``estimators`` (specs), the targets trained first on the oldest ``train_fraction``
    of that log; truth from ``truth_requests`` requests on each log's held-out period."""

    logs: tuple[str, ...]
    targets: tuple[str, ...]
    estimators: tuple[str, ...]
    train_fraction: float
    truth_requests: int

    @classmethod
    def from_mapping(cls, values: object, policies: tuple[str, ...]) -> EvaluationPlan:
        from bandits.cli.sweep_config import check_keys  # the config module imports this one

        check_keys(values, EVALUATE_KEYS, "[sweep.evaluate]")
        assert isinstance(values, dict)
        logs = _logs(values, policies)
        targets = values.get("targets")
        if (
            not isinstance(targets, list)
            or not targets
            or not all(isinstance(t, str) for t in targets)
        ):
            raise InputTypeError(
                f"The 'targets' of [sweep.evaluate] must be a non-empty list of policy specs; "
                f"got {shown(targets)}."
            )
        estimators = values.get("estimators", list(DEFAULT_ESTIMATORS))
        if not isinstance(estimators, list) or not all(isinstance(e, str) for e in estimators):
            raise InputTypeError(
                f"The 'estimators' of [sweep.evaluate] must be a list of estimator specs; got "
                f"{shown(estimators)}."
            )
        for spec in estimators:
            make_estimator(spec)  # unknown names and parameters fail now, by name
        build_policies(targets, spawn_generators(0, len(targets)))
        fraction = check_real(values.get("train_fraction", 0.5), "train_fraction",
                              "[sweep.evaluate]", low=0.0, high=1.0, high_open=True)  # fmt: skip
        truth = check_integer(values.get("truth_requests", 2000), "truth_requests",
                              "[sweep.evaluate]", low=1, high=10_000_000)  # fmt: skip
        return cls(logs, tuple(targets),
                   tuple(estimators), fraction, truth)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        # one log is recorded as `log`, as before `logs` existed: an older sweep still resumes
        which = {"log": self.logs[0]} if len(self.logs) == 1 else {"logs": list(self.logs)}
        return {**which, "targets": list(self.targets),
                "estimators": list(self.estimators), "train_fraction": self.train_fraction,
                "truth_requests": self.truth_requests}  # fmt: skip


def _logs(values: dict[str, Any], policies: tuple[str, ...]) -> tuple[str, ...]:
    """The logs of ``[sweep.evaluate]`` (``logs = [...]``, or ``log = "..."`` for one), each
    one of the sweep's ``policies`` (returned as the sweep spells it)."""
    if "log" in values and "logs" in values:
        raise InputValueError(
            "[sweep.evaluate] has both 'log' and 'logs'; give 'logs' (a list of the sweep's "
            "policies) or 'log' (one of them), not both."
        )
    key = "log" if "log" in values else "logs"
    given = values.get(key)
    listed = [given] if key == "log" else given
    if not isinstance(listed, list) or not listed or not all(isinstance(g, str) for g in listed):
        kind = "one of the sweep's policies" if key == "log" else "a non-empty list of policies"
        raise InputTypeError(
            f"The '{key}' of [sweep.evaluate] must be {kind} {list(policies)}; got {shown(given)}."
        )
    labels = {policy_label(spec): spec for spec in policies}
    logs = []
    for log in listed:
        if policy_label(log) not in labels:
            which = "The 'log'" if key == "log" else "Each of the 'logs'"
            raise InputValueError(
                f"{which} of [sweep.evaluate] must be one of the sweep's policies "
                f"{list(policies)}; got {shown(log)}.{suggest(log, policies)}"
            )
        logs.append(labels[policy_label(log)])
    if len(set(logs)) < len(logs):
        raise InputValueError(f"The '{key}' of [sweep.evaluate] repeat a policy: {shown(given)}.")
    return tuple(logs)


def evaluation_streams(seed: int, n: int, log: int = 0) -> list[np.random.Generator]:
    """The ``n`` evaluation streams of the run with root ``seed`` on its ``log``-th evaluated
    log: for the first, children of ``SeedSequence(seed, spawn_key=(EVALUATION_STREAM,))`` (as
    when a sweep evaluated one log); for log ``k > 0``, children of ``SeedSequence(seed,
    spawn_key=(EVALUATION_STREAM, EVALUATION_STREAM, k))``, a key no child of the first (``(E,
    j)``) has. Never one of any run's simulation streams (a list of seeds such as ``[0, 1]``
    included), nor another log's."""
    key = (EVALUATION_STREAM,) if log == 0 else (EVALUATION_STREAM, EVALUATION_STREAM, log)
    root = np.random.SeedSequence(seed, spawn_key=key)
    return [np.random.default_rng(child) for child in root.spawn(n)]


def evaluate_run(folder: Path, config: SimulationConfig, plan: EvaluationPlan) -> pd.DataFrame:
    """Estimate the targets on the run's log of each policy of ``plan.logs`` and add each
    target's true value (after the same training) over the held-out period of that log
    (:func:`held_out_truth`); written to ``estimates.csv`` in ``folder``, a ``log`` column
    (the policy whose log it is) first.

    Streams come from the run's seed and the log's place in ``plan.logs``
    (:func:`evaluation_streams`), so a run's estimates are the same wherever it runs, and
    each log's are independent of the others'.
    """
    step = read_manifest(folder)["steps"]["simulate"]
    frames = [_evaluate_log(folder, step, config, plan, spec, index)
              for index, spec in enumerate(plan.logs)]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    with atomic_path(folder / ESTIMATES_FILE) as temporary:
        frame.to_csv(temporary, index=False)
    return frame


def _evaluate_log(
    folder: Path,
    step: dict[str, Any],
    config: SimulationConfig,
    plan: EvaluationPlan,
    spec: str,
    index: int,
) -> pd.DataFrame:
    """The estimates and true values of the targets on the run's log of policy ``spec``, the
    ``index``-th of ``plan.logs``."""
    log = folder / step["logs"][policy_label(spec)]
    streams = evaluation_streams(config.seed, len(plan.targets) + len(plan.estimators) + 1,
                                 log=index)  # fmt: skip
    targets = build_policies(list(plan.targets), streams[: len(plan.targets)])
    estimators = [make_estimator(spec, rng=stream)
                  for spec, stream in zip(plan.estimators, streams[len(plan.targets):-1],
                                          strict=True)]  # fmt: skip
    frame = evaluate_log(log, targets, estimators, train_fraction=plan.train_fraction)
    truths = held_out_truth(
        make_env_factory(config.env, config.env_params)(),
        env_seed=int(step["seeds"]["env"]),
        log=log,
        targets=targets,
        train_fraction=plan.train_fraction,
        n_requests=plan.truth_requests,
        rng=streams[-1],
    )
    frame["true_value"] = [truths[name][0] for name in frame["target"]]
    frame["true_value_stderr"] = [truths[name][1] for name in frame["target"]]
    frame.insert(0, "log", spec)
    return frame


def held_out_truth(
    env: Any,
    *,
    env_seed: int,
    log: Path,
    targets: dict[str, Policy],
    train_fraction: float,
    n_requests: int,
    rng: np.random.Generator,
    points: int = TRUTH_POINTS,
) -> dict[str, tuple[float, float]]:
    """Each target's true value per request over the held-out period of ``log``: what its
    estimates estimate. Returns ``{name: (value, standard error)}``; closes ``env``.

    The held-out period is the steps (``times``) of the rows that :func:`evaluate_log` holds out
    (all but the oldest ``train_fraction``). ``env`` is reset with the run's ``env_seed`` and
    replayed with the logged slates, so at each step its world (drifted tastes, trends, arrived
    items and users, fatigue, the clicks the logger drew, the time of day) is the one the logger
    met. At ``min(points, held-out steps)`` steps evenly spread over the held-out period (the
    first and the last included), ``simulator.true_value`` takes the target's exact expected
    reward on that step's world, frozen, over ``n_requests / points`` fresh requests; the
    truth is the mean of these values (its standard error from theirs). In a world that does
    not change it equals the value at reset; in one that drifts it follows the drift the
    estimates see, rather than the world as it was at reset.
    """
    from simulator import true_value  # the face may wire the simulator in

    try:
        times = open_log(log).read_times()
        held = np.unique(times[~time_split_mask(times, train_fraction)])
        chosen = held[np.unique(np.linspace(0, held.size - 1, min(points, held.size)).round()
                                .astype(np.int64))]  # fmt: skip
        per_point = max(1, -(-n_requests // chosen.size))
        seeds = [int(seed) for seed in rng.integers(2**31, size=chosen.size)]
        values: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        raw, _ = env.reset(seed=env_seed)
        pending = iter(enumerate(chosen))
        point, wanted = next(pending, (0, None))
        batches = iter_log_batches(log)
        buffered: LoggedBandit | None = None
        while wanted is not None:
            obs = as_observation(raw)
            now = int(obs.times[0])
            if now == wanted:
                for name, policy in targets.items():  # the same requests for every target
                    value = true_value(env, policy, n_requests=per_point, seed=seeds[point])
                    values[name].append((value.value, value.standard_error))
                point, wanted = next(pending, (0, None))
                if wanted is None:
                    break
            rows, buffered = _take_rows(batches, buffered, obs.n_requests, log)
            if not np.array_equal(rows.observation.times, obs.times) or not np.array_equal(
                rows.observation.candidate_ids[:, : obs.candidate_ids.shape[1]], obs.candidate_ids
            ):
                raise InputValueError(
                    f"{log}: replaying its slates from the environment's seed {env_seed} does "
                    f"not give its requests back at step {now}; the log is not of this world."
                )
            raw, *_ = env.step(rows.decision.slates)
    finally:
        env.close()
    return {name: mean_of_estimates(found) for name, found in values.items()}


def mean_of_estimates(estimates: list[tuple[float, float]]) -> tuple[float, float]:
    """The mean of independent ``(value, standard error)`` estimates and its standard error,
    ``sqrt(sum se_i^2) / n``."""
    values, errors = np.array(estimates, dtype=np.float64).reshape(-1, 2).T
    return float(values.mean()), float(np.sqrt(np.square(errors).sum()) / len(estimates))


def _take_rows(
    batches: Iterator[LoggedBandit], buffered: LoggedBandit | None, count: int, log: Path
) -> tuple[LoggedBandit, LoggedBandit | None]:
    """The next ``count`` rows of the log (from ``buffered``, then ``batches``) and what is
    left over."""
    parts, have = [], 0
    while have < count:
        if buffered is None or len(buffered) == 0:
            buffered = next(batches, None)
            if buffered is None:
                raise InputValueError(f"{log} ends before the steps it holds out.")
        need = min(count - have, len(buffered))
        parts.append(buffered.take(np.arange(need)))
        buffered = buffered.take(np.arange(need, len(buffered)))
        have += need
    return (parts[0] if len(parts) == 1 else LoggedBandit.concat(parts)), buffered


def estimator_errors(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per world, log (with a ``log`` column), target and estimator, over the runs (seeds):
    mean estimate, mean true value, bias (mean of estimate - truth), RMSE and the share of runs
    whose interval covers the truth.

    Parameters
    ----------
    estimates : pandas.DataFrame
        One row per run x (log x) target x estimator with ``world``, optionally ``log``,
        ``target``, ``estimator``, ``value``, ``ci_low``, ``ci_high`` and ``true_value``.
    """
    error = estimates["value"] - estimates["true_value"]
    covered = (estimates["ci_low"] <= estimates["true_value"]) & (
        estimates["true_value"] <= estimates["ci_high"]
    )
    frame = estimates.assign(error=error, squared=error**2, covered=covered.astype(float))
    keys = ["world", *(["log"] if "log" in frame.columns else []), "target", "estimator"]
    grouped = frame.groupby(keys, sort=False)
    table = grouped.agg(
        runs=("value", "size"),
        estimate=("value", "mean"),
        true_value=("true_value", "mean"),
        bias=("error", "mean"),
        rmse=("squared", "mean"),
        coverage=("covered", "mean"),
    ).reset_index()
    table["rmse"] = np.sqrt(table["rmse"])
    return table
