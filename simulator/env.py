"""Gymnasium wiring of a :class:`~simulator.world.World`: one world as a batched ``Env``,
``num_envs`` worlds as a natively batched ``VectorEnv``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from numpy.typing import ArrayLike, NDArray

from bandits.items import ItemTable
from bandits.validation import (
    InputTypeError,
    InputValueError,
    as_array,
    check_integer,
    check_shape,
    check_slates,
)
from simulator.spaces import SlateSpace
from simulator.world import Batch, World


def slate_space(world: World, num_envs: int | None = None) -> SlateSpace:
    """The action space of ``world``'s batches, at step 0's candidate counts."""
    return SlateSpace(
        n_requests=world.n_requests,
        slate_size=world.slate_size,
        max_candidates=world.max_candidates,
        min_candidates=world.min_candidates,
        counts=world.candidate_counts(),
        num_envs=num_envs,
    )


class _Served:
    """What a world-serving environment shares: the current batch, slate checks, truth."""

    world: World
    _batch: Batch | None
    _name: str
    _time: int
    _arrivals: np.random.Generator
    _feedback: np.random.Generator
    _candidate_rewards: bool = False
    np_random: np.random.Generator  # gymnasium's, on the Env or VectorEnv it is mixed into

    def _current(self) -> Batch:
        if self._batch is None:
            raise gymnasium.error.ResetNeeded(f"Call reset() on {self._name} before using it.")
        return self._batch

    def _check(self, slates: ArrayLike, label: str, shape: tuple[int, ...]) -> NDArray[np.int64]:
        """Slates as (n_rows, slate_size) after one check against the current batch."""
        batch = self._current()
        array = as_array(slates, label, np.int64, len(shape))
        check_shape(array, shape, label)
        flat = array.reshape(-1, shape[-1])
        check_slates(flat, batch.counts, label)
        return flat

    def _serve(self, batch: Batch) -> Batch:
        """Make ``batch`` current and set the action spaces to its candidate counts."""
        self._batch = batch
        if self.world.min_candidates < self.world.max_candidates:
            per_request = batch.counts[: self.world.n_requests]  # the same in every world
            for space in self._slate_spaces():
                space.set_counts(per_request)
        return batch

    def _slate_spaces(self) -> list[SlateSpace]:
        """The action spaces that follow the served batch's candidate counts."""
        raise NotImplementedError

    def _options(self, options: dict[str, Any] | None) -> None:
        """Read ``reset``'s options: ``{"candidate_rewards": bool}`` (default False)."""
        given = dict(options or {})
        wanted = given.pop("candidate_rewards", False)
        if given:
            raise InputValueError(
                f"The options of {self._name}.reset may only hold 'candidate_rewards'; got "
                f"{sorted(given)}."
            )
        if not isinstance(wanted, bool | np.bool_):
            raise InputTypeError(
                f"The 'candidate_rewards' option of {self._name}.reset must be a bool; got "
                f"{type(wanted).__name__} {wanted!r}."
            )
        self._candidate_rewards = bool(wanted)

    def candidate_rewards(self) -> NDArray[np.float64] | None:
        """The exact expected reward of every candidate at every position on the current
        batch, shape (n_rows, max_candidates, slate_size), or None where it depends on the
        rest of the slate (cascade, MNL)."""
        batch = self._current()
        return self.world.choice_model.candidate_rewards(batch.logits, batch.values)

    def _start(self, n_worlds: int) -> Batch:
        """Draw the worlds from ``np_random`` and spawn from it the two streams of the run:
        arrivals (users, candidates, context, drift, shocks) and feedback (clicks, watch
        time, purchases, churn)."""
        self._arrivals, self._feedback = self.np_random.spawn(2)
        return self._serve(self.world.reset(self.np_random, n_worlds, self._arrivals))

    def _advance(self, slates: NDArray[np.int64]) -> dict[str, Any]:
        """Feedback to ``slates`` on the current batch, then the next batch."""
        info = self.world.respond(
            self._feedback, self._current(), slates, candidate_rewards=self._candidate_rewards
        )
        self._time += 1
        self._serve(self.world.next_batch(self._arrivals, self._time))
        return info


