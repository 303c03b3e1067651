"""Learning from a logged table: replay its rows through ``policy.update``."""

from __future__ import annotations

import numpy as np

from bandits.logged import LoggedBandit
from bandits.policy import Policy
from bandits.validation import check_integer

REPLAY_BATCH_SIZE = 1024
"""Rows per ``update`` call when replaying a log."""


def replay_updates(
    policy: Policy, log: LoggedBandit, *, batch_size: int = REPLAY_BATCH_SIZE
) -> Policy:
    """Update ``policy`` on every logged row, in the log's row order, ``batch_size`` rows at a
    time. Logs written by a rollout are in time order; so are the rows a time split selects.

    This is the naive direct learner: each shown item's logged reward is a training target,
    without correcting for the logging policy's choices. Returns the same policy.
    """
    batch_size = check_integer(batch_size, "batch_size", "replay_updates", low=1)
    for start in range(0, len(log), batch_size):
        part = log.take(np.arange(start, min(start + batch_size, len(log))))
        policy.update(part.observation, part.decision, part.feedback)
    return policy
