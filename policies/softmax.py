"""Softmax (Plackett-Luce) slates over any scorer, with exact probabilities."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.observation import SlateObservation
from bandits.slates import (
    plackett_luce_log_probability,
    plackett_luce_marginals,
    plackett_luce_position_probability,
    sample_plackett_luce,
    shown_marginals,
    softmax_logits,
)
from bandits.validation import check_generator, check_real
from policies.base import GreedyPolicy
from policies.ridge_greedy import RidgeGreedy
from policies.wrapper import ScorerWrapper

MAX_TEMPERATURE = 1e6
"""Largest temperature: beyond it the scores of any model here (rewards of order 1) differ by
less than 1e-6 after division, so the policy is uniform for all purposes (use ``uniform``)."""


class Softmax(ScorerWrapper):
    """Plackett-Luce slates: position 1 from ``softmax(scores / temperature)`` over the
    candidates, position 2 from the same softmax over the rest, and so on. ``base`` gives the
    scores and learns from every shown slate.

    Probabilities, all from the logits ``l = scores / temperature``:

    - slate: ``prod_p exp(l[s_p]) / sum over candidates not shown before p of exp(l)``,
      exact (log-sum-exp per position, stable for any score range and candidate count);
    - candidate-position marginals: position 1 is the softmax itself; later positions have no
      closed form and come from the exponential-race integral, computed to about 1e-15
      absolute error (see :func:`bandits.slates.plackett_luce_marginals` for the method, its
      accuracy, tested against enumeration of every ordered slate, and its cost, about 1 ms per
      request for 100 candidates and slates of 10);
    - each shown item at its position: the same integral for that item only, raised where
      rounding leaves it below the slate probability (a true lower bound).

    Slates are drawn position by position (each softmax taken relative to the largest
    remaining logit), so extreme temperatures and exact ties follow the stated probabilities:
    as ``temperature`` falls the policy tends to top-k with ties broken at random.

    Parameters
    ----------
    temperature : float, default 0.1
        Divides the scores, in (0, ``MAX_TEMPERATURE``]: lower is greedier. The default suits
        predicted click rates (scores in [0, 1]): a score higher by 0.1 is e times as likely.
    base : GreedyPolicy, optional
        The scorer (default ``RidgeGreedy()``); any greedy policy works (LinUCB, a popularity or
        CF scorer...). Only its ``scores`` are used, so its own tie-breaking does not matter.
    rng : numpy.random.Generator
        Source of randomness.
    """

    spec_name = "softmax"

    def __init__(
        self,
        *,
        temperature: float = 0.1,
        base: GreedyPolicy | None = None,
        rng: np.random.Generator,
    ) -> None:
        owner = type(self).__name__
        self.temperature = check_real(
            temperature, "temperature", owner, low=0.0, low_open=True, high=MAX_TEMPERATURE
        )
        self.rng = check_generator(rng, owner)
        self._wrap(RidgeGreedy() if base is None else base)

    def _prepare(self, obs: SlateObservation) -> NDArray[np.float64]:
        """The logits, ``(scores - row max) / temperature``, ``-inf`` for padding."""
        return softmax_logits(self.base.scores(obs), obs.n_candidates, self.temperature)

    def _draw(
        self, obs: SlateObservation, prepared: NDArray[np.float64], rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act passes self.rng, set by the constructor
        return sample_plackett_luce(prepared, obs.slate_size, rng)

    def _slate_probability(
        self, obs: SlateObservation, prepared: NDArray[np.float64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return np.exp(plackett_luce_log_probability(prepared, slates).sum(axis=1))

    def _position_probability(
        self, obs: SlateObservation, prepared: NDArray[np.float64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        position = plackett_luce_position_probability(prepared, slates)
        slate = self._slate_probability(obs, prepared, slates)
        return np.clip(position, slate[:, None], 1.0)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return np.clip(plackett_luce_marginals(prepared, obs.slate_size), 0.0, 1.0)

    def _decide(
        self,
        obs: SlateObservation,
        prepared: NDArray[np.float64],
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        """With marginals, the shown items' probabilities are read off them (one quadrature)."""
        if not with_marginals:
            return super()._decide(obs, prepared, slates, with_marginals)
        marginals = self._candidate_position_probability(obs, prepared)
        slate = self._slate_probability(obs, prepared, slates)
        position = np.clip(shown_marginals(marginals, slates), slate[:, None], 1.0)
        return SlateDecision(slates, slate, position, marginals)
