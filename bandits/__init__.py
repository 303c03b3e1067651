"""The kernel of bandits-recommender: types, logged data, off-policy evaluation, rollouts."""

from importlib.metadata import PackageNotFoundError, version

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import PAD_ID, SlateObservation, as_observation
from bandits.parquet import iter_log_batches, read_log, write_log
from bandits.policy import Policy
from bandits.rollout import RolloutResult, rollout

try:
    __version__ = version("bandits-recommender")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "PAD_ID",
    "LoggedBandit",
    "Policy",
    "RolloutResult",
    "SlateDecision",
    "SlateFeedback",
    "SlateObservation",
    "__version__",
    "as_observation",
    "iter_log_batches",
    "read_log",
    "rollout",
    "write_log",
]
