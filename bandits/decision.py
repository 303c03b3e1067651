"""What a policy returns: a slate per request and the probabilities of what it chose."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bandits._checks import as_array, check_probability, check_shape, check_slates


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
    """

    slates: NDArray[np.int64]
    slate_probability: NDArray[np.float64]
    position_probability: NDArray[np.float64]

    def __post_init__(self) -> None:
        owner = "SlateDecision"
        slates = as_array(self.slates, f"'slates' of {owner}", np.int64, 2)
        slate_p = as_array(self.slate_probability, f"'slate_probability' of {owner}", np.float64, 1)
        position_p = as_array(
            self.position_probability, f"'position_probability' of {owner}", np.float64, 2
        )
        check_shape(slate_p, (slates.shape[0],), f"'slate_probability' of {owner}")
        check_shape(position_p, slates.shape, f"'position_probability' of {owner}")
        check_probability(slate_p, f"'slate_probability' of {owner}")
        check_probability(position_p, f"'position_probability' of {owner}")
        if position_p.shape[1]:
            # a whole slate is never likelier than any one of its items at its position
            excess = slate_p > position_p.min(axis=1) * (1 + 1e-9)
            if excess.any():
                row = int(np.flatnonzero(excess)[0])
                raise ValueError(
                    f"'slate_probability' of {owner} cannot exceed the probability of any of "
                    f"its items at its position; row {row} has {slate_p[row].item()!r} > "
                    f"min(position_probability) = {position_p[row].min().item()!r}."
                )
        object.__setattr__(self, "slates", slates)
        object.__setattr__(self, "slate_probability", slate_p)
        object.__setattr__(self, "position_probability", position_p)

    @property
    def n_requests(self) -> int:
        return int(self.slates.shape[0])

    @property
    def slate_size(self) -> int:
        return int(self.slates.shape[1])

    def check_against(self, n_candidates: ArrayLike, slate_size: int) -> None:
        """Raise unless every slate fits its request's candidates and the requested size."""
        counts = np.asarray(n_candidates, dtype=np.int64)
        check_shape(self.slates, (counts.shape[0], slate_size), "'slates' of SlateDecision")
        check_slates(self.slates, counts, "'slates' of SlateDecision")

    def take(self, rows: ArrayLike) -> SlateDecision:
        """The decision restricted to ``rows`` (indices or a boolean mask)."""
        rows = np.asarray(rows)
        return SlateDecision(
            self.slates[rows], self.slate_probability[rows], self.position_probability[rows]
        )
