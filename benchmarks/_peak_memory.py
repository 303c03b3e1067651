"""Run a command and report its wall time and exact peak memory, from a small launcher.

Linux carries the high-water mark of a process's old address space into its max RSS when it
calls ``exec``; a child of a large benchmark process (forked or vforked from it) therefore
reports at least the benchmark's own peak, whatever the command uses. Started from this small
launcher instead, the command inherits only the launcher's few MiB, and ``os.wait4`` gives its
true peak (``ru_maxrss``, KiB on Linux). An optional cap on the command's address space
(``RLIMIT_AS``) makes a runaway command fail with an out-of-memory error instead of pushing
the machine into the OOM killer.

Run: python benchmarks/_peak_memory.py OUTPUT [--limit-bytes N] -- COMMAND [ARG ...]

The command's stdout and stderr go to the file OUTPUT; the launcher prints one JSON object,
``{"seconds": ..., "peak_bytes": ..., "exit_code": ...}``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def measure(
    command: list[str], output: Path, limit_bytes: int | None = None
) -> dict[str, float | int]:
    """Run ``command`` (output to ``output``); its wall time, peak RSS in bytes and exit code.

    Parameters
    ----------
    command : list of str
    output : Path
        File receiving the command's stdout and stderr.
    limit_bytes : int, optional
        Cap on the command's address space (``RLIMIT_AS``); none by default.
    """

    def cap() -> None:
        if limit_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    with output.open("wb") as sink:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, preexec_fn=cap)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen
    return {
        "seconds": seconds,
        "peak_bytes": usage.ru_maxrss * 1024,
        "exit_code": process.returncode,
    }


def launch(
    command: list[str], output: Path, limit_bytes: int | None = None
) -> dict[str, float | int]:
    """:func:`measure` run in a fresh launcher process (call this from a large process)."""
    limit = [] if limit_bytes is None else ["--limit-bytes", str(limit_bytes)]
    launcher = [sys.executable, __file__, str(output), *limit, "--", *command]
    result = subprocess.run(launcher, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    """Parse ``OUTPUT [--limit-bytes N] -- COMMAND ...``; print the measurement as JSON."""
    arguments = sys.argv[1:]
    if "--" not in arguments:
        sys.exit(__doc__)
    split = arguments.index("--")
    options, command = arguments[:split], arguments[split + 1 :]
    if (
        not command
        or len(options) not in (1, 3)
        or (len(options) == 3 and options[1] != "--limit-bytes")
    ):
        sys.exit(__doc__)
    limit = int(options[2]) if len(options) == 3 else None
    print(json.dumps(measure(command, Path(options[0]), limit)))


if __name__ == "__main__":
    main()
