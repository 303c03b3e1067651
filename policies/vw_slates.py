"""Vowpal Wabbit's ``--slates`` as a slate policy (registered as ``vw-slates``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.observation import SlateObservation
from bandits.slates import shown_marginals
from bandits.validation import InputValueError
from policies.base import BasePolicy
from policies.vw import VowpalWabbit
from policies.vw_examples import SLOT_TAG
from policies.vw_requests import collection_paused, learn_requests, predict_requests
from policies.vw_slots import invert_cdfs


class VowpalWabbitSlates(VowpalWabbit):
    """VW's slates (``--slates`` over ``--ccb_explore_adf`` over ``--cb_explore_adf``; Swaminathan
    et al. 2017's setting): each position has its own set of candidates and VW picks one per
    position, all from one prediction, learning from one reward for the whole slate.

    VW's slates need disjoint action sets per slot, and a request here has one pool of
    candidates, so the pool is dealt out: candidate ``j`` belongs to position ``j mod
    slate_size`` (order the candidates to choose the split, e.g. put position ``p``'s
    candidates at indices ``p, p + k, p + 2k, ...``). The policy never shows a candidate
    at another position: slates that do have probability 0.

    Probabilities are exact and cheap: VW's slot distributions do not depend on each other
    (the slots' actions are disjoint), so a slate's probability is the product of its
    positions' VW probabilities (each slot's 32-bit PMF divided by its sum in float64) and
    the candidate-position marginals are those PMFs, from one VW prediction per request.

    Learning: one VW example per request, its cost ``-sum of the slate's rewards`` (VW
    minimises cost; the slates reduction takes one global cost) and each slot labelled with
    its shown candidate and that candidate's probability there. Examples are VW text (see
    :mod:`policies.vw_examples`): ``slates shared |u ...``, ``slates action <position> |d
    <item id> |i ...`` per candidate, ``slates slot |s p<position>`` per position.

    Parameters are those of :class:`~policies.vw.VowpalWabbit` but ``max_predictions`` (one
    prediction per request is always enough). Saves, loads and pickles like it.
    """

    spec_name = "vw-slates"
    reduction = "--slates"

    def __init__(
        self,
        *,
        explore: str = "epsilon",
        epsilon: float = 0.05,
        lambda_: float = 1.0,
        bag: int = 5,
        cover: int = 5,
        gamma_scale: float = 10.0,
        learning_rate: float = 0.5,
        interactions: Sequence[str] = ("ui",),
        bits: int = 18,
        cb_type: str = "mtr",
        rng: np.random.Generator,
    ) -> None:
        super().__init__(
            explore=explore,
            epsilon=epsilon,
            lambda_=lambda_,
            bag=bag,
            cover=cover,
            gamma_scale=gamma_scale,
            learning_rate=learning_rate,
            interactions=interactions,
            bits=bits,
            cb_type=cb_type,
            rng=rng,
        )

    # --- acting and probabilities ---

    def _prepare(self, obs: SlateObservation) -> NDArray[np.float64]:  # type: ignore[override]
        """Each candidate's probability at each position, shape (n_requests, max_candidates,
        slate_size): VW's PMF of the candidate's own position, 0 at the others."""
        k = obs.slate_size
        slots = "".join(f"\nslates slot {SLOT_TAG}|s p{j}" for j in range(k))
        marginals = np.zeros((obs.n_requests, obs.max_candidates, k))
        requests = self._request_parts(obs)
        predicted = predict_requests(self.workspace_, requests, [slots] * len(requests))
        for row, scores in enumerate(predicted):
            n = int(obs.n_candidates[row])
            for position, pairs in enumerate(scores):
                members = np.arange(position, n, k)
                pmf = np.zeros(members.size)
                for index, probability in pairs:
                    pmf[index] = probability
                marginals[row, members, position] = pmf / pmf.sum()
        return marginals

    def _draw(  # type: ignore[override]
        self, obs: SlateObservation, prepared: NDArray[np.float64], rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        """Each position by inverting the cumulative distribution of its PMF at a uniform."""
        assert rng is not None  # act passes self.rng, set by the constructor
        uniforms = rng.random((obs.n_requests, obs.slate_size))
        return invert_cdfs(prepared.transpose(0, 2, 1), uniforms)

    def _decide(  # type: ignore[override]
        self,
        obs: SlateObservation,
        prepared: NDArray[np.float64],
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        return BasePolicy._decide(self, obs, prepared, slates, with_marginals)

    def _candidate_position_probability(  # type: ignore[override]
        self, obs: SlateObservation, prepared: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return prepared

    def _position_probability(  # type: ignore[override]
        self, obs: SlateObservation, prepared: NDArray[np.float64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return shown_marginals(prepared, slates)

    def _slate_probability(  # type: ignore[override]
        self, obs: SlateObservation, prepared: NDArray[np.float64], slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return shown_marginals(prepared, slates).prod(axis=1)

    # --- learning ---

    @collection_paused
    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Learn from a batch: one VW example per request, cost ``-sum of its rewards``, each
        slot labelled with its shown candidate and the decision's probability of it there.

        Raises
        ------
        InputValueError
            If a slate shows a candidate ``j`` elsewhere than at position ``j mod
            slate_size`` (VW's slot has no such action).
        """
        BasePolicy.update(self, obs, decision, feedback)  # checks the inputs
        self._learn_logged(obs, decision, feedback, decision.position_probability)

    def _learn_logged(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        logged: NDArray[np.float64],
    ) -> None:
        """Learn every request with ``logged`` probabilities of the shown items at their
        positions (:meth:`update` and, clipped, ``learn_off_policy``)."""
        k = decision.slates.shape[1]
        positions = np.arange(k)
        outside = decision.slates % obs.slate_size != positions
        if k != obs.slate_size or outside.any():
            row, position = (int(i) for i in np.argwhere(outside)[0]) if outside.any() else (0, 0)
            raise InputValueError(
                f"{type(self).__name__} learns only from slates of {obs.slate_size} that show "
                f"candidate j at position j mod {obs.slate_size} (VW's slots have disjoint "
                f"actions); row {row} shows candidate {decision.slates[row, position]} at "
                f"position {position}."
            )
        costs = (-feedback.rewards.sum(axis=1)).tolist()
        prefix = len("slates shared ")
        labelled, slots = [], []
        for (shared, actions), cost, slate, probabilities in zip(
            self._request_parts(obs), costs, decision.slates.tolist(), logged.tolist(), strict=True
        ):
            labelled.append((f"slates shared {cost:.9g} {shared[prefix:]}", actions))
            slots.append(
                "".join(
                    f"\nslates slot {item // k}:{probability:.9g} {SLOT_TAG}|s p{position}"
                    for position, (item, probability) in enumerate(
                        zip(slate, probabilities, strict=True)
                    )
                )
            )
        learn_requests(self.workspace_, labelled, slots)
