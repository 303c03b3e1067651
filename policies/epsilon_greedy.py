"""Epsilon-greedy slates over any greedy policy: its slate, or with probability epsilon a
uniformly random one (per slate, ``epsilon-greedy``, or per position,
``per-position-epsilon-greedy``)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from bandits.slates import (
    RankedScores,
    per_position_epsilon_greedy_marginals,
    per_position_epsilon_greedy_probability,
    sample_per_position_epsilon_greedy,
    sample_uniform_slates,
    shown_marginals,
    strict_ranking,
    uniform_candidate_position_probability,
    uniform_position_probability,
    uniform_slate_probability,
)
from bandits.validation import check_generator, check_real
from policies.base import GreedyPolicy
from policies.ridge_greedy import RidgeGreedy
from policies.wrapper import ScorerWrapper


class EpsilonGreedy(ScorerWrapper):
    """Per request: ``base``'s greedy slate with probability ``1 - epsilon``, else a uniformly
    random ordered slate. ``base`` learns from every shown slate, explored or not. (To explore
    position by position instead, see :class:`PerPositionEpsilonGreedy`.)

    Exact probabilities, the mixture of the greedy and the uniform policy's:
    ``P(s) = (1 - eps) 1[s = greedy] + eps / (n! / (n - k)!)``; at position k,
    ``(1 - eps) 1[s_k = greedy_k] + eps / n``; and the same mixture of their
    candidate-position marginals.

    Parameters
    ----------
    epsilon : float, default 0.1
        Exploration probability, in [0, 1].
    base : GreedyPolicy, optional
        The scorer whose top-k slate is exploited (default a ``RidgeGreedy`` breaking ties
        from a stream spawned from ``rng``); any
        deterministic top-k policy works (LinUCB, a popularity or CF scorer...).
    rng : numpy.random.Generator
        Source of randomness.
    """

    spec_name = "epsilon-greedy"

    def __init__(
        self,
        *,
        epsilon: float = 0.1,
        base: GreedyPolicy | None = None,
        rng: np.random.Generator,
    ) -> None:
        owner = type(self).__name__
        self.epsilon = check_real(epsilon, "epsilon", owner, low=0.0, high=1.0)
        self.rng = check_generator(rng, owner)
        # without a base, its own ridge scorer with a stream for its ties spawned from ours
        self._wrap(RidgeGreedy(rng=self.rng.spawn(1)[0]) if base is None else base)

    def _prepare(self, obs: SlateObservation) -> RankedScores:
        return self.base._prepare(obs)

    def _draw(
        self, obs: SlateObservation, prepared: RankedScores, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act passes self.rng, set by the constructor
        explore = rng.random(obs.n_requests) < self.epsilon
        slates = self.base._draw(obs, prepared, rng)
        slates[explore] = sample_uniform_slates(
            obs.n_candidates[explore], obs.slate_size, obs.max_candidates, rng
        )
        return slates

    def _slate_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        greedy = self.base._slate_probability(obs, prepared, slates)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform_slate_probability(obs)

    def _position_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        greedy = self.base._position_probability(obs, prepared, slates)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform_position_probability(obs)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: RankedScores
    ) -> NDArray[np.float64]:
        greedy = self.base._candidate_position_probability(obs, prepared)
        uniform = uniform_candidate_position_probability(obs)
        return (1.0 - self.epsilon) * greedy + self.epsilon * uniform


class PerPositionEpsilonGreedy(EpsilonGreedy):
    """Epsilon-greedy at every position: with probability ``epsilon`` a uniformly random
    candidate not yet shown, otherwise ``base``'s best candidate not yet shown. ``base`` learns
    from every shown slate.

    A slate then mixes exploited and explored items (a slate of 10 at ``epsilon = 0.1`` keeps
    about 9 greedy items and explores about one position per request), where whole-slate
    :class:`EpsilonGreedy` shows either its greedy slate or a fully random one; it is a
    separate policy (not a parameter of ``epsilon-greedy``) so that existing specs keep their
    names and meaning.

    "Best not yet shown" follows ``base``'s ties: with a random stream, a uniformly random
    member of the highest group of equal scores among the candidates left (so ``epsilon = 0``
    is exactly ``base``'s own random tie-breaking); without one, the next by score with ties
    to the lower index.

    Exact probabilities (:mod:`bandits.slates`): a slate's is the product over positions ``p``
    (from 0) of ``epsilon / (n - p) + (1 - epsilon) 1[s_p best left] / (size of the best
    group left)``; the candidate-position marginals (and so each shown item's) come from an
    exact DP over how many better candidates and tied candidates have been shown, O(k^4) per
    request whatever the number of candidates
    (:func:`~bandits.slates.per_position_epsilon_greedy_marginals`).

    Parameters
    ----------
    epsilon : float, default 0.1
        Exploration probability at each position, in [0, 1] (0: ``base``'s top-k slate;
        1: a uniformly random slate).
    base : GreedyPolicy, optional
        The scorer (default a ``RidgeGreedy`` breaking ties from a stream spawned from
        ``rng``).
    rng : numpy.random.Generator
        Source of randomness.
    """

    spec_name = "per-position-epsilon-greedy"

    def _prepare(self, obs: SlateObservation) -> RankedScores:
        ranked = self.base._prepare(obs)
        return ranked if self.base.rng is not None else strict_ranking(ranked)

    def _draw(
        self, obs: SlateObservation, prepared: RankedScores, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act passes self.rng, set by the constructor
        return sample_per_position_epsilon_greedy(prepared, obs.slate_size, self.epsilon, rng)

    def _slate_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return per_position_epsilon_greedy_probability(prepared, slates, self.epsilon)

    def _position_probability(
        self, obs: SlateObservation, prepared: RankedScores, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return shown_marginals(self._candidate_position_probability(obs, prepared), slates)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: RankedScores
    ) -> NDArray[np.float64]:
        return per_position_epsilon_greedy_marginals(prepared, obs.slate_size, self.epsilon)
