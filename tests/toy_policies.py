"""Small policies for tests: a greedy policy with given scores, and a Monte-Carlo twin of
epsilon-greedy whose exact probabilities are known (to check the Monte-Carlo mode)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation
from policies import EpsilonGreedy, GreedyPolicy, MonteCarloPolicy, RidgeGreedy


class FixedScores(GreedyPolicy):
    """Top-k by a score per item id: ``scores[candidate_id]`` (unknown ids score 0, so they
    tie); ties broken at random when given an ``rng``."""

    def __init__(
        self, *, item_scores: dict[int, float], rng: np.random.Generator | None = None
    ) -> None:
        self.item_scores = dict(item_scores)
        self.rng = rng

    def scores(self, obs: SlateObservation) -> NDArray[np.float64]:
        lookup = np.vectorize(lambda item: self.item_scores.get(int(item), 0.0), otypes=[float])
        return (
            lookup(obs.candidate_ids)
            if obs.candidate_ids.size
            else np.zeros(obs.candidate_ids.shape)
        )


class MonteCarloEpsilonGreedy(MonteCarloPolicy):
    """Epsilon-greedy over a ridge model, with probabilities estimated from draws (so they can
    be compared with ``EpsilonGreedy``'s exact ones)."""

    spec_name = None

    def __init__(
        self, *, epsilon: float = 0.3, probability_draws: int = 2000, rng: np.random.Generator
    ) -> None:
        super().__init__(probability_draws=probability_draws, rng=rng)
        self.epsilon = epsilon
        self.exact = EpsilonGreedy(epsilon=epsilon, base=RidgeGreedy(), rng=rng)

    def _prepare(self, obs: SlateObservation) -> NDArray[np.int64]:
        return self.exact._prepare(obs)

    def _draw(self, obs, prepared, rng):
        return self.exact._draw(obs, prepared, rng)

    def _learn(self, obs, slates, rewards):
        self.exact.base._learn(obs, slates, rewards)
