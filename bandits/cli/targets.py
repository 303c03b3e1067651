"""The targets of ``bandits evaluate``: policy specs (``--target``) and files
(``--target-file``): saved policies and files of target probabilities.

A ``--target-file`` ending in ``.parquet``, ``.npy`` or ``.npz`` holds target probabilities
(:mod:`bandits.ope.targets`); any other file is a saved policy, written by ``bandits learn``
(:mod:`bandits.policy_files`) or by ``VowpalWabbit.save``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bandits.cli.wiring import build_policies, unique_label
from bandits.ope.targets import PROBABILITY_SUFFIXES, ProbabilityTarget, read_probability_target
from bandits.policy import Policy
from bandits.policy_files import is_policy_file, load_policy
from bandits.validation import InputError, InputValueError, check_regular_file, shown


def build_targets(
    specs: Sequence[str], files: Sequence[Path], rngs: Sequence[np.random.Generator]
) -> dict[str, Policy | ProbabilityTarget]:
    """Targets by display name: the specs' policies (one stream each from ``rngs``), then the
    files' targets named by their path as written (repeats get ``#2``, ``#3``...)."""
    built: dict[str, Policy | ProbabilityTarget] = dict(build_policies(specs, rngs))
    for path in files:
        too_long = f"The target file name {shown(str(path))} is longer than a target name may be"
        built[unique_label(str(path), built, too_long)] = load_target_file(path)
    return built


def load_target_file(path: Path, option: str = "--target-file") -> Policy | ProbabilityTarget:
    """The target in ``path``: probabilities by its ending, else a saved policy. Every refusal
    names ``option``, the command-line option that gave ``path``."""
    with _named_by(option, path):
        if path.suffix.lower() in PROBABILITY_SUFFIXES:
            return read_probability_target(path)
        file = check_regular_file(path, "saved policy or file of target probabilities")
        if is_policy_file(file):
            policy = load_policy(file)
        elif _is_vw_file(file):
            from policies import VowpalWabbit

            policy = VowpalWabbit.load(file)
        else:
            raise InputValueError(
                f"{file} is neither target probabilities (a file ending in "
                f"{', '.join(PROBABILITY_SUFFIXES)}) nor a saved policy (from `bandits learn` "
                f"or VowpalWabbit.save)."
            )
    policy.name = str(path)
    return policy


@contextmanager
def _named_by(option: str, path: Path) -> Iterator[None]:
    """Re-raise a refusal of ``path`` (or its absence) with ``option`` in front, and the path
    too when the message does not already name it."""
    try:
        yield
    except (InputError, FileNotFoundError) as error:
        message = str(error)
        front = option if str(path) in message else f"{option} {path}"
        raise type(error)(f"{front}: {message}") from None


def _is_vw_file(path: Path) -> bool:
    from policies.vw import FILE_MAGIC

    with open(path, "rb") as handle:
        return handle.read(len(FILE_MAGIC)) == FILE_MAGIC


def build_logging_policy(value: str, rng: np.random.Generator) -> Policy:
    """``evaluate --logging-policy``: a saved policy file when ``value`` names one, else a
    policy spec (built fresh, with ``rng``)."""
    path = Path(value)
    if path.suffix.lower() in PROBABILITY_SUFFIXES:
        raise InputValueError(
            f"--logging-policy {value} names a file of target probabilities (its name ends in "
            f"{path.suffix}), not a policy; give the logging policy as a spec or a saved policy "
            f"file."
        )
    if path.is_file():
        policy = load_target_file(path, "--logging-policy")
        assert isinstance(policy, Policy)  # probabilities were refused by the file's ending
        return policy
    return next(iter(build_policies([value], [rng]).values()))
