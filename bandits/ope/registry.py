"""The estimators by name, and building one from a spec such as ``"switch-dr:threshold=50"``."""

from __future__ import annotations

import inspect
from typing import Any

from bandits.ope.adaptive_ips import AdaptiveIPS
from bandits.ope.base import Estimator
from bandits.ope.cascade_dr import CascadeDR
from bandits.ope.dm import DM
from bandits.ope.dr import DR
from bandits.ope.dros import DRos
from bandits.ope.iips import IIPS
from bandits.ope.ips import IPS
from bandits.ope.pi import PseudoInverse
from bandits.ope.rips import RIPS
from bandits.ope.snadaptive_ips import SNAdaptiveIPS
from bandits.ope.sncascade_dr import SNCascadeDR
from bandits.ope.sndr import SNDR
from bandits.ope.sniips import SNIIPS
from bandits.ope.snips import SNIPS
from bandits.ope.snpi import SNPI
from bandits.ope.snrips import SNRIPS
from bandits.ope.switch_dr import SwitchDR
from bandits.specs import format_spec, parse_spec
from bandits.validation import InputValueError, check_choice, shown, suggest

ESTIMATORS: dict[str, type[Estimator]] = {
    "ips": IPS,
    "snips": SNIPS,
    "dm": DM,
    "dr": DR,
    "sndr": SNDR,
    "switch-dr": SwitchDR,
    "dros": DRos,
    "iips": IIPS,
    "sniips": SNIIPS,
    "rips": RIPS,
    "snrips": SNRIPS,
    "pi": PseudoInverse,
    "snpi": SNPI,
    "cascade-dr": CascadeDR,
    "sncascade-dr": SNCascadeDR,
    "adaptive-ips": AdaptiveIPS,
    "snadaptive-ips": SNAdaptiveIPS,
}
"""Registry name -> estimator class."""

DEFAULT_ESTIMATORS = ("ips", "snips", "dr")
"""What ``bandits evaluate`` runs when no estimator is named."""

COMMON_OPTIONS = ("confidence", "interval", "bootstrap_samples", "reward_range", "rng")
"""Options every estimator takes from the command line rather than from its spec."""


def estimator_parameters(cls: type[Estimator]) -> list[str]:
    """The spec parameters of an estimator class (its own and its bases' keyword arguments,
    less the common options)."""
    names: list[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass in (Estimator, object):
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind is parameter.KEYWORD_ONLY and parameter.name not in names:
                names.append(parameter.name)
    hidden = {"setting", *COMMON_OPTIONS}
    return [name for name in names if name not in hidden]


def make_estimator(spec: str, **options: Any) -> Estimator:
    """The estimator a spec names, with ``options`` (``confidence``, ``interval``...) added.

    ``"dr:model=ridge,folds=5,clip=100"``; the estimate's ``estimator`` column shows the spec
    as written, normalised.
    """
    name, params = parse_spec(spec)
    check_choice(name, ESTIMATORS, "estimator")
    cls = ESTIMATORS[name]
    allowed = estimator_parameters(cls)
    for key in params:
        if key not in allowed:
            listed = ", ".join(allowed) if allowed else "none"
            raise InputValueError(
                f"Estimator {name!r} has no parameter {shown(key)}.{suggest(key, allowed)} "
                f"It takes: {listed}."
            )
    estimator = cls(**params, **options)
    estimator.label = format_spec(name, params)
    return estimator


__all__ = ["DEFAULT_ESTIMATORS", "ESTIMATORS", "estimator_parameters", "make_estimator"]
