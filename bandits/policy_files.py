"""Saved policies: a policy written to a file (``bandits learn --out``) and read back as a
target (``bandits evaluate --target-file``) or to go on acting and learning.

A policy file is a header line ``bandits-policy 1``, one line of JSON (the policy's class,
display name and spec, and what the writer adds, e.g. the log it learned from), then the
policy pickled (every policy in ``policies/`` pickles and continues exactly; see its
contract tests). Unpickling runs code named by the file: load only policy files you trust,
as with any pickle.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

from bandits.logs.atomic import atomic_path
from bandits.policy import Policy
from bandits.validation import InputTypeError, InputValueError, check_regular_file, shown

POLICY_MAGIC = b"bandits-policy 1\n"
"""First line of a policy file."""

MAX_HEADER_BYTES = 1 << 20
"""Longest header line a policy file may have."""


def save_policy(
    policy: Policy,
    path: str | os.PathLike[str],
    *,
    replace: bool = False,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``policy`` to ``path`` (atomically; an existing file only with ``replace``),
    with ``info`` (JSON-able) in the header; returns the path."""
    if not isinstance(policy, Policy):
        raise InputTypeError(f"save_policy takes a Policy; got {type(policy).__name__}.")
    header = {
        "class": f"{type(policy).__module__}.{type(policy).__qualname__}",
        "name": policy.name,
        "spec": getattr(policy, "spec", None),
        **(info or {}),
    }
    body = pickle.dumps(policy, protocol=pickle.HIGHEST_PROTOCOL)
    with atomic_path(path, replace=replace) as temporary:
        temporary.write_bytes(POLICY_MAGIC + json.dumps(header).encode() + b"\n" + body)
    return Path(path)


def is_policy_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a policy file."""
    with open(path, "rb") as handle:
        return handle.read(len(POLICY_MAGIC)) == POLICY_MAGIC


def read_policy_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of the policy file at ``path`` (class, name, spec and the writer's info)."""
    return _read(path, body=False)[0]


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """The policy saved at ``path`` by :func:`save_policy`, as it was saved."""
    return _read(path, body=True)[1]


def _read(path: str | os.PathLike[str], *, body: bool) -> tuple[dict[str, Any], Any]:
    file = check_regular_file(path, "policy file")
    with open(file, "rb") as handle:
        if handle.read(len(POLICY_MAGIC)) != POLICY_MAGIC:
            raise InputValueError(
                f"{file} is not a policy file (it does not start with {POLICY_MAGIC!r}; "
                f"`bandits learn --out` and bandits.policy_files.save_policy write them)."
            )
        line = handle.readline(MAX_HEADER_BYTES)
        try:
            header = json.loads(line)
            if not isinstance(header, dict):
                raise ValueError("not an object")
        except ValueError as error:
            raise InputValueError(f"{file} has a damaged header: {shown(error)}.") from None
        if not body:
            return header, None
        try:
            policy = pickle.load(handle)
        except Exception as error:  # a damaged or foreign pickle fails in many ways
            raise InputValueError(
                f"{file}: the saved policy cannot be read ({type(error).__name__}: "
                f"{shown(str(error))}); was it saved by another version of the packages?"
            ) from None
    if not isinstance(policy, Policy):
        raise InputValueError(
            f"{file} holds a {type(policy).__name__}, not a policy (act, update, "
            f"slate_probability, ...)."
        )
    return header, policy
