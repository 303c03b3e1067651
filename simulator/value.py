"""The true value of a policy: its expected reward per request on a frozen copy of a world."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray

from bandits.observation import SlateObservation, as_observation
from bandits.policy import Policy
from bandits.validation import InputTypeError, check_integer
from simulator.env import SlateEnv, SlateVectorEnv


@dataclass(frozen=True)
class PolicyValue:
    """A policy's expected reward per request on a frozen world.

    Attributes
    ----------
    value : float
        Mean over the sampled requests of each request's expected reward under the policy.
    standard_error : float
        Of that mean, from the spread over requests (and over slate draws when ``exact`` is
        False): the gap to the value over the whole request distribution.
    n_requests : int
    n_draws : int
        Slates drawn per request (0 when ``exact``).
    exact : bool
        True if each request's expected reward is exact (position-based model: the policy's
        candidate-position marginals times the exact reward of each candidate at each position).
    per_request : ndarray of float64, shape (n_requests,)
    """

    value: float
    standard_error: float
    n_requests: int
    n_draws: int
    exact: bool
    per_request: NDArray[np.float64]


def true_value(
    env: gymnasium.Env[Any, Any] | gymnasium.vector.VectorEnv,
    policy: Policy,
    *,
    n_requests: int,
    seed: int,
    n_draws: int = 100,
) -> PolicyValue:
    """Expected reward per request of ``policy`` on a frozen copy of ``env``'s world.

    The copy is taken at the env's current step (call ``reset`` first) and never changes:
    tastes, fatigue, boredom, absences, shocks and the step (so time of day, weekday and
    season) stay as they are, no click is recorded and the policy (a deep copy) never learns.
    Requests (users, context, candidates) are drawn from the copy's own generator seeded by
    ``seed``; neither ``env`` nor ``policy`` is touched. Their candidate counts vary as the
    env's do from its second step on: batch ``b`` has the counts of step ``b + 1``
    (:meth:`simulator.world.World.candidate_counts`), also when the copy is taken at reset,
    whose first batch offers every request ``max_candidates``.

    Each request's expected reward under the policy's slate distribution is exact where the
    model allows: with the position-based model it is ``sum_{c,k} P(c at k) r(c, k)``, the
    policy's ``candidate_position_probability`` times the exact reward of each candidate at
    each position. Otherwise (cascade, MNL: a position's reward depends on the whole slate)
    it is the mean, over ``n_draws`` slates drawn by ``policy.act``, of each slate's exact
    expected reward.

    A vector env's worlds are all frozen; each batch holds ``n_requests`` requests of each
    world, shown to the policy world by world (an item id names another item in each
    world), and the value is the mean over all of them.

    Parameters
    ----------
    env : SlateEnv or SlateVectorEnv (possibly wrapped)
    policy : Policy
    n_requests : int
        Requests to average over, of all worlds (the last batch is cut, its first worlds'
        requests kept).
    seed : int
    n_draws : int
        Slates per request where the value is not exact.

    Returns
    -------
    PolicyValue
    """
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, SlateEnv | SlateVectorEnv):
        raise InputTypeError(
            f"true_value needs a simulator environment (SlateEnv or SlateVectorEnv); got "
            f"{type(base).__name__}."
        )
    total = check_integer(n_requests, "n_requests", "true_value", low=1)
    draws = check_integer(n_draws, "n_draws", "true_value", low=1)
    time = base._current().time
    world = copy.deepcopy(base.world)
    frozen_policy = copy.deepcopy(policy)
    rng = np.random.default_rng(seed)
    exact = world.choice_model.candidate_rewards(np.zeros((1, 1)), np.zeros((1, 1))) is not None
    values: list[NDArray[np.float64]] = []
    served = 0
    while served < total:
        # counts as at steps 1, 2, ...: step 0's (max_candidates everywhere) are for
        # gymnasium's checker, not the requests the env goes on to serve
        batch = world.next_batch(rng, time, evolve=False, counts_at=1 + len(values))
        parts = _world_observations(world.observation(batch), world.n_worlds)
        rewards = world.choice_model.candidate_rewards(batch.logits, batch.values)
        if rewards is not None:
            marginals = np.concatenate(
                [frozen_policy.candidate_position_probability(obs) for obs in parts]
            )
            row_values = (marginals * rewards).sum(axis=(1, 2))
        else:
            row_values = np.zeros(len(batch.users))
            for _ in range(draws):
                slates = np.concatenate([frozen_policy.act(obs).slates for obs in parts])
                row_values += world.expected_rewards(batch, slates).sum(axis=1)
            row_values /= draws
        keep = min(row_values.size, total - served)
        values.append(row_values[:keep])
        served += keep
    per_request = np.concatenate(values)
    spread = per_request.std(ddof=1) if per_request.size > 1 else 0.0
    return PolicyValue(
        value=float(per_request.mean()),
        standard_error=float(spread / np.sqrt(per_request.size)),
        n_requests=total,
        n_draws=0 if exact else draws,
        exact=exact,
        per_request=per_request,
    )


def _world_observations(raw: dict[str, NDArray[Any]], n_worlds: int) -> list[SlateObservation]:
    """The observation of each stacked world's requests (rows ``w * n .. (w + 1) * n`` of
    ``raw``'s per-request arrays, ``n = n_rows / n_worlds``)."""
    if n_worlds == 1:
        return [as_observation(raw)]
    rows = len(raw["request_ids"]) // n_worlds
    return [
        as_observation(
            {
                key: value if value.ndim == 0 else value[w * rows : (w + 1) * rows]
                for key, value in raw.items()
            }
        )
        for w in range(n_worlds)
    ]
