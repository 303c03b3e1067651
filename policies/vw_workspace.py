"""The VW workspace behind :class:`policies.vw.VowpalWabbit`: its command line, the slot
distributions it predicts, and its model as bytes (for files and pickles).

This module and ``policies/vw.py`` are the only ones that import ``vowpalwabbit``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pylibvw
import vowpalwabbit
from numpy.typing import NDArray

from policies.vw_examples import predict_text

EXPLORATIONS = ("epsilon", "softmax", "bag", "cover", "regcb", "squarecb")
"""VW's ``--cb_explore_adf`` exploration algorithms the policy offers."""

CB_TYPES = ("mtr", "ips", "dr")
"""VW's ``--cb_type``: how ``cb_adf`` turns a logged (action, cost, probability) into a
training signal. ``mtr`` (VW's default for ``cb_adf``, so not written out) regresses the
chosen action's cost weighted by ``1 / p``; ``ips`` trains every action on the
importance-weighted cost estimate ``cost 1{a chosen} / p``; ``dr`` on the doubly robust one.
regcb and squarecb take only ``mtr``."""


def command_line(
    *,
    explore: str,
    epsilon: float,
    lambda_: float,
    bag: int,
    cover: int,
    gamma_scale: float,
    learning_rate: float,
    interactions: Sequence[str],
    bits: int,
    random_seed: int,
    cb_type: str = "mtr",
    reduction: str = "--ccb_explore_adf",
) -> list[str]:
    """VW's arguments: ``reduction`` (``--ccb_explore_adf`` or ``--slates``) over
    ``--cb_explore_adf`` with ``explore``.

    ``epsilon`` goes to epsilon, bag and cover (VW mixes it in with each); ``lambda_`` to
    softmax; ``gamma_scale`` to squarecb; regcb takes none of them.
    """
    exploration = {
        "epsilon": ["--epsilon", f"{epsilon!r}"],
        "softmax": ["--softmax", "--lambda", f"{lambda_!r}"],
        "bag": ["--bag", str(bag), "--epsilon", f"{epsilon!r}"],
        "cover": ["--cover", str(cover), "--epsilon", f"{epsilon!r}"],
        "regcb": ["--regcb"],
        "squarecb": ["--squarecb", "--gamma_scale", f"{gamma_scale!r}"],
    }[explore]
    arguments = [reduction, *exploration, "-l", f"{learning_rate!r}", "-b", str(bits)]
    if cb_type != "mtr":  # VW's default, left out so that older command lines stay the same
        arguments += ["--cb_type", cb_type]
    for interaction in interactions:
        arguments += ["--interactions", interaction]
    return [*arguments, "--random_seed", str(random_seed), "--quiet"]


def new_workspace(arguments: list[str]) -> vowpalwabbit.Workspace:
    """A fresh workspace for ``arguments``."""
    return vowpalwabbit.Workspace(arg_list=arguments)


def slot_distribution(
    workspace: vowpalwabbit.Workspace, head: str, taken: Sequence[int]
) -> NDArray[np.float64]:
    """VW's distribution of the next slot once ``taken`` are shown, shape (n_candidates,).

    VW's probabilities are 32-bit and sum to 1 only to about 1e-7; they are divided by their
    sum in float64 (VW's own sampler normalises the same way), so the slot's probabilities
    are VW's entries to within that rounding and sum to 1. Predicting only: the workspace is
    unchanged (see :mod:`policies.vw_examples` for the seed tag that ensures it).
    """
    return normalised_pmf(predict_raw(workspace, predict_text(head, taken))[-1], head.count("\n"))


def normalised_pmf(pairs: list[tuple[int, float]], n: int) -> NDArray[np.float64]:
    """One slot's (action, probability) pairs from VW as a distribution over ``n`` candidates,
    shape (n,): each probability divided by their exactly rounded float64 sum
    (:func:`math.fsum`, so the result does not depend on how the sum is taken)."""
    pmf = np.zeros(n)
    actions, probabilities = zip(*pairs, strict=True)
    pmf[list(actions)] = probabilities
    pmf /= math.fsum(probabilities)
    return pmf


def model_bytes(workspace: vowpalwabbit.Workspace) -> bytes:
    """The workspace's model file (weights and learning state) as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.vw"
        workspace.save(str(path))
        return path.read_bytes()


def workspace_from_bytes(model: bytes, arguments: list[str]) -> vowpalwabbit.Workspace:
    """A workspace that continues the model ``model`` (from :func:`model_bytes`).

    ``--random_seed`` is left out of ``arguments``: the model file keeps VW's random state as
    it was when saved, so bagging goes on drawing where it stopped.
    """
    seed = arguments.index("--random_seed")
    kept = arguments[:seed] + arguments[seed + 2 :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.vw"
        path.write_bytes(model)
        return vowpalwabbit.Workspace(arg_list=[*kept, "-i", str(path)])


def predict_raw(workspace: vowpalwabbit.Workspace, text: str) -> list[list[tuple[int, float]]]:
    """VW's decision scores (per slot, (action, probability) pairs) for one multi-line
    example ``text``, predicting only.

    The same as ``workspace.predict(lines)``, but through VW's own parser and learner calls
    without pyvw's Python ``Example`` wrapper per line (most of the cost of a request)."""
    examples = workspace._parse(text)
    try:
        pylibvw.vw.predict_multi(workspace, examples)
        scores: list[list[tuple[int, float]]] = examples[0].get_decision_scores()
    finally:
        pylibvw.vw._finish_example_multi_ex(workspace, examples)
    return scores


def learn_raw(workspace: vowpalwabbit.Workspace, text: str) -> None:
    """``workspace.learn(text.split("\\n"))`` for one multi-line example ``text``, without
    pyvw's per-line ``Example`` wrappers (see :func:`predict_raw`)."""
    examples = workspace._parse(text)
    try:
        pylibvw.vw.learn_multi(workspace, examples)
    finally:
        pylibvw.vw._finish_example_multi_ex(workspace, examples)
