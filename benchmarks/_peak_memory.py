"""Run a command and report its wall time and exact peak memory, from a small launcher.

Linux carries the high-water mark of a process's old address space into its max RSS when it
calls ``exec``; a child of a large benchmark process (forked or vforked from it) therefore
reports at least the benchmark's own peak, whatever the command uses. Started from this small
launcher instead, the command inherits only the launcher's few MiB, and ``os.wait4`` gives its
true peak (``ru_maxrss``, KiB on Linux). An optional cap on the command's address space
(``RLIMIT_AS``) makes a runaway command fail with an out-of-memory error instead of pushing
the machine into the OOM killer; an optional timeout kills the command, since some libraries
(OpenBLAS) retry a failed allocation forever instead of failing.

Run: python benchmarks/_peak_memory.py OUTPUT [--limit-bytes N] [--timeout S] -- COMMAND ...

The command's stdout and stderr go to the file OUTPUT; the launcher prints one JSON object,
``{"seconds": ..., "peak_bytes": ..., "largest_process_bytes": ..., "exit_code": ...,
"timed_out": ...}``: ``peak_bytes`` is the command's own peak, ``largest_process_bytes`` the
largest peak among it and the processes it started and waited for (e.g. a sweep's workers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path


def measure(
    command: list[str],
    output: Path,
    limit_bytes: int | None = None,
    timeout: float | None = None,
) -> dict[str, float | int | bool]:
    """Run ``command`` (output to ``output``); its wall time, peak RSS in bytes and exit code.

    Parameters
    ----------
    command : list of str
    output : Path
        File receiving the command's stdout and stderr.
    limit_bytes : int, optional
        Cap on the command's address space (``RLIMIT_AS``); none by default.
    timeout : float, optional
        Seconds after which the command is killed (``timed_out`` is then true).
    """

    def cap() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    with output.open("wb") as sink:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=cap)
        killer = threading.Timer(timeout, process.kill) if timeout else None
        if killer is not None:
            killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
        if killer is not None:
            killer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen
    descendants = resource.getrusage(resource.RUSAGE_CHILDREN)  # the command and its reaped
    return {  # children: ru_maxrss is the largest one's peak (a worker's, say), not their sum
        "seconds": seconds,
        "peak_bytes": usage.ru_maxrss * 1024,
        "largest_process_bytes": descendants.ru_maxrss * 1024,
        "exit_code": process.returncode,
        "timed_out": timeout is not None and seconds >= timeout,
    }


def launch(
    command: list[str],
    output: Path,
    limit_bytes: int | None = None,
    timeout: float | None = None,
) -> dict[str, float | int | bool]:
    """:func:`measure` run in a fresh launcher process (call this from a large process)."""
    options = [] if limit_bytes is None else ["--limit-bytes", str(limit_bytes)]
    options += [] if timeout is None else ["--timeout", str(timeout)]
    launcher = [sys.executable, __file__, str(output), *options, "--", *command]
    result = subprocess.run(launcher, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    """Parse ``OUTPUT [options] -- COMMAND ...``; print the measurement as JSON."""
    parser = argparse.ArgumentParser(usage=__doc__.split("Run: ")[1].splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--limit-bytes", type=int)
    parser.add_argument("--timeout", type=float)
    arguments = sys.argv[1:]
    if "--" not in arguments or arguments[-1] == "--":
        parser.error("give the command after --")
    split = arguments.index("--")
    options = parser.parse_args(arguments[:split])
    result = measure(arguments[split + 1 :], options.output, options.limit_bytes, options.timeout)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
