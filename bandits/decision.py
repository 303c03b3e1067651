"""What a policy returns: a slate per request and the probabilities of what it chose."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits.observation import SlateObservation
from bandits.slates import shown_marginals
from bandits.validation import (
    InputValueError,
    as_array,
    check_finite,
    check_instance,
    check_positive_probability,
    check_probability,
    check_shape,
    check_slates,
    first_index,
    read_only,
    unchecked,
)

MARGINAL_TOLERANCE = 1e-6
"""How far candidate-position marginals may stray from summing to 1 and from the logged
position probabilities (they are often sums of many small floats)."""


@dataclass(frozen=True, eq=False)
class SlateDecision:
    """Slates chosen for a batch of requests, with their probabilities under the policy.

    Attributes
    ----------
    slates : ndarray of int64, shape (n_requests, slate_size)
        Indices into each request's candidates; position 0 is the top of the slate.
    slate_probability : ndarray of float64, shape (n_requests,)
        Probability the policy gave the whole (ordered) slate; 1.0 when deterministic.
    position_probability : ndarray of float64, shape (n_requests, slate_size)
        Probability that the item shown at position k is shown at position k (the marginal).
    candidate_position_probability : ndarray of float64, shape (n_requests, max_candidates,
        slate_size), optional
        The policy's probability of showing each candidate at each position (its marginals):
        what the pseudo-inverse and independent slate estimators need of a logger. Zero on
        padding; each position sums to 1 over the candidates.
    """

    slates: NDArray[np.int64]
    slate_probability: NDArray[np.float64]
    position_probability: NDArray[np.float64]
    candidate_position_probability: NDArray[np.float64] | None = None
    _checked_for: SlateObservation | None = field(default=None, init=False, repr=False)
    _bound: ClassVar[float] = np.nan
    """What validation found of the slate probabilities (see :attr:`probability_bound`): an
    instance attribute once known, not a field (not part of the data)."""

    def __post_init__(self) -> None:
        owner = "SlateDecision"
        slates = as_array(self.slates, f"'slates' of {owner}", np.int64, 2)
        slate_p = as_array(self.slate_probability, f"'slate_probability' of {owner}", np.float64, 1)
        position_p = as_array(
            self.position_probability, f"'position_probability' of {owner}", np.float64, 2
        )
        check_shape(slate_p, (slates.shape[0],), f"'slate_probability' of {owner}")
        check_shape(position_p, slates.shape, f"'position_probability' of {owner}")
        bound = check_positive_probability(slate_p, f"'slate_probability' of {owner}")
        check_probability(position_p, f"'position_probability' of {owner}")
        if position_p.shape[1]:
            # a whole slate is never likelier than any one of its items at its position
            excess = slate_p > position_p.min(axis=1) * (1 + 1e-9)
            if excess.any():
                row = int(np.flatnonzero(excess)[0])
                raise InputValueError(
                    f"'slate_probability' of {owner} cannot exceed the probability of any of "
                    f"its items at its position; row {row} has {slate_p[row].item()!r} > "
                    f"min(position_probability) = {position_p[row].min().item()!r}."
                )
        object.__setattr__(self, "slates", slates)
        # read-only: the bound found here must stay true of them (as must the caller's arrays)
        object.__setattr__(self, "slate_probability", read_only(slate_p))
        object.__setattr__(self, "_bound", bound)
        object.__setattr__(self, "position_probability", read_only(position_p))
        if self.candidate_position_probability is not None:
            label = f"'candidate_position_probability' of {owner}"
            marginals = as_array(self.candidate_position_probability, label, np.float64, 3)
            check_shape(marginals, (slates.shape[0], None, slates.shape[1]), label)
            check_finite(marginals, label)
            check_probability(marginals, label, allow_zero=True)
            object.__setattr__(self, "candidate_position_probability", marginals)

    @classmethod
    def trusted(
        cls,
        obs: SlateObservation,
        slates: NDArray[np.int64],
        slate_probability: NDArray[np.float64],
        position_probability: NDArray[np.float64],
    ) -> SlateDecision:
        """A decision a policy built for ``obs`` from arrays of the right types, shapes and
        ranges (a policy's own output): the checks are skipped and it counts as checked
        against ``obs`` (see :meth:`check_against`)."""
        return unchecked(
            cls,
            slates=slates,
            slate_probability=slate_probability,
            position_probability=position_probability,
            candidate_position_probability=None,
            _checked_for=obs,
        )

    @property
    def n_requests(self) -> int:
        return int(self.slates.shape[0])

    @property
    def slate_size(self) -> int:
        return int(self.slates.shape[1])

    @property
    def probability_bound(self) -> float:
        """An upper bound on the slate probabilities: their largest, found when the decision
        was checked (its slices and concatenations keep it); NaN when unknown (e.g. a
        policy's own output, which is not checked)."""
        return self._bound

    @cached_property
    def n_deterministic(self) -> int:
        """Rows whose slate probability is 1 (chosen for sure); counted once (none without a
        pass when :attr:`probability_bound` is below 1, else one reduction and no mask when
        none is: the probabilities are checked to be at most 1)."""
        if self._bound < 1.0:
            return 0
        probability = self.slate_probability
        if not probability.max(initial=0.0) >= 1.0:
            return 0
        return int(np.count_nonzero(probability == 1.0))

    def check_against(self, obs: SlateObservation) -> None:
        """Raise unless every slate fits its request's candidates and the requested size.

        A decision remembers the observation it was last checked against, so the rollout, the
        log and the policy's ``update`` can all call this and pay for it once.
        """
        if self._checked_for is obs:
            return
        check_instance(obs, SlateObservation, "observation a SlateDecision is checked against")
        check_shape(self.slates, (obs.n_requests, obs.slate_size), "'slates' of SlateDecision")
        check_slates(self.slates, obs.n_candidates, "'slates' of SlateDecision")
        if self.candidate_position_probability is not None:
            _check_marginals(self.candidate_position_probability, self, obs)
        object.__setattr__(self, "_checked_for", obs)

    def take(self, rows: ArrayLike, obs: SlateObservation | None = None) -> SlateDecision:
        """The decision restricted to ``rows`` (indices or a boolean mask).

        If this decision was checked against an observation, pass that observation's
        ``take(rows)`` as ``obs`` and the slice counts as checked against it.
        """
        rows = np.asarray(rows)
        marginals = self.candidate_position_probability
        taken = unchecked(
            SlateDecision,
            slates=self.slates[rows],
            slate_probability=read_only(self.slate_probability[rows]),
            position_probability=read_only(self.position_probability[rows]),
            candidate_position_probability=None if marginals is None else marginals[rows],
            _bound=self._bound,
        )
        if obs is not None and self._checked_for is not None:
            object.__setattr__(taken, "_checked_for", obs)
        return taken

    def with_marginals(self, marginals: NDArray[np.float64]) -> SlateDecision:
        """The same decision carrying the policy's candidate-position marginals."""
        return SlateDecision(
            self.slates, self.slate_probability, self.position_probability, marginals
        )


def _check_marginals(
    marginals: NDArray[np.float64], decision: SlateDecision, obs: SlateObservation
) -> None:
    """Marginals: one column per candidate, zero on padding, each position sums to 1, and the
    shown items' entries equal the position probabilities."""
    label = "'candidate_position_probability' of SlateDecision"
    check_shape(marginals, (obs.n_requests, obs.max_candidates, obs.slate_size), label)
    padding = (marginals != 0) & ~obs.candidate_mask[:, :, None]
    if padding.any():
        row, column, position = first_index(padding)
        raise InputValueError(
            f"{label} must be 0 for padding candidates; row {row}, candidate {column}, position "
            f"{position} is {marginals[row, column, position].item()!r}."
        )
    totals = marginals.sum(axis=1)
    off = np.abs(totals - 1.0) > MARGINAL_TOLERANCE
    if off.any():
        row, position = first_index(off)
        raise InputValueError(
            f"{label} must sum to 1 over the candidates at each position; row {row}, position "
            f"{position} sums to {totals[row, position].item()!r}."
        )
    shown = shown_marginals(marginals, decision.slates)
    differs = np.abs(shown - decision.position_probability) > MARGINAL_TOLERANCE
    if differs.any():
        row, position = first_index(differs)
        raise InputValueError(
            f"{label} must agree with 'position_probability' for the shown items; row {row}, "
            f"position {position}: {shown[row, position].item()!r} against "
            f"{decision.position_probability[row, position].item()!r}."
        )
