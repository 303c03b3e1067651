"""Run independent tasks on local processes or a Dask cluster, yielding results as they finish.

Tasks carry their own seeds, so what a task computes does not depend on where or in which
order it runs: the same tasks give the same results on any executor and any number of workers.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, TypeVar

from bandits.validation import InputValueError, check_choice

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS = ("local", "dask")
PR_SET_PDEATHSIG = 1
"""Linux prctl option: the signal a process gets when its parent dies."""


def run_tasks(
    function: Callable[[T], R],
    tasks: Sequence[T],
    *,
    executor: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
) -> Iterator[tuple[int, R]]:
    """Run ``function`` on every task; yield ``(index, result)`` as each finishes.

    Parameters
    ----------
    function : callable
        Importable at module level (it is pickled to the workers).
    tasks : sequence
        Picklable arguments, one call each.
    executor : {"local", "dask"}
        ``local``: a pool of ``workers`` processes (default: the machine's cores; started with
        ``spawn``, so no thread state is inherited); ``dask``: ``dask.distributed``, on the
        cluster at ``scheduler`` or, without one, on a local cluster of ``workers`` processes
        (default 2) of one thread each.
    workers : int, optional
    scheduler : str, optional
        A Dask scheduler's address, e.g. ``tcp://10.0.0.5:8786``.

    Raises
    ------
    InputValueError
        For an unknown executor; ImportError naming the extra when Dask is asked for and not
        installed. A task's own error is raised as it comes back (the others are cancelled).
    """
    check_choice(executor, EXECUTORS, "executor")
    if not tasks:
        return iter(())
    if executor == "dask":
        return _dask(function, tasks, workers, scheduler)
    if scheduler is not None:
        raise InputValueError("A scheduler address needs the dask executor (--executor dask).")
    return _local(function, tasks, workers)


def _local(
    function: Callable[[T], R], tasks: Sequence[T], workers: int | None
) -> Iterator[tuple[int, R]]:
    count = min(len(tasks), workers or os.cpu_count() or 1)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=_die_with_parent
    ) as pool:
        pending: dict[Future[R], int] = {pool.submit(function, t): i for i, t in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the process that started it dies (a
    sweep killed with SIGKILL leaves no worker finishing a run behind it)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _dask(
    function: Callable[[T], R], tasks: Sequence[T], workers: int | None, scheduler: str | None
) -> Iterator[tuple[int, R]]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as error:
        raise ImportError(
            "The dask executor needs Dask: pip install 'bandits-recommender[dask]'."
        ) from error
    cluster: Any = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # fmt: skip
    client = Client(scheduler if scheduler is not None else cluster)
    try:
        futures = client.map(function, list(tasks), pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        for future in as_completed(futures):
            yield index[future.key], future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
