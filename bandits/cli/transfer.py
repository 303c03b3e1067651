"""``bandits import`` and ``bandits export``: other tools' logs in, bandits logs out.

The work is :mod:`bandits.logs.importers`; these commands check the output path (as every
command does), call it and print one summary line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from bandits.cli.console import friendly_errors, say
from bandits.cli.run_folder import (
    DSJSON,
    OBP_FEEDBACK,
    PARQUET_LOG,
    PARQUET_PROBABILITIES,
    check_output_file,
    check_output_suffix,
)
from bandits.cli.targets import build_targets
from bandits.cli.wiring import check_specs
from bandits.logs import DEFAULT_BATCH_BYTES, iter_log_batches, open_log
from bandits.logs.atomic import atomic_path
from bandits.logs.importers import export_dsjson, import_dsjson, import_obd, to_obp
from bandits.ope import write_probability_target
from bandits.policy import Policy
from bandits.run import spawn_generators
from bandits.validation import InputValueError, check_choice

import_app = typer.Typer(
    help="Import another tool's log (VW DSJson, the Open Bandit Dataset) as a bandits log.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
export_app = typer.Typer(
    help="Export a bandits log for another tool (VW DSJson, obp's bandit_feedback), or a "
    "policy's probabilities on a log (obp's action_dist).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

Out = Annotated[Path, typer.Option(help="The file to write.")]
Overwrite = Annotated[bool, typer.Option(help="Allow replacing an existing --out.")]
BatchBytes = Annotated[
    int, typer.Option(min=1, max=2**40, help="Memory budget of one batch of log rows, in bytes.")
]


@import_app.command("dsjson")
@friendly_errors
def import_dsjson_command(
    file: Annotated[Path, typer.Argument(help="A VW decision-service log, one JSON per line.")],
    out: Out,
    overwrite: Overwrite = False,
    skip_malformed: Annotated[
        bool, typer.Option(help="Skip and count malformed lines instead of stopping at one.")
    ] = False,
    item_id: Annotated[
        str, typer.Option(help="Dotted field of an action that holds its item id.")
    ] = "_id",
    policy: Annotated[str, typer.Option(help="Name of the logging policy.")] = "dsjson",
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
) -> None:
    """Import a VW DSJson log (--cb_adf or --ccb_adf events) into a bandits log (.parquet).

    Reward is -cost; lines VW skips (not events, _skipLearn, no actions) are skipped and
    counted; pdrop is folded into the probabilities.
    """
    target = check_output_file(
        out, writes=PARQUET_LOG, command="import", inputs=[file], overwrite=overwrite
    )
    summary = import_dsjson(
        file,
        target,
        overwrite=overwrite,
        skip_malformed=skip_malformed,
        item_id_field=item_id,
        policy=policy,
        batch_bytes=batch_bytes,
    )
    say(f"Wrote {out} from {file}: {summary.line()}.")


@import_app.command("obd")
@friendly_errors
def import_obd_command(
    folder: Annotated[
        Path,
        typer.Argument(help="An OBD policy/campaign folder (<campaign>.csv, item_context.csv)."),
    ],
    out: Out,
    as_: Annotated[
        str,
        typer.Option(
            "--as", help="slates: one request per impression; positions: one per CSV row."
        ),
    ] = "slates",
    overwrite: Overwrite = False,
    policy: Annotated[
        str | None,
        typer.Option(help="Name of the logging policy (default obd:<policy>/<campaign>)."),
    ] = None,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
) -> None:
    """Import an Open Bandit Dataset folder into a bandits log (.parquet)."""
    mode = check_choice(as_, ["slates", "positions"], "--as")
    inputs = sorted(folder.glob("*.csv")) if folder.is_dir() else [folder]
    target = check_output_file(
        out, writes=PARQUET_LOG, command="import", inputs=inputs, overwrite=overwrite
    )
    summary = import_obd(
        folder,
        target,
        as_="slates" if mode == "slates" else "positions",
        overwrite=overwrite,
        policy=policy,
        batch_bytes=batch_bytes,
    )
    say(f"Wrote {out} from {folder} (as {mode}): {summary.line()}.")


@export_app.command("dsjson")
@friendly_errors
def export_dsjson_command(
    log: Annotated[Path, typer.Argument(help="A bandits log (.parquet).")],
    out: Out,
    overwrite: Overwrite = False,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
) -> None:
    """Write a log as VW DSJson (--cb_explore_adf for slates of 1, --ccb_explore_adf beyond)."""
    opened = open_log(log)
    target = check_output_file(
        out, writes=DSJSON, command="export", inputs=opened.files, overwrite=overwrite
    )
    rows = export_dsjson(log, target, overwrite=overwrite, batch_bytes=batch_bytes)
    say(f"Wrote {out} from {log}: {rows:,} events.")


@export_app.command("obp")
@friendly_errors
def export_obp_command(
    log: Annotated[Path, typer.Argument(help="A bandits log (.parquet).")],
    out: Annotated[Path, typer.Option(help="The .npz file to write.")],
    overwrite: Overwrite = False,
) -> None:
    """Write a log as obp's bandit_feedback dict in a .npz file (read it with
    dict(numpy.load(path))). The whole log is read into memory."""
    opened = open_log(log)
    target = check_output_file(
        out, writes=OBP_FEEDBACK, command="export", inputs=opened.files, overwrite=overwrite
    )
    feedback = to_obp(opened.read())
    with atomic_path(target, replace=overwrite) as temporary:
        with open(temporary, "wb") as handle:
            arrays: dict[str, Any] = {key: np.asarray(value) for key, value in feedback.items()}
            np.savez(handle, **arrays)
    rounds, actions = feedback["n_rounds"], feedback["n_actions"]
    say(f"Wrote {out} from {log}: {rounds:,} rounds, {actions:,} actions.")


@export_app.command("probabilities")
@friendly_errors
def export_probabilities_command(
    log: Annotated[Path, typer.Argument(help="A bandits log (.parquet).")],
    out: Annotated[Path, typer.Option(help="The .parquet file of target probabilities to write.")],
    target: Annotated[
        str | None, typer.Option("--target", "-t", metavar="SPEC", help="A policy spec.")
    ] = None,
    target_file: Annotated[
        Path | None,
        typer.Option("--target-file", "-f", metavar="FILE", help="A saved policy."),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the policy's random stream.")] = 0,
    overwrite: Overwrite = False,
    batch_bytes: BatchBytes = DEFAULT_BATCH_BYTES,
) -> None:
    """Write a policy's probability of every candidate at every position on each logged row,
    with its probability of each logged slate and, for slates of 2 or more, of each candidate
    at each position given the logged items above (cascade_dist, for rips and cascade-dr): a
    file `evaluate --target-file` takes (obp's action_dist, one row per logged row). Streamed."""
    if (target is None) == (target_file is None):
        raise InputValueError("export probabilities takes one of --target SPEC or --target-file.")
    check_specs([] if target is None else [target], "--target")
    check_output_suffix(out, PARQUET_PROBABILITIES, "export probabilities")
    built = build_targets([target] if target else [], [target_file] if target_file else [],
                          spawn_generators(seed, 1 if target else 0))  # fmt: skip
    policy = next(iter(built.values()))
    if not isinstance(policy, Policy):
        raise InputValueError(
            f"--target-file {target_file} already holds target probabilities; give a policy."
        )
    opened = open_log(log)
    inputs = [*opened.files, *([target_file] if target_file else [])]
    checked = check_output_file(
        out, writes=PARQUET_PROBABILITIES, command="export", inputs=inputs, overwrite=overwrite
    )
    rows = write_probability_target(
        checked, iter_log_batches(log, batch_bytes=batch_bytes), policy, overwrite=overwrite
    )
    say(f"Wrote {out} from {log}: the probabilities of {policy.name} on {rows:,} rows.")
