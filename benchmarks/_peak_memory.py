"""Run a command and report its wall time and exact peak memory, from a small launcher.

Linux carries the high-water mark of a process's old address space into its max RSS when it
calls ``exec``; a child of a large benchmark process (forked or vforked from it) therefore
reports at least the benchmark's own peak, whatever the command uses. Started from this small
launcher instead, the command inherits only the launcher's few MiB, and ``os.wait4`` gives its
true peak (``ru_maxrss``, KiB on Linux).

Run: python benchmarks/_peak_memory.py OUTPUT -- COMMAND [ARG ...]

The command's stdout and stderr go to the file OUTPUT; the launcher prints one JSON object,
``{"seconds": ..., "peak_bytes": ..., "exit_code": ...}``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def measure(command: list[str], output: Path) -> dict[str, float | int]:
    """Run ``command`` (output to ``output``); its wall time, peak RSS in bytes and exit code."""
    with output.open("wb") as sink:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here; tell Popen
    return {
        "seconds": seconds,
        "peak_bytes": usage.ru_maxrss * 1024,
        "exit_code": process.returncode,
    }


def launch(command: list[str], output: Path) -> dict[str, float | int]:
    """Measure ``command`` through this launcher in a fresh process (for large callers)."""
    launcher = [sys.executable, __file__, str(output), "--", *command]
    result = subprocess.run(launcher, capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    """Parse ``OUTPUT -- COMMAND ...``, run the command and print the measurement as JSON."""
    arguments = sys.argv[1:]
    if len(arguments) < 3 or arguments[1] != "--":
        sys.exit(__doc__)
    print(json.dumps(measure(arguments[2:], Path(arguments[0]))))


if __name__ == "__main__":
    main()