class SlateEnv(_Served, gymnasium.Env):
    """A batched slate environment: each step serves ``n_requests`` requests of one world.

    ``reset`` draws a new world from ``self.np_random``; ``step`` takes slates, int64 of shape
    (n_requests, slate_size), indices into each request's candidates (the action space follows
    the candidate counts of the current batch, which vary from request to request and from step
    to step, so ``action_space.sample()`` draws uniformly among each request's valid slates and
    is valid for the next ``step``), and returns the total reward of the batch acted on. Its
    ``info`` holds ``"rewards"`` and ``"signals"`` (per position), the exact
    ``"expected_reward"`` and ``"oracle_reward"`` (n_requests,), ``"expected_rewards"`` per
    position, ``"oracle_slates"`` and, after ``reset(options={"candidate_rewards": True})``
    and where the choice model has it (position-based), ``"candidate_rewards"``
    (n_requests, max_candidates, slate_size). Episodes never end.

    Randomness: ``reset`` draws the world from ``self.np_random`` and spawns two child
    streams from it (``Generator.spawn``): *arrivals* (who asks, the candidates, the context
    draws, drift and popularity shocks) and *feedback* (click, watch-time and purchase draws,
    churn). Neither stream's consumption depends on the slates shown.

    Common random numbers: two copies reset with the same seed draw the same world, the same
    candidates, context draws, drift and shocks, and the same feedback uniforms at every
    step, whatever their policies do. Who asks is the same too, except under churn: a user
    away in one copy and not the other (their policies bored different users) is replaced,
    in that copy only, by a user drawn from the request's second uniform
    (:meth:`simulator.users.Users.arrive`); such a request's user, context signals that
    depend on the user (location), and logits then differ. Histories, fatigue and tastes
    pulled by clicks differ as the policies' clicks do.

    Parameters
    ----------
    world : World
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium: an instance attribute)

    def __init__(self, world: World) -> None:
        self.world = world
        self._name = type(self).__name__
        self._slate_space = slate_space(world)
        self.action_space = self._slate_space
        self.observation_space = world.observation_space()
        self._batch = None
        self._time = 0

    def _slate_spaces(self) -> list[SlateSpace]:
        return [self._slate_space]

    @property
    def n_requests(self) -> int:
        return self.world.n_requests

    @property
    def slate_size(self) -> int:
        return self.world.slate_size

    @property
    def min_candidates(self) -> int:
        return self.world.min_candidates

    @property
    def max_candidates(self) -> int:
        return self.world.max_candidates

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Draw a new world and its first batch. ``options={"candidate_rewards": True}`` puts
        ``"candidate_rewards"`` into every ``step``'s ``info`` (off by default: it is
        ``max_candidates x slate_size`` floats per request; :meth:`candidate_rewards` gives it
        for the current batch on demand)."""
        self._options(options)
        super().reset(seed=seed)
        self._time = 0
        return self.world.observation(self._start(1)), {}

    def step(
        self, action: ArrayLike
    ) -> tuple[dict[str, NDArray[Any]], float, bool, bool, dict[str, Any]]:
        """Show the slates, draw the feedback, then serve the next batch."""
        shape = (self.world.n_requests, self.world.slate_size)
        slates = self._check(action, f"The action of {self._name}.step", shape)
        info = self._advance(slates)
        reward = float(info["rewards"].sum())
        return self.world.observation(self._current()), reward, False, False, info

    def expected_slate_reward(self, slates: ArrayLike) -> NDArray[np.float64]:
        """Exact expected reward of ``slates`` on the current batch, shape (n_requests,)."""
        shape = (self.world.n_requests, self.world.slate_size)
        checked = self._check(slates, "'slates' of expected_slate_reward", shape)
        return self.world.expected_rewards(self._current(), checked).sum(axis=1)

    def oracle_slates(self) -> NDArray[np.int64]:
        """The best slates on the current batch, int64 of shape (n_requests, slate_size)."""
        return self.world.best_slates(self._current())

    def context_names(self) -> list[str]:
        """Names of the columns of the observations' ``context`` (user features, then the
        context signals such as ``device_phone``, ``day_sin``); what logs record so that
        reports can segment requests by device or time of day."""
        return self.world.context_names()

    def item_table(self) -> ItemTable:
        """The catalogue with its features and availability windows (``valid_from``,
        ``valid_until`` in steps); drawn by ``reset``."""
        self._current()
        return self.world.catalogue.item_table()

    def item_attributes(self) -> dict[str, NDArray[Any]]:
        """Each item's ``genre``, ``micro_genre``, ``quality``, ``popularity`` (log),
        ``price`` and ``release_time``, shape (n_items,) each; drawn by ``reset``."""
        self._current()
        return self.world.catalogue.attributes()


