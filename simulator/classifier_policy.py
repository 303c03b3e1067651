"""The behaviour and evaluation policies of the supervised-to-bandit protocol: a classifier's
prediction mixed with uniform exploration (as in obp's MultiClassToBanditReduction)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation, as_observation
from bandits.validation import InputTypeError, check_generator, check_real


class ClassifierPolicy:
    """Shows the predicted class with probability ``alpha + (1 - alpha) / K`` and any other
    with ``(1 - alpha) / K``: ``pi(k | x) = alpha [k == f(x)] + (1 - alpha) / K``, ``f`` the
    fitted ``classifier``'s ``predict`` on the request's context, ``K`` the candidates (all
    classes). Slates of one; never learns; exact probabilities.

    Parameters
    ----------
    classifier : object with ``predict(features) -> labels``
        Fitted on other rows than those evaluated (e.g. a scikit-learn estimator).
    alpha : float
        In [0, 1]; 1 is the deterministic classifier, 0 uniform.
    rng : numpy.random.Generator
    name : str
    """

    def __init__(
        self, *, classifier: Any, alpha: float, rng: np.random.Generator, name: str = "classifier"
    ) -> None:
        owner = type(self).__name__
        if not callable(getattr(classifier, "predict", None)):
            raise InputTypeError(
                f"The 'classifier' parameter of {owner} must have a predict(features) method; "
                f"got {type(classifier).__name__}."
            )
        self.classifier = classifier
        self.alpha = check_real(alpha, "alpha", owner, low=0.0, high=1.0)
        self.rng = check_generator(rng, owner)
        self.name = name

    def probabilities(self, obs: SlateObservation) -> NDArray[np.float64]:
        """``pi(k | x)`` per request and candidate, shape (n_requests, n_classes)."""
        obs = as_observation(obs)
        k = obs.max_candidates
        predicted = np.asarray(self.classifier.predict(obs.context), dtype=np.int64)
        out = np.full((obs.n_requests, k), (1.0 - self.alpha) / k)
        out[np.arange(obs.n_requests), predicted] += self.alpha
        return out

    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        """Draw one class per request by inverse CDF from the policy's generator."""
        obs = as_observation(obs)
        probabilities = self.probabilities(obs)
        uniforms = self.rng.random(obs.n_requests)[:, None]
        chosen = (uniforms >= np.cumsum(probabilities, axis=1)).sum(axis=1)
        chosen = np.minimum(chosen, obs.max_candidates - 1)
        p = probabilities[np.arange(obs.n_requests), chosen]
        return SlateDecision(
            slates=chosen[:, None],
            slate_probability=p,
            position_probability=p[:, None],
            candidate_position_probability=probabilities[:, :, None] if with_marginals else None,
        )

    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Never learns."""

    def slate_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        probabilities = self.probabilities(obs)
        return probabilities[np.arange(probabilities.shape[0]), slates[:, 0]]

    def position_probability(
        self, obs: SlateObservation, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return self.slate_probability(obs, slates)[:, None]

    def candidate_position_probability(self, obs: SlateObservation) -> NDArray[np.float64]:
        return self.probabilities(obs)[:, :, None]
