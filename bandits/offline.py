"""Learning from a logged table: replay its rows, in time order, through ``policy.update``."""

from __future__ import annotations

import numpy as np

from bandits._checks import check_integer
from bandits.logged import LoggedBandit
from bandits.policy import Policy


def replay_updates(policy: Policy, log: LoggedBandit, *, batch_size: int = 1024) -> Policy:
    """Update ``policy`` on every logged row, oldest first, ``batch_size`` rows at a time.

    This is the naive direct learner: each shown item's logged reward is a training target,
    without correcting for the logging policy's choices. Returns the same policy.
    """
    batch_size = check_integer(batch_size, "batch_size", "replay_updates", low=1)
    order = np.argsort(log.observation.times, kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        policy.update(log.observation.take(rows), log.decision.take(rows), log.feedback.take(rows))
    return policy