class SlateVectorEnv(_Served, VectorEnv):
    """``num_envs`` independent worlds stepped together by numpy over all their requests.

    The worlds are stacked along the request axis of one :class:`World`: one draw of
    ``num_envs * n_requests`` users, candidates, clicks per step, no loop over copies.
    Observations, actions, rewards and every ``info`` entry have a leading ``num_envs``
    axis (``info`` has gymnasium's ``"_key"`` masks, all True). Sub-environment ``e`` is
    distributed like a single environment but does not replay a single environment's
    random stream. Episodes never end (autoreset never happens).

    Parameters
    ----------
    world : World
    num_envs : int
    """

    metadata: dict[str, Any] = {  # noqa: RUF012 (gymnasium: an instance attribute)
        "render_modes": [],
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(self, world: World, num_envs: int = 1) -> None:
        self._name = type(self).__name__
        self.num_envs = check_integer(num_envs, "num_envs", self._name, low=1)
        world.check_memory(self.num_envs, self._name)
        self.world = world
        self.single_observation_space = world.observation_space()
        self._single_slate_space = slate_space(world)
        self._slate_space = slate_space(world, self.num_envs)
        self.single_action_space = self._single_slate_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = self._slate_space
        self._batch = None
        self._time = 0

    def _slate_spaces(self) -> list[SlateSpace]:
        return [self._single_slate_space, self._slate_space]

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Draw ``num_envs`` new worlds and their first batches; options as for
        :meth:`SlateEnv.reset`.

        The worlds are drawn together from one generator, so they take one seed: an int, None,
        or a list holding one (what gymnasium passes for one seed); a list of several seeds
        (one per sub-environment, as ``SyncVectorEnv`` takes) is refused, since honouring
        only one of them would silently give other worlds than asked for.
        """
        self._options(options)
        if isinstance(seed, list | tuple):
            if len(seed) != 1:
                raise InputValueError(
                    f"{self._name}.reset takes one seed for all its {self.num_envs} worlds "
                    f"(they are drawn together from one generator: sub-environment e is "
                    f"reproducible from that seed); got a list of {len(seed)} seeds. Pass an "
                    f"int."
                )
            seed = seed[0]
        super().reset(seed=seed)
        self._time = 0
        return self._stacked(self.world.observation(self._start(self.num_envs))), {}

    def step(
        self, actions: ArrayLike
    ) -> tuple[
        dict[str, NDArray[Any]],
        NDArray[np.float64],
        NDArray[np.bool_],
        NDArray[np.bool_],
        dict[str, Any],
    ]:
        """Show the slates of every sub-environment, draw feedback, serve the next batches."""
        shape = (self.num_envs, self.world.n_requests, self.world.slate_size)
        slates = self._check(actions, f"The actions of {self._name}.step", shape)
        info = self._advance(slates)
        rewards = info["rewards"].reshape(self.num_envs, -1).sum(axis=1)
        done = np.zeros(self.num_envs, dtype=np.bool_)
        obs = self._stacked(self.world.observation(self._current()))
        return obs, rewards, done, done.copy(), self._vector_info(info)

    def _stacked(self, values: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
        """Stacked-world rows (n_rows, ...) as (num_envs, n_requests, ...)."""
        out = {}
        for key, value in values.items():
            if value.ndim == 0:
                out[key] = np.full(self.num_envs, value)
            else:
                out[key] = self._split(value)
        return out

    def _split(self, value: NDArray[Any]) -> NDArray[Any]:
        """Stacked-world rows (num_envs * n_requests, ...) as (num_envs, n_requests, ...)
        (named, not -1: a row may be empty, e.g. histories of length 0)."""
        return value.reshape(self.num_envs, self.world.n_requests, *value.shape[1:])

    def candidate_rewards(self) -> NDArray[np.float64] | None:
        """As :meth:`SlateEnv.candidate_rewards`, per sub-environment: shape (num_envs,
        n_requests, max_candidates, slate_size), or None."""
        rewards = super().candidate_rewards()
        return None if rewards is None else self._split(rewards)

    def _vector_info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Every entry with a leading num_envs axis and its all-True ``"_key"`` mask."""
        present = np.ones(self.num_envs, dtype=np.bool_)
        out: dict[str, Any] = {}
        for key, value in info.items():
            if isinstance(value, dict):
                out[key] = self._vector_info(value)
            else:
                out[key] = self._split(value)
            out[f"_{key}"] = present
        return out


class VectorCreator:
    """A ``vector_entry_point`` for gymnasium: ``num_envs`` worlds of the environment
    ``make_env(**params)`` would build, natively batched. A class, not a closure, so that an
    env's ``spec`` (which holds it) pickles."""

    def __init__(self, make_env: Callable[..., SlateEnv]) -> None:
        self.make_env = make_env
        self.__name__ = f"{getattr(make_env, '__name__', 'env')}_vector"

    def __call__(self, num_envs: int = 1, **params: Any) -> SlateVectorEnv:
        return SlateVectorEnv(self.make_env(**params).world, num_envs=num_envs)

    def __repr__(self) -> str:
        return f"VectorCreator({self.__name__})"


def vector_creator(make_env: Callable[..., SlateEnv]) -> VectorCreator:
    """The natively batched ``vector_entry_point`` of ``make_env`` (:class:`VectorCreator`)."""
    return VectorCreator(make_env)
