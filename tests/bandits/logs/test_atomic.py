"""Which processes count as alive when a claim or a temporary names them."""

from __future__ import annotations

import os
import sys
import time

import pytest

from bandits.logs.atomic import MAX_PID, process_alive


def test_this_process_is_alive_and_impossible_ids_are_not():
    assert process_alive(os.getpid())
    assert not process_alive(0) and not process_alive(MAX_PID + 1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_an_ended_process_not_yet_reaped_is_not_alive():
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while process_alive(child):  # a zombie once it has exited: not alive
            assert time.monotonic() < deadline, "a zombie still counts as alive"
            time.sleep(0.01)
        assert os.waitpid(child, os.WNOHANG)[0] == child  # it was a zombie, now reaped
    finally:
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
    assert not process_alive(child)
