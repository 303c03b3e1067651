"""A classification data set served as a batched gymnasium bandit environment."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from numpy.typing import ArrayLike, NDArray

from bandits.validation import InputTypeError, as_array, check_integer, check_shape, check_slates
from simulator.spaces import SlateSpace
from simulator.supervised import DATASETS, ClassificationBandit

_INT64_MAX = np.iinfo(np.int64).max


class SupervisedBanditEnv(gymnasium.Env):
    """Each step serves ``n_requests`` rows of a :class:`ClassificationBandit` drawn uniformly
    with replacement from ``self.np_random``; a slate is one class, rewarded 1 if it is the
    row's label. ``info`` has the same keys as the simulator's worlds: ``"rewards"``,
    ``"signals"`` (``"click"``), the exact ``"expected_reward"`` (the reward is
    deterministic given the row), ``"oracle_reward"`` (1) and ``"oracle_slates"`` (the labels),
    ``"expected_rewards"`` and ``"candidate_rewards"`` (the one-hot of the label). Episodes
    never end.

    Registered as ``bandits/Supervised-v0``: ``gymnasium.make("bandits/Supervised-v0",
    dataset="wine")``. scikit-learn (the ``sklearn`` extra) is imported only when a bundled
    data set is loaded, so importing :mod:`simulator` does not need it.

    Parameters
    ----------
    dataset : ClassificationBandit or str
        A data set or the name of one scikit-learn bundles (``simulator.supervised.DATASETS``:
        ``"digits"``, ``"wine"``, ``"breast_cancer"``).
    n_requests : int
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium: an instance attribute)

    def __init__(
        self, *, dataset: ClassificationBandit | str = "digits", n_requests: int = 32
    ) -> None:
        if isinstance(dataset, str):
            self.data = ClassificationBandit.from_dataset(
                dataset, label=f"'dataset' of {type(self).__name__}"
            )
        elif isinstance(dataset, ClassificationBandit):
            self.data = dataset
        else:
            raise InputTypeError(
                f"The 'dataset' parameter of {type(self).__name__} must be a ClassificationBandit "
                f"or one of {list(DATASETS)}; got {type(dataset).__name__} {dataset!r}."
            )
        self.n_requests = check_integer(n_requests, "n_requests", type(self).__name__, low=1)
        k, n, d = self.data.n_classes, self.n_requests, self.data.features.shape[1]
        self.action_space = SlateSpace(n_requests=n, slate_size=1, max_candidates=k)

        def ints(low: int, high: int, shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=low, high=high, shape=shape, dtype=np.int64)

        def reals(shape: tuple[int, ...]) -> spaces.Box:
            return spaces.Box(low=-np.inf, high=np.inf, shape=shape, dtype=np.float64)

        self.observation_space = spaces.Dict(
            {
                "context": reals((n, d)),
                "candidate_ids": ints(-1, k - 1, (n, k)),
                "candidate_features": reals((n, k, k)),
                "n_candidates": ints(1, k, (n,)),
                "slate_size": ints(1, k, ()),
                "history": ints(-1, k - 1, (n, 0)),
                "request_ids": ints(0, _INT64_MAX, (n,)),
                "user_ids": ints(-1, 0, (n,)),
                "times": ints(0, _INT64_MAX, (n,)),
            }
        )
        self._rows: NDArray[np.int64] | None = None
        self._time = 0

    def _serve(self) -> dict[str, NDArray[Any]]:
        self._rows = self.np_random.integers(0, self.data.n_rows, self.n_requests)
        obs = self.data.observation_mapping(self._rows)
        obs["request_ids"] = self._time * self.n_requests + np.arange(self.n_requests)
        obs["times"] = np.full(self.n_requests, self._time, dtype=np.int64)
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, NDArray[Any]], dict[str, Any]]:
        """Serve the first batch; ``options`` is unused."""
        super().reset(seed=seed)
        self._time = 0
        return self._serve(), {}

    def _checked(self, slates: ArrayLike, label: str) -> NDArray[np.int64]:
        if self._rows is None:
            raise gymnasium.error.ResetNeeded(f"Call reset() on {type(self).__name__} first.")
        array = as_array(slates, label, np.int64, 2)
        check_shape(array, (self.n_requests, 1), label)
        check_slates(array, np.full(self.n_requests, self.data.n_classes), label)
        return array

    def expected_slate_reward(self, slates: ArrayLike) -> NDArray[np.float64]:
        """Exact expected reward of ``slates`` on the current batch (1 for the label, else 0),
        shape (n_requests,)."""
        checked = self._checked(slates, "'slates' of expected_slate_reward")
        return self.data.rewards(self._rows, checked)[:, 0]

    def oracle_slates(self) -> NDArray[np.int64]:
        """The best slates on the current batch (the labels), shape (n_requests, 1)."""
        if self._rows is None:
            raise gymnasium.error.ResetNeeded(f"Call reset() on {type(self).__name__} first.")
        return self.data.labels[self._rows][:, None].copy()

    def step(
        self, action: ArrayLike
    ) -> tuple[dict[str, NDArray[Any]], float, bool, bool, dict[str, Any]]:
        """Reward the chosen classes, then serve the next batch."""
        slates = self._checked(action, "The action of SupervisedBanditEnv.step")
        k = self.data.n_classes
        rewards = self.data.rewards(self._rows, slates)
        labels = self.data.labels[self._rows]
        info = {
            "rewards": rewards,
            "signals": {"click": rewards.copy()},
            "expected_reward": rewards[:, 0].copy(),
            "oracle_reward": np.ones(self.n_requests),
            "expected_rewards": rewards.copy(),
            "oracle_slates": labels[:, None].copy(),
            "candidate_rewards": np.eye(k)[labels][:, :, None],
        }
        self._time += 1
        return self._serve(), float(rewards.sum()), False, False, info
