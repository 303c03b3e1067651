"""The kernel of bandits-recommender: types, logged data, off-policy evaluation, rollouts.

Rooms: the core types and protocol live here (observation, items, decision, feedback, policy,
logged table, slate arithmetic, validation); ``bandits.models`` holds the reward models,
``bandits.logs`` the files, ``bandits.ope`` the estimators, ``bandits.run`` the rollouts,
``bandits.reports`` the tables and figures, and ``bandits.cli`` the command line.
"""

from importlib.metadata import PackageNotFoundError, version

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.logged import LoggedBandit
from bandits.logs import iter_log_batches, open_log, read_log, write_log
from bandits.observation import PAD_ID, SlateObservation, as_observation
from bandits.policy import Policy
from bandits.run import RolloutResult, rollout
from bandits.validation import InputError, InputTypeError, InputValueError

try:
    __version__ = version("bandits-recommender")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "PAD_ID",
    "InputError",
    "InputTypeError",
    "InputValueError",
    "ItemTable",
    "LoggedBandit",
    "Policy",
    "RolloutResult",
    "SlateDecision",
    "SlateFeedback",
    "SlateObservation",
    "__version__",
    "as_observation",
    "iter_log_batches",
    "open_log",
    "read_log",
    "rollout",
    "write_log",
]
