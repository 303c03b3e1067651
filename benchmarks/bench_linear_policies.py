"""Linear policies on the standard disjoint benchmark, side by side with a numpy reference.

The problem (Li et al. 2010's disjoint setting): K arms, d = 20 context features,
``theta_a ~ N(0, I / d)``, ``x ~ N(0, I)``, reward ``x . theta_a + N(0, 0.5^2)``; every arm is
a candidate (item features: one-hot of the arm), one item per slate. Regret is exact: the sum
of ``max_a x . theta_a - x . theta_chosen``.

The reference is plain numpy: disjoint LinUCB with an explicit ``A_a^-1`` per arm, updated by
Sherman-Morrison one request at a time, and its vectorised batch form (a batch scored with
one state, then each touched arm's ``A_a`` re-inverted). Ours are the registered policies
(``linucb`` and ``lints`` with ``model=disjoint``; ``linucb`` hybrid and joint where they
are fast enough; LinTS with 100 probability draws per request) fed typed observations;
"obs share" is the part of our time spent building and checking the ``SlateObservation``
(the price of the typed interface): by its constructor, as for any new batch, and in the rows
marked "with_requests" by ``SlateObservation.with_requests`` on a first observation of the
same candidates (how a fixed candidate set is served one request at a time: only the new
context and ids are checked). Exact ties (unseen arms) are broken at random by all.

"of reference" is a row's speed over the reference's at the same K and batch (the one-request
target: at least half). On a machine shared with other jobs, ``--repeats 3`` times each run
three times and keeps the fastest, for the reference and ours alike.

Run: .venv/bin/python benchmarks/bench_linear_policies.py [--rounds 20000] [--seeds 3]
[--repeats 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import PAD_ID, SlateObservation
from bandits.specs import parse_spec
from policies import make_policy

D = 20
NOISE = 0.5


@dataclass
class Problem:
    """Contexts, arm parameters and noisy rewards of one seed, drawn up front."""

    contexts: NDArray[np.float64]  # (rounds, d)
    thetas: NDArray[np.float64]  # (K, d)
    noise: NDArray[np.float64]  # (rounds,)

    @classmethod
    def draw(cls, k: int, rounds: int, seed: int) -> Problem:
        rng = np.random.default_rng(seed)
        thetas = rng.normal(scale=1 / np.sqrt(D), size=(k, D))
        return cls(rng.normal(size=(rounds, D)), thetas, rng.normal(scale=NOISE, size=rounds))

    def regret(self, rows: slice, arms: NDArray[np.int64]) -> float:
        means = self.contexts[rows] @ self.thetas.T
        return float((means.max(axis=1) - means[np.arange(len(arms)), arms]).sum())

    def rewards(self, rows: slice, arms: NDArray[np.int64]) -> NDArray[np.float64]:
        means = np.einsum("nd,nd->n", self.contexts[rows], self.thetas[arms])
        return means + self.noise[rows]


class ReferenceLinUCB:
    """Plain numpy disjoint LinUCB: ``A_a^-1`` per arm (Sherman-Morrison one row at a time, or
    re-inverted per touched arm after a batch); exact ties broken at random."""

    def __init__(self, k: int, alpha: float = 1.0, seed: int = 0) -> None:
        self.alpha = alpha
        self.rng = np.random.default_rng(seed)
        self.gram = np.repeat(np.eye(D)[None], k, axis=0)
        self.inverse = self.gram.copy()
        self.moment = np.zeros((k, D))

    def act(self, x: NDArray[np.float64]) -> NDArray[np.int64]:
        theta = np.einsum("kde,ke->kd", self.inverse, self.moment)
        width = np.sqrt(np.einsum("nd,kde,ne->nk", x, self.inverse, x))
        ucb = x @ theta.T + self.alpha * width
        tied = ucb == ucb.max(axis=1, keepdims=True)  # exact ties (unseen arms): at random
        return np.argmax(np.where(tied, self.rng.random(ucb.shape), -1.0), axis=1)

    def update(
        self, x: NDArray[np.float64], arms: NDArray[np.int64], r: NDArray[np.float64]
    ) -> None:
        if len(arms) == 1:
            a, v = int(arms[0]), x[0]
            av = self.inverse[a] @ v
            self.inverse[a] -= np.outer(av, av) / (1.0 + v @ av)
            self.moment[a] += r[0] * v
            return
        np.add.at(self.gram, arms, x[:, :, None] * x[:, None, :])
        np.add.at(self.moment, arms, r[:, None] * x)
        touched = np.unique(arms)
        self.inverse[touched] = np.linalg.inv(self.gram[touched])


def observation(x: NDArray[np.float64], items: ItemTable, start: int) -> SlateObservation:
    n, k = x.shape[0], items.ids.size
    ids = np.arange(start, start + n)  # request, user and time
    return SlateObservation(
        context=x,
        candidate_ids=np.tile(items.ids, (n, 1)),  # (n, k)
        n_candidates=np.full(n, k),
        slate_size=1,
        history=np.full((n, 1), PAD_ID),
        request_ids=ids,
        user_ids=ids,
        times=ids,
        items=items,
    )


def run_reference(problem: Problem, batch: int) -> tuple[float, float, float]:
    """(regret, decisions per second, 0) of the numpy reference."""
    k, rounds = problem.thetas.shape[0], problem.contexts.shape[0]
    policy, regret, spent = ReferenceLinUCB(k), 0.0, 0.0
    for start in range(0, rounds, batch):
        rows = slice(start, start + batch)
        x = problem.contexts[rows]
        begin = time.perf_counter()
        arms = policy.act(x)
        rewards = problem.rewards(rows, arms)
        policy.update(x, arms, rewards)
        spent += time.perf_counter() - begin
        regret += problem.regret(rows, arms)
    return regret, rounds / spent, 0.0


def next_requests(
    templates: dict[int, SlateObservation], x: NDArray[np.float64], items: ItemTable, start: int
) -> SlateObservation:
    """The observation of ``x`` by ``with_requests`` on the first one of its size (built by
    :func:`observation` and kept in ``templates``)."""
    n = x.shape[0]
    if n not in templates:
        templates[n] = observation(x, items, start)
        return templates[n]
    ids = np.arange(start, start + n)
    return templates[n].with_requests(x, request_ids=ids, user_ids=ids, times=ids)


def run_ours(
    spec: str, problem: Problem, batch: int, seed: int, *, templated: bool = False
) -> tuple[float, float, float]:
    """(regret, decisions per second, share of time building observations) of a policy, its
    observations built by the constructor or (``templated``) by ``with_requests``."""
    k, rounds = problem.thetas.shape[0], problem.contexts.shape[0]
    items = ItemTable(np.arange(k), np.eye(k))
    policy = make_policy(*parse_spec(spec), rng=np.random.default_rng(seed))
    regret, spent, building = 0.0, 0.0, 0.0
    templates: dict[int, SlateObservation] = {}
    for start in range(0, rounds, batch):
        rows = slice(start, start + batch)
        begin = time.perf_counter()
        if templated:
            obs = next_requests(templates, problem.contexts[rows], items, start)
        else:
            obs = observation(problem.contexts[rows], items, start)
        built = time.perf_counter()
        decision: SlateDecision = policy.act(obs)
        arms = decision.slates[:, 0]
        rewards = problem.rewards(rows, arms)
        policy.update(obs, decision, SlateFeedback(rewards[:, None]))
        spent += time.perf_counter() - begin
        building += built - begin
        regret += problem.regret(rows, arms)
    return regret, rounds / spent, building / spent


def fastest(
    repeats: int, run: Callable[..., tuple[float, float, float]], *args: Any, **kwargs: Any
) -> tuple[float, float, float]:
    """``run(*args, **kwargs)`` (regret, decisions per second, obs share) repeated ``repeats``
    times: the fastest repeat (the timeit convention: a slower one measured the machine's
    other jobs too), with the regret checked to be the same each time."""
    results = [run(*args, **kwargs) for _ in range(repeats)]
    regrets = {result[0] for result in results}
    assert len(regrets) == 1, f"repeats gave different regrets: {sorted(regrets)}"
    return max(results, key=lambda result: result[1])


POLICIES: list[tuple[str, Callable[[int, int], bool]]] = [
    ("linucb:alpha=1.0,ridge=1.0,model=disjoint", lambda k, batch: True),
    ("lints:v=1.0,ridge=1.0,model=disjoint,probability_draws=100", lambda k, batch: True),
    ("linucb:alpha=1.0,ridge=1.0,model=hybrid", lambda k, batch: k <= 10),
    ("linucb:alpha=1.0,ridge=1.0,model=joint", lambda k, batch: k <= 10),
]
"""Our specs and when to run them (the joint and hybrid models have d*K + K + 1 shared
features: at K = 100 a 2,121-wide matrix is updated per request, so they run at K = 10)."""

TEMPLATED = {POLICIES[0][0]}
"""Specs also run with observations made by ``SlateObservation.with_requests``."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--arms", type=int, nargs="+", default=[10, 100])
    parser.add_argument(
        "--repeats", type=int, default=1, help="time each run this many times, keep the fastest"
    )
    args = parser.parse_args()
    print(f"{args.rounds:,} rounds, d = {D}, noise {NOISE}, alpha = 1, ridge = 1, one BLAS thread;")
    print(f"regret and speed are means over seeds 0-{args.seeds - 1}", end="")
    print(f", each the fastest of {args.repeats} repeats" if args.repeats > 1 else "")
    print("| K | batch | policy | regret | decisions/s | of reference | obs share |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    with threadpool_limits(1, user_api="blas"):
        for k in args.arms:
            problems = [Problem.draw(k, args.rounds, seed) for seed in range(args.seeds)]
            for batch in (1, 100):
                r = args.repeats
                runs = {"numpy Sherman-Morrison LinUCB (reference)": [
                    fastest(r, run_reference, p, batch) for p in problems]}  # fmt: skip
                for spec, wanted in POLICIES:
                    if wanted(k, batch):
                        runs[spec] = [
                            fastest(r, run_ours, spec, p, batch, s) for s, p in enumerate(problems)
                        ]
                    if spec in TEMPLATED:
                        runs[f"{spec} (with_requests)"] = [
                            fastest(r, run_ours, spec, p, batch, s, templated=True)
                            for s, p in enumerate(problems)
                        ]
                reference = None
                for name, results in runs.items():
                    regret, speed, share = np.mean(results, axis=0)
                    reference = reference or speed  # the first row
                    shown = f"{share:.0%}" if share else "-"
                    print(
                        f"| {k} | {batch} | {name} | {regret:,.0f} | {speed:,.0f} | "
                        f"{speed / reference:.0%} | {shown} |"
                    )


if __name__ == "__main__":
    main()
