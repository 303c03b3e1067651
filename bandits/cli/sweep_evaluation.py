"""Off-policy estimates inside a sweep, checked against the world's truth: each run evaluates
targets on one policy's log and records each target's true value (``simulator.true_value`` on
the run's world); the sweep then tabulates each estimator's bias, RMSE and interval coverage
over the seeds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bandits.cli.config import SimulationConfig
from bandits.cli.manifest import read_manifest
from bandits.cli.wiring import build_policies, make_env_factory, policy_label
from bandits.logs.atomic import atomic_path
from bandits.ope import evaluate_log, make_estimator
from bandits.run import spawn_generators
from bandits.validation import InputTypeError, InputValueError, check_integer, check_real, shown

EVALUATE_KEYS = ("log", "targets", "estimators", "train_fraction", "truth_requests")
ESTIMATES_FILE = "estimates.csv"
DEFAULT_ESTIMATORS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class EvaluationPlan:
    """What each run evaluates: the log of policy ``log`` (a spec among the sweep's policies),
    the ``targets`` (specs) with the ``estimators`` (specs), the targets trained first on the
    oldest ``train_fraction`` of the log; truth from ``truth_requests`` requests."""

    log: str
    targets: tuple[str, ...]
    estimators: tuple[str, ...]
    train_fraction: float
    truth_requests: int

    @classmethod
    def from_mapping(cls, values: object, policies: tuple[str, ...]) -> EvaluationPlan:
        from bandits.cli.sweep_config import check_keys  # the config module imports this one

        check_keys(values, EVALUATE_KEYS, "[sweep.evaluate]")
        assert isinstance(values, dict)
        log = values.get("log")
        labels = {policy_label(spec): spec for spec in policies}
        if not isinstance(log, str) or policy_label(log) not in labels:
            raise InputValueError(
                f"The 'log' of [sweep.evaluate] must be one of the sweep's policies "
                f"{list(policies)}; got {shown(log)}."
            )
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
        return cls(labels[policy_label(log)], tuple(targets),
                   tuple(estimators), fraction, truth)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"log": self.log, "targets": list(self.targets),
                "estimators": list(self.estimators), "train_fraction": self.train_fraction,
                "truth_requests": self.truth_requests}  # fmt: skip


def evaluate_run(folder: Path, config: SimulationConfig, plan: EvaluationPlan) -> pd.DataFrame:
    """Estimate the targets on the run's log of ``plan.log`` and add each target's true value
    (after the same training) on the run's world; written to ``estimates.csv`` in ``folder``.

    Streams come from the run's seed, so a run's estimates are the same wherever it runs.
    """
    step = read_manifest(folder)["steps"]["simulate"]
    log = folder / step["logs"][policy_label(plan.log)]
    streams = spawn_generators(config.seed + 1, len(plan.targets) + len(plan.estimators) + 1)
    targets = build_policies(list(plan.targets), streams[: len(plan.targets)])
    estimators = [make_estimator(spec, rng=stream)
                  for spec, stream in zip(plan.estimators, streams[len(plan.targets):-1],
                                          strict=True)]  # fmt: skip
    frame = evaluate_log(log, targets, estimators, train_fraction=plan.train_fraction)
    from simulator import true_value  # the face may wire the simulator in

    env = make_env_factory(config.env, config.env_params)()
    try:
        env.reset(seed=int(step["seeds"]["env"]))
        truth_seed = int(streams[-1].integers(2**31))
        truths = {name: true_value(env, policy, n_requests=plan.truth_requests, seed=truth_seed)
                  for name, policy in targets.items()}  # fmt: skip
    finally:
        env.close()
    frame["true_value"] = [truths[name].value for name in frame["target"]]
    frame["true_value_stderr"] = [truths[name].standard_error for name in frame["target"]]
    with atomic_path(folder / ESTIMATES_FILE) as temporary:
        frame.to_csv(temporary, index=False)
    return frame


def estimator_errors(estimates: pd.DataFrame) -> pd.DataFrame:
    """Per world, target and estimator, over the runs (seeds): mean estimate, mean true value,
    bias (mean of estimate - truth), RMSE and the share of runs whose interval covers the truth.

    Parameters
    ----------
    estimates : pandas.DataFrame
        One row per run x target x estimator with ``world``, ``target``, ``estimator``,
        ``value``, ``ci_low``, ``ci_high`` and ``true_value``.
    """
    error = estimates["value"] - estimates["true_value"]
    covered = (estimates["ci_low"] <= estimates["true_value"]) & (
        estimates["true_value"] <= estimates["ci_high"]
    )
    frame = estimates.assign(error=error, squared=error**2, covered=covered.astype(float))
    grouped = frame.groupby(["world", "target", "estimator"], sort=False)
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
