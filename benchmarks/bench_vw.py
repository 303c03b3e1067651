"""VW policy speed: requests per second through ``policies.VowpalWabbit`` (act + update)
against VW's own command line on the same data, plus how fast examples are built.

Our policy acts and learns on batches of random requests (20 candidates, 5 context and 5 item
features, slates of 1) with Bernoulli clicks from a fixed linear model. Its decisions and the
clicks are written as a VW text data file with the same features and labels, which VW's
command line then learns from (``python -m vowpalwabbit <policy's arguments> -d file``, run
in-process through ``vowpalwabbit.Workspace``: the Python package ships no ``vw`` binary), on
all cores and pinned to one (the command line parses the file on a second thread while it
learns; the policy runs on one). VW predicts and learns once per example there; the policy
predicts in ``act`` and learns in ``update``, and builds its examples in Python. The same
examples are also learnt by a fresh policy from the logged batches (``learn_off_policy``, which
is what ``bandits learn`` runs): the command line's own job, learning from a file, through the
policy; the benchmark checks that both then predict exactly alike. A row on a catalogue of
100,000 items shows requests whose items rarely repeat (most action lines are then parsed with
their request, as before examples were kept). A row with
slates of 3 shows the price of exact position probabilities (one VW prediction per set of
fewer than 3 candidates: 211 per request).

A third row of the first table is VW alone in-process: the data file's examples parsed, predicted
on and learnt from one at a time through ``pylibvw``, with no policy code: the floor for a
policy that predicts in ``act`` and learns in ``update``.

The second table times building one request's example and predicting on it: from the whole
text parsed per request, from kept action examples with only the batch's shared and slot lines
parsed, in one call (what the policy does), and from VW's typed ``Example`` objects.

Each repeat runs the policy and the command line back to back (so that a busy machine slows
both alike) and each column keeps its best run; shares are of the command line's best. Runs on
all cores are timed by the wall clock; runs pinned to one core by the process's CPU time, so
that other processes on that core do not count (on an idle machine the two agree).

Run: .venv/bin/python benchmarks/bench_vw.py [--requests N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pylibvw
import vowpalwabbit
from vowpalwabbit import pyvw

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import SlateObservation
from policies import VowpalWabbit
from policies.vw_examples import (
    RequestHeads,
    learn_text,
    predict_slots,
    predict_text,
    request_heads,
)
from policies.vw_requests import ParsedActions, predict_requests
from policies.vw_workspace import slot_distribution

N_CANDIDATES, N_CONTEXT, N_ITEM, BATCH = 20, 5, 5, 100
LARGE_CATALOGUE = 100_000
"""Catalogue of the row where items rarely repeat, so few action examples are kept."""


def batches(
    total: int, slate_size: int, seed: int = 0, catalogue: int = 1000
) -> list[SlateObservation]:
    """Batches of requests, each with 20 of ``catalogue`` items as candidates."""
    rng = np.random.default_rng(seed)
    items = ItemTable(np.arange(catalogue), rng.normal(size=(catalogue, N_ITEM)))
    observations = []
    for start in range(0, total - total % BATCH, BATCH):
        if catalogue <= 1000:
            ids = np.argsort(rng.random((BATCH, catalogue)), axis=1)[:, :N_CANDIDATES]
        else:
            ids = np.array(
                [rng.choice(catalogue, N_CANDIDATES, replace=False) for _ in range(BATCH)]
            )
        observations.append(
            SlateObservation(
                context=rng.normal(size=(BATCH, N_CONTEXT)),
                candidate_ids=ids,
                n_candidates=np.full(BATCH, N_CANDIDATES),
                slate_size=slate_size,
                history=np.zeros((BATCH, 0), dtype=np.int64),
                request_ids=start + np.arange(BATCH),
                user_ids=np.zeros(BATCH, dtype=np.int64),
                times=np.zeros(BATCH, dtype=np.int64),
                items=items,
            )
        )
    return observations


WEIGHTS = np.random.default_rng(99).normal(size=(N_CONTEXT, N_ITEM))
"""The click model's W: a user with context x clicks item features z with probability
sigmoid(x . W . z)."""


def clicks(obs: SlateObservation, slates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli clicks with probability sigmoid(context . W . item) of the shown items."""
    items = np.take_along_axis(obs.candidate_features, slates[:, :, None], axis=1)
    logits = np.einsum("nc,cd,nkd->nk", obs.context, WEIGHTS, items)
    return (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(np.float64)


Logged = list[tuple[SlateObservation, SlateDecision, SlateFeedback]]

CLOCKS = [time.perf_counter]
"""The clock of the runs: wall time, and this process's CPU time inside :func:`one_core`."""


def clock() -> float:
    """Seconds on the current clock (see :data:`CLOCKS`)."""
    return CLOCKS[-1]()


def run_policy(observations: list[SlateObservation]) -> tuple[float, list[str], Logged]:
    """Requests per second of act + update, the labelled examples it learnt from (a VW data
    file's lines, written after the timed loop so that the loop runs as a service's would)
    and the same as logged batches."""
    policy = VowpalWabbit(rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    logged: Logged = []
    start = clock()
    for obs in observations:
        decision = policy.act(obs)
        feedback = SlateFeedback(clicks(obs, decision.slates, rng))
        policy.update(obs, decision, feedback)
        logged.append((obs, decision, feedback))
    elapsed = clock() - start
    lines: list[str] = []
    for obs, decision, feedback in logged:
        for row, head in enumerate(request_heads(obs)):
            slate = decision.slates[row]
            probabilities = decision.position_probability[row]
            lines += [learn_text(head, slate, -feedback.rewards[row], probabilities), ""]
    return len(observations) * BATCH / elapsed, lines, logged


def run_learning(logged: Logged) -> tuple[float, VowpalWabbit]:
    """Examples per second of a fresh policy learning from the logged batches
    (``learn_off_policy``: the data file's examples, from the log's table), and the policy."""
    policy = VowpalWabbit(rng=np.random.default_rng(0))
    start = clock()
    for obs, decision, feedback in logged:
        policy.learn_off_policy(obs, decision, feedback)
    return len(logged) * BATCH / (clock() - start), policy


def same_model_as_command_line(policy: VowpalWabbit, lines: list[str]) -> bool:
    """Whether ``policy`` predicts exactly as VW's command line after it learnt ``lines``,
    on 100 new requests."""
    probe = batches(BATCH, 1, seed=7)[0]
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.txt"
        data.write_text("\n".join(lines) + "\n")
        workspace = vowpalwabbit.Workspace(arg_list=[*policy.command_line(), "-d", str(data)])
        theirs = [slot_distribution(workspace, head, []) for head in request_heads(probe)]
        workspace.finish()
    ours = policy.candidate_position_probability(probe)[:, :, 0]
    return all(np.array_equal(ours[row], pmf) for row, pmf in enumerate(theirs))


def run_command_line(lines: list[str]) -> float:
    """Examples per second of VW's command line learning from ``lines`` (a data file)."""
    arguments = VowpalWabbit(rng=np.random.default_rng(0)).command_line()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data.txt"
        data.write_text("\n".join(lines) + "\n")
        start = clock()
        workspace = vowpalwabbit.Workspace(arg_list=[*arguments, "-d", str(data)])
        workspace.finish()
        elapsed = clock() - start
    return lines.count("") / elapsed


def run_vw_alone(lines: list[str]) -> float:
    """Examples per second of VW parsing, predicting on and learning from each example of
    ``lines`` in turn, in-process with no policy code."""
    workspace = VowpalWabbit(rng=np.random.default_rng(0)).workspace_
    texts = [text for text in "\n".join(lines).split("\n\n") if text.strip()]
    start = clock()
    for text in texts:
        examples = workspace._parse(text)
        pylibvw.vw.predict_multi(workspace, examples)
        pylibvw.vw.learn_multi(workspace, examples)
        pylibvw.vw._finish_example_multi_ex(workspace, examples)
    return len(texts) / (clock() - start)


def example_building(obs: SlateObservation) -> tuple[float, float, float]:
    """Predictions per second from whole text lines, from kept action examples and from
    typed Example objects (each on a fresh workspace; the kept examples are parsed before
    the clock starts, as a policy that has seen the items has them)."""
    workspace = VowpalWabbit(rng=np.random.default_rng(0)).workspace_
    start = time.perf_counter()
    for head in request_heads(obs):
        workspace.predict(predict_text(head, []).split("\n"))
    text = obs.n_requests / (time.perf_counter() - start)

    workspace = VowpalWabbit(rng=np.random.default_rng(0)).workspace_
    parsed = ParsedActions("ccb")
    parts = RequestHeads().parts(obs)
    requests = [(shared, parsed(workspace, actions)) for shared, actions in parts]
    start = time.perf_counter()
    predict_requests(workspace, requests, [predict_slots([])] * len(requests))
    kept = obs.n_requests / (time.perf_counter() - start)

    ccb = pyvw.LabelType.CONDITIONAL_CONTEXTUAL_BANDIT
    context_names = [str(j) for j in range(N_CONTEXT)]
    item_names = [str(j) for j in range(N_ITEM)]

    def typed(namespaces: dict, label: str) -> pyvw.Example:
        example = pyvw.Example(workspace, namespaces, labelType=ccb)
        example.set_label_string(label)
        return example

    start = time.perf_counter()
    for row in range(obs.n_requests):
        context = list(zip(context_names, obs.context[row].tolist(), strict=True))
        examples = [typed({"u": context}, "ccb shared")]
        candidates = zip(obs.candidate_ids[row], obs.candidate_features[row].tolist(), strict=True)
        for item, features in candidates:
            namespaces = {"d": [str(item)], "i": list(zip(item_names, features, strict=True))}
            examples.append(typed(namespaces, "ccb action"))
        examples.append(typed({"s": ["p0"]}, "ccb slot"))
        workspace.predict(examples)
        workspace.finish_example(examples)
    return text, kept, obs.n_requests / (time.perf_counter() - start)


def best_of(rounds: Sequence[tuple[float, ...]]) -> tuple[float, ...]:
    """The best rate of each column of ``rounds`` (one row per repeat)."""
    return tuple(max(column) for column in zip(*rounds, strict=True))


@contextmanager
def one_core() -> Iterator[None]:
    """Run the block on one CPU (VW's command line parses its data file on a second thread,
    which a busy or single-core machine does not give it), timed by this process's CPU time
    (both of the command line's threads; other processes on that CPU do not count)."""
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    CLOCKS.append(time.process_time)
    try:
        yield
    finally:
        CLOCKS.pop()
        os.sched_setaffinity(0, cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    singles = batches(args.requests, 1)
    _, lines, logged = run_policy(singles)  # every run makes the same decisions
    # each repeat runs both sides back to back, so that a busy machine slows both alike
    ours, learning, theirs = best_of(
        [
            (run_policy(singles)[0], run_learning(logged)[0], run_command_line(lines))
            for _ in range(args.repeats)
        ]
    )
    learnt = run_learning(logged)[1]
    with one_core():
        ours_pinned, learning_pinned, alone, theirs_pinned = best_of(
            [
                (
                    run_policy(singles)[0],
                    run_learning(logged)[0],
                    run_vw_alone(lines),
                    run_command_line(lines),
                )
                for _ in range(args.repeats)
            ]
        )
        large = batches(args.requests, 1, seed=2, catalogue=LARGE_CATALOGUE)
        ours_large = max(run_policy(large)[0] for _ in range(args.repeats))
    triples = run_policy(batches(max(BATCH, args.requests // 20), 3, seed=1))[0]
    same = same_model_as_command_line(learnt, lines)
    print(
        f"{args.requests:,} requests, {N_CANDIDATES} candidates, {N_CONTEXT} context and "
        f"{N_ITEM} item features; vowpalwabbit {vowpalwabbit.__version__}; best of "
        f"{args.repeats} runs\n"
    )
    print("| run | slate size | requests/s | share of command line |")
    print("|---|---:|---:|---:|")
    print(f"| VW command line (-d file), all cores | 1 | {theirs:,.0f} | 100% |")
    print(f"| VowpalWabbit act + update, all cores | 1 | {ours:,.0f} | {ours / theirs:.0%} |")
    share = learning / theirs
    print(f"| VowpalWabbit learn_off_policy, all cores | 1 | {learning:,.0f} | {share:.0%} |")
    print(f"| VW command line (-d file), one core | 1 | {theirs_pinned:,.0f} | 100% |")
    share = ours_pinned / theirs_pinned
    print(f"| VowpalWabbit act + update, one core | 1 | {ours_pinned:,.0f} | {share:.0%} |")
    share = learning_pinned / theirs_pinned
    print(f"| VowpalWabbit learn_off_policy, one core | 1 | {learning_pinned:,.0f} | {share:.0%} |")
    share = alone / theirs_pinned
    print(f"| VW alone: parse, predict, learn, one core | 1 | {alone:,.0f} | {share:.0%} |")
    print(f"| VowpalWabbit act + update | 3 | {triples:,.0f} | (exact marginals) |")
    print(
        f"| VowpalWabbit act + update, one core, {LARGE_CATALOGUE:,} items | 1 | "
        f"{ours_large:,.0f} | (items rarely repeat) |"
    )
    print(
        "\nThe policy that learnt off-policy predicts exactly as the command line after the "
        f"same file: {'yes' if same else 'NO'}"
    )
    text, kept, typed = example_building(singles[0].take(np.arange(BATCH)))
    print("\n| examples built from | predictions/s |")
    print("|---|---:|")
    print(f"| whole text per request | {text:,.0f} |")
    print(f"| kept action examples, a batch's shared and slot lines parsed (used) | {kept:,.0f} |")
    print(f"| typed Example objects | {typed:,.0f} |")


if __name__ == "__main__":
    main()
