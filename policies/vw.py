"""Vowpal Wabbit's contextual bandits as a slate policy (registered as ``vw``)."""

from __future__ import annotations

import itertools
import json
import math
import os
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from weakref import WeakKeyDictionary

import numpy as np
from numpy.typing import NDArray

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logs.atomic import atomic_path
from bandits.observation import SlateObservation
from bandits.slates import shown_marginals
from bandits.validation import (
    InputTypeError,
    InputValueError,
    check_choice,
    check_generator,
    check_integer,
    check_real,
    check_regular_file,
    shown,
)
from policies.base import MAX_EXPLORATION, BasePolicy
from policies.offpolicy import check_weight_clip
from policies.vw_examples import (
    NAMESPACES,
    RequestHeads,
    learn_slots_of_batch,
    predict_slots,
    slot_labels,
)
from policies.vw_requests import (
    Actions,
    ParsedActions,
    RequestExamples,
    collection_paused,
    learn_requests,
    predict_requests,
)
from policies.vw_slots import (
    candidate_position_marginals,
    count_slot_distributions,
    draw_slate,
    invert_cdfs,
    slate_probability,
    slot_probabilities,
)
from policies.vw_workspace import (
    CB_TYPES,
    EXPLORATIONS,
    command_line,
    model_bytes,
    new_workspace,
    normalised_pmf,
    workspace_from_bytes,
)

MAX_BITS = 24
"""Largest ``bits`` (VW's ``-b``): 2**24 weights per model, times VW's per-weight state."""

MAX_ENSEMBLE = 32
"""Most policies ``bag`` and ``cover`` may keep (each multiplies the model's memory)."""

FILE_MAGIC = b"bandits-vw-policy 1\n"

CACHES = (
    "workspace_",
    "_requests",
    "_acted",
    "_format_heads",
    "_parsed_actions",
    "_kept",
    "_keeping",
)
"""Attributes left out of a pickle: the workspace (it goes as its model bytes) and the
caches :meth:`VowpalWabbit._init_caches` builds again."""
"""First line of a file written by :meth:`VowpalWabbit.save`."""


Request = tuple[str, Actions]
"""A request's shared line and its candidates' actions
(:class:`~policies.vw_requests.ParsedActions`)."""

NOTHING_TAKEN: frozenset[int] = frozenset()
ACTION_PROBABILITY = np.dtype([("action", np.intp), ("probability", np.float64)])
"""One of VW's (action, probability) pairs as a record."""
FIRST_SLOT = predict_slots(())
"""The slot line that predicts the first position."""


class _RequestSlots:
    """The slot distributions of one request, each predicted by VW once and remembered."""

    def __init__(self, workspace: Any, request: Request) -> None:
        self.workspace = workspace
        self.request = request
        self.n_candidates = len(request[1][0])
        self.known: dict[frozenset[int], NDArray[np.float64]] = {}

    def predict(self, taken: frozenset[int]) -> list[tuple[int, float]]:
        """VW's (action, probability) pairs of the slot after ``taken``, predicted afresh."""
        slots = predict_slots(sorted(taken)) if taken else FIRST_SLOT
        return predict_requests(self.workspace, [self.request], [slots])[0][-1]

    def __call__(self, taken: frozenset[int]) -> NDArray[np.float64]:
        pmf = self.known.get(taken)
        if pmf is None:
            pmf = self.known[taken] = normalised_pmf(self.predict(taken), self.n_candidates)
        return pmf


class _Prepared:
    """What ``act`` and the probabilities share: the batch's requests, the first slot's
    distributions of the whole batch as one array (built on first use) and each request's
    later slots (:class:`_RequestSlots`, built on first use).

    With ``keep``, the first slot's examples are kept in ``kept`` (a
    :class:`~policies.vw_requests.RequestExamples`) for ``update`` to label and learn from;
    whoever takes them must finish them.
    """

    def __init__(
        self,
        workspace: Any,
        requests: list[Request],
        max_candidates: int,
        slate_size: int,
        keep: bool = False,
    ) -> None:
        self.workspace = workspace
        self.requests = requests
        self.max_candidates = max_candidates
        self.slate_size = slate_size
        self.keep = keep
        self.kept: RequestExamples | None = None
        self._first: NDArray[np.float64] | None = None
        self._slots: list[_RequestSlots] | None = None
        self.shown: tuple[NDArray[np.int64], NDArray[np.float64]] | None = None
        """The last slates :meth:`VowpalWabbit._slot_probabilities` answered, and its answer."""

    @property
    def slots(self) -> list[_RequestSlots]:
        """Each request's slot distributions."""
        if self._slots is None:
            self._slots = [_RequestSlots(self.workspace, request) for request in self.requests]
            if self._first is not None:
                for row, slots in enumerate(self._slots):
                    slots.known[NOTHING_TAKEN] = self._first[row, : slots.n_candidates]
        return self._slots

    def first_slot(self) -> NDArray[np.float64]:
        """Each candidate's probability in the first slot, shape (n_requests,
        max_candidates), zero for padding; row ``i`` is ``slots[i](frozenset())``. A batch
        kept for learning is parsed in one call, others
        :data:`~policies.vw_requests.MAX_PARSED_LINES` lines at a
        time (VW keeps the memory of every example it parses); predicted request by request."""
        if self._first is not None:
            return self._first
        slot_lines = [FIRST_SLOT] * len(self.requests)
        if self.keep:
            examples = RequestExamples(self.workspace, self.requests, slot_lines)
            try:
                scores = examples.predict()
            except BaseException:
                examples.finish()
                raise
            self.kept = examples
        else:
            scores = predict_requests(self.workspace, self.requests, slot_lines)
        last = [slots[-1] for slots in scores]
        lengths = list(map(len, last))
        pairs = np.fromiter(itertools.chain.from_iterable(last), ACTION_PROBABILITY, sum(lengths))
        first = np.zeros((len(self.requests), self.max_candidates))
        first[np.repeat(np.arange(len(last)), lengths), pairs["action"]] = pairs["probability"]
        first /= np.array(list(map(math.fsum, first.tolist())))[:, None]  # exactly rounded sums
        self._first = first
        return first


class _Kept:
    """The first-slot examples of an ``act`` (one per request), waiting for ``update`` to
    learn from them; finished unlearned if the decision is dropped first."""

    def __init__(
        self, obs: SlateObservation, decision: SlateDecision, examples: RequestExamples
    ) -> None:
        self.obs = obs
        self.examples = examples
        self.release = weakref.finalize(decision, examples.finish)


class VowpalWabbit(BasePolicy):
    """VW's conditional contextual bandit (``--ccb_explore_adf`` over ``--cb_explore_adf``)
    with one of its exploration algorithms; slates are filled one position at a time.

    Each request is a VW multi-line example (:mod:`policies.vw_examples`): the context on a
    shared line, one action line per candidate with its item features and item id, and one
    slot line per position. Position ``j`` is drawn with the policy's ``rng`` from the
    distribution VW predicts over the candidates not shown above it, exactly as VW's CCB
    fills slots (it excludes the chosen actions and keeps the others in order; see
    :mod:`policies.vw_slots`). With ``slate_size`` 1 this is VW's ``--cb_explore_adf`` over
    the candidates, the slot line adding the position feature.

    Probabilities are exact: a slate's is the product of its positions' VW probabilities (VW's
    32-bit PMF divided by its sum in float64); the chance of a candidate at a position sums
    over the sets of candidates that can fill the positions above, one VW prediction per set
    of fewer than ``slate_size`` candidates (1 for single items; ``1 + n`` for pairs;
    ``1 + n + n(n-1)/2`` for three), which ``act`` pays for too, since a decision carries its
    position probabilities. Asking for probabilities only predicts: VW's state (weights, its
    random state, the counters of cover and squarecb) is unchanged, so the next choices and
    the learning are the same.

    Learning: one VW example per request with every shown position labelled by its cost,
    ``-reward`` (VW minimises cost), and the probability the item had in that slot given the
    slots above, as logged by this policy's ``act``. For a decision made elsewhere (e.g. a
    replayed log) that conditional probability is not in the decision: its position
    probabilities are used, exact for the first position, the marginal (an approximation)
    for the others.

    The request's history and user id are not used. The policy pickles (through VW's model
    bytes) and saves to a file (:meth:`save`, :meth:`load`).

    Parameters
    ----------
    explore : {"epsilon", "softmax", "bag", "cover", "regcb", "squarecb"}, default "epsilon"
        VW's exploration algorithm.
    epsilon : float, default 0.05
        Uniform exploration mixed in by epsilon, bag and cover, in [0, 1].
    lambda_ : float, default 1.0
        Softmax's inverse temperature (VW's ``--lambda``), in [0, 1e6].
    bag : int, default 5
        Bootstrapped policies of bag, 1 to 32.
    cover : int, default 5
        Policies of cover, 1 to 32.
    gamma_scale : float, default 10.0
        Squarecb's exploration scale (VW's ``--gamma_scale``), in (0, 1e6].
    learning_rate : float, default 0.5
        VW's ``-l``, in (0, 1000].
    interactions : sequence of str, default ("ui",)
        VW's ``--interactions``: letters of the namespaces ``u`` (context), ``i`` (item
        features), ``d`` (item id), ``s`` (position); ``"ui"`` is context x item features.
    bits : int, default 18
        Bits of the feature hash (VW's ``-b``), 1 to 24.
    max_predictions : int, default 10_000
        Most VW predictions one request's exact position probabilities may take; a request
        needing more is refused with an error (show fewer candidates or shorter slates).
    cb_type : {"mtr", "ips", "dr"}, default "mtr"
        VW's ``--cb_type``, how a logged cost and probability train the model
        (:data:`policies.vw_workspace.CB_TYPES`); regcb and squarecb take only ``mtr``.
    rng : numpy.random.Generator
        Draws the slates; also seeds VW's own random state (bag's bootstrap).

    Attributes
    ----------
    workspace_ : vowpalwabbit.Workspace
        The VW model.
    """

    spec_name = "vw"
    param_choices: ClassVar[dict[str, tuple[str, ...]]] = {
        "explore": tuple(EXPLORATIONS),
        "cb_type": tuple(CB_TYPES),
    }
    reduction: ClassVar[str] = "--ccb_explore_adf"
    """VW's multi-slot reduction, the first of :meth:`command_line`."""

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
        max_predictions: int = 10_000,
        cb_type: str = "mtr",
        rng: np.random.Generator,
    ) -> None:
        owner = type(self).__name__
        self.explore = check_choice(
            explore, EXPLORATIONS, f"exploration (the 'explore' parameter of {owner})"
        )
        self.epsilon = check_real(epsilon, "epsilon", owner, low=0.0, high=1.0)
        self.lambda_ = check_real(lambda_, "lambda_", owner, low=0.0, high=MAX_EXPLORATION)
        self.bag = check_integer(bag, "bag", owner, low=1, high=MAX_ENSEMBLE)
        self.cover = check_integer(cover, "cover", owner, low=1, high=MAX_ENSEMBLE)
        self.gamma_scale = check_real(
            gamma_scale, "gamma_scale", owner, low=0.0, low_open=True, high=MAX_EXPLORATION
        )
        self.learning_rate = check_real(
            learning_rate, "learning_rate", owner, low=0.0, low_open=True, high=1000.0
        )
        self.interactions = _check_interactions(interactions, owner)
        self.bits = check_integer(bits, "bits", owner, low=1, high=MAX_BITS)
        self.max_predictions = check_integer(
            max_predictions, "max_predictions", owner, low=1, high=10**7
        )
        self.cb_type = check_choice(cb_type, CB_TYPES, f"'cb_type' of {owner}")
        if self.cb_type != "mtr" and self.explore in ("regcb", "squarecb"):
            raise InputValueError(
                f"The 'cb_type' parameter of {owner} must be 'mtr' with explore="
                f"{self.explore!r} (VW's {self.explore} learns only by regression); got "
                f"{self.cb_type!r}."
            )
        self.rng = check_generator(rng, owner)
        self.random_seed_ = int(rng.integers(0, 2**31))
        self.workspace_ = new_workspace(self.command_line())
        self._init_caches()

    def _init_caches(self) -> None:
        kind = self.reduction.removeprefix("--").split("_")[0]
        self._requests: WeakKeyDictionary[SlateObservation, list[Request]] = WeakKeyDictionary()
        self._acted: WeakKeyDictionary[SlateDecision, NDArray[np.float64]] = WeakKeyDictionary()
        self._format_heads = RequestHeads(kind)
        self._parsed_actions = ParsedActions(kind)
        self._kept: WeakKeyDictionary[SlateDecision, _Kept] = WeakKeyDictionary()
        self._keeping = False

    def command_line(self) -> list[str]:
        """VW's arguments for this policy, e.g. ``["--ccb_explore_adf", "--epsilon", "0.05",
        ...]`` (``python -m vowpalwabbit`` takes the same)."""
        return command_line(
            explore=self.explore,
            epsilon=self.epsilon,
            lambda_=self.lambda_,
            bag=self.bag,
            cover=self.cover,
            gamma_scale=self.gamma_scale,
            learning_rate=self.learning_rate,
            interactions=self.interactions,
            bits=self.bits,
            random_seed=self.random_seed_,
            reduction=self.reduction,
            cb_type=self.cb_type,
        )

    # --- acting and probabilities ---

    def _request_parts(self, obs: SlateObservation) -> list[Request]:
        """Each request's shared line and parsed action examples, built once per observation
        (act, then update)."""
        requests = self._requests.get(obs)
        if requests is None:
            parts = self._format_heads.parts(obs)
            lines = [actions for _, actions in parts]
            actions = self._parsed_actions.many(self.workspace_, lines)
            requests = self._requests[obs] = [
                (shared, kept) for (shared, _), kept in zip(parts, actions, strict=True)
            ]
        return requests

    @collection_paused
    def act(self, obs: SlateObservation, *, with_marginals: bool = False) -> SlateDecision:
        """Choose one slate per request (see :meth:`BasePolicy.act`). With one slot per
        slate, each request's parsed example is kept until :meth:`update` learns from it, so
        VW parses it once (as its command line does)."""
        self._keeping = True
        try:
            return super().act(obs, with_marginals=with_marginals)
        finally:
            self._keeping = False

    def _prepare(self, obs: SlateObservation) -> _Prepared:
        keep = self._keeping and obs.slate_size == 1
        return _Prepared(
            self.workspace_, self._request_parts(obs), obs.max_candidates, obs.slate_size, keep
        )

    def _draw(
        self, obs: SlateObservation, prepared: _Prepared, rng: np.random.Generator | None
    ) -> NDArray[np.int64]:
        assert rng is not None  # act passes self.rng, set by the constructor
        uniforms = rng.random((obs.n_requests, obs.slate_size))
        if obs.slate_size == 1:  # the whole batch at once
            return invert_cdfs(prepared.first_slot(), uniforms[:, 0])[:, None]
        rows = zip(prepared.slots, uniforms, strict=True)
        slates = [draw_slate(slots, row) for slots, row in rows]
        return np.asarray(slates, dtype=np.int64).reshape(obs.n_requests, obs.slate_size)

    def _slot_probabilities(
        self, prepared: _Prepared, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Each shown item's probability in its slot given the slots above, (n, slate_size);
        remembered for the last ``slates`` asked (``act`` asks three times)."""
        if prepared.shown is not None and prepared.shown[0] is slates:
            return prepared.shown[1]
        if slates.shape[1] == 1:
            found = prepared.first_slot()[np.arange(slates.shape[0]), slates[:, 0], None]
        else:
            rows = zip(prepared.slots, slates, strict=True)
            listed = [slot_probabilities(slots, slate) for slots, slate in rows]
            found = np.asarray(listed, dtype=np.float64).reshape(slates.shape)
        prepared.shown = (slates, found)
        return found

    def _slate_probability(
        self, obs: SlateObservation, prepared: _Prepared, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        return slate_probability(self._slot_probabilities(prepared, slates))

    def _position_probability(
        self, obs: SlateObservation, prepared: _Prepared, slates: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        if obs.slate_size == 1:  # the first slot's probability is the position's
            return self._slot_probabilities(prepared, slates)
        return shown_marginals(self._candidate_position_probability(obs, prepared), slates)

    def _candidate_position_probability(
        self, obs: SlateObservation, prepared: _Prepared
    ) -> NDArray[np.float64]:
        k = obs.slate_size
        if k == 1:  # one prediction per request
            return prepared.first_slot()[:, :, None].copy()
        marginals = np.zeros((obs.n_requests, obs.max_candidates, k))
        for row, slots in enumerate(prepared.slots):
            n = int(obs.n_candidates[row])
            needed = count_slot_distributions(n, k)
            if needed > self.max_predictions:
                raise InputValueError(
                    f"Exact position probabilities of row {row} ({n} candidates, slate_size "
                    f"{k}) need up to {needed:,} VW predictions, more than the "
                    f"'max_predictions' parameter of {type(self).__name__} allows "
                    f"({self.max_predictions:,}); raise it, or show fewer candidates or "
                    f"shorter slates."
                )
            marginals[row, :n] = candidate_position_marginals(slots, n, k)
        return marginals

    def _decide(
        self,
        obs: SlateObservation,
        prepared: _Prepared,
        slates: NDArray[np.int64],
        with_marginals: bool,
    ) -> SlateDecision:
        """The decision, remembering its slot probabilities for :meth:`update`."""
        try:
            decision = super()._decide(obs, prepared, slates, with_marginals)
        except BaseException:
            if prepared.kept is not None:
                prepared.kept.finish()
            raise
        shown = self._slot_probabilities(prepared, slates)
        self._acted[decision] = shown.copy()  # not the array the decision may hold
        if prepared.kept is not None:
            self._kept[decision] = _Kept(obs, decision, prepared.kept)
        return decision

    # --- learning ---

    @collection_paused
    def update(
        self, obs: SlateObservation, decision: SlateDecision, feedback: SlateFeedback
    ) -> None:
        """Learn from a batch: one VW example per request, every position labelled with cost
        ``-reward`` and its logged slot probability (see the class notes).

        Parameters
        ----------
        obs : SlateObservation
        decision : SlateDecision
            Slates of shape (n_requests, slate_size).
        feedback : SlateFeedback
            Rewards of shape (n_requests, slate_size).
        """
        super().update(obs, decision, feedback)  # checks the inputs
        logged = self._acted.get(decision)
        if logged is None:  # a decision this policy did not make: the best it carries
            logged = decision.position_probability
        self._learn_logged(obs, decision, feedback, logged)

    @collection_paused
    def learn_off_policy(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        *,
        clip: float = math.inf,
    ) -> None:
        """Learn from logged decisions (another policy's) with VW's ``cb_type``: every shown
        position is a slot labelled with cost ``-reward`` and its logged position
        probability, floored at ``1 / clip`` so that no weight exceeds ``clip``.

        Slot 1's probability is exact; later slots get the logged marginal of their item at
        their position where VW's CCB expects the probability given the slots above (exact
        for loggers that choose positions independently, an approximation otherwise).
        """
        clip = check_weight_clip(clip, f"{type(self).__name__}.learn_off_policy")
        super().update(obs, decision, feedback)  # checks the inputs
        logged = np.maximum(decision.position_probability, 1.0 / clip)
        self._learn_logged(obs, decision, feedback, logged)

    def _learn_logged(
        self,
        obs: SlateObservation,
        decision: SlateDecision,
        feedback: SlateFeedback,
        logged: NDArray[np.float64],
    ) -> None:
        """Learn every request of the batch with ``logged`` slot probabilities, from the
        examples ``act`` kept for this decision when there are any, else parsed afresh; the
        observation's lines are then let go (learning is the last use of a batch)."""
        costs = -feedback.rewards
        kept = self._kept.pop(decision, None)
        if kept is not None and kept.obs is obs:
            last_slots = slot_labels(decision.slates[:, 0], costs[:, 0], logged[:, 0])
            kept.release.detach()  # learn finishes the examples, even if VW fails
            kept.examples.learn(last_slots)
        else:
            if kept is not None:
                kept.release()  # acted on other requests: finish those examples unlearned
            slots = learn_slots_of_batch(decision.slates, costs, logged)
            learn_requests(self.workspace_, self._request_parts(obs), slots)
        self._requests.pop(obs, None)

    # --- persistence ---

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the workspace and the caches; the model goes as VW's bytes."""
        state = {key: value for key, value in self.__dict__.items() if key not in CACHES}
        state["model_"] = model_bytes(self.workspace_)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        model = state.pop("model_")
        self.__dict__.update(state)
        self.workspace_ = workspace_from_bytes(model, self.command_line())
        self._init_caches()

    def save(self, path: str | os.PathLike[str], *, replace: bool = False) -> Path:
        """Write the policy to ``path``: its parameters, the state of its ``rng`` and VW's
        model; :meth:`load` continues from there (same next choices, learning goes on).

        The file is a header line, one line of JSON, then VW's model bytes; it is written
        atomically and never replaces an existing file unless ``replace``.
        """
        header = {
            "policy": self.spec_name,
            "params": {**self.get_params(), "interactions": list(self.interactions)},
            "random_seed": self.random_seed_,
            "rng": self.rng.bit_generator.state if self.rng is not None else None,
        }
        with atomic_path(path, replace=replace) as temporary:
            temporary.write_bytes(
                FILE_MAGIC + json.dumps(header).encode() + b"\n" + model_bytes(self.workspace_)
            )
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> VowpalWabbit:
        """The policy saved at ``path`` by :meth:`save`, ready to act and learn on."""
        file = check_regular_file(path, "VW policy file")
        data = file.read_bytes()
        header_line, _, rest = data[len(FILE_MAGIC) :].partition(b"\n")
        if not data.startswith(FILE_MAGIC) or not rest:
            raise InputValueError(
                f"{file} is not a VW policy file written by VowpalWabbit.save (it does not "
                f"start with {FILE_MAGIC!r} followed by a header and a model)."
            )
        try:
            header = json.loads(header_line)
            params, state = header["params"], header["rng"]
            kind = header.get("policy", VowpalWabbit.spec_name)
            rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
            rng.bit_generator.state = state
            seed = check_integer(header["random_seed"], "random_seed", f"the header of {file}")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputValueError(f"{file} has a damaged header: {shown(error)}.") from None
        if kind != cls.spec_name:
            raise InputValueError(
                f"{file} holds a {shown(kind)} policy; load it with the class registered as "
                f"that, not {cls.__name__} ({cls.spec_name!r})."
            )
        policy = cls(**params, rng=rng)  # checks the parameters, then takes the saved state
        rng.bit_generator.state = state
        policy.random_seed_ = seed
        policy.workspace_ = workspace_from_bytes(rest, policy.command_line())
        return policy


def _check_interactions(interactions: object, owner: str) -> tuple[str, ...]:
    """A list of namespace-letter strings such as ``["ui", "ud"]``, returned as a tuple."""
    letters = "".join(NAMESPACES)
    if isinstance(interactions, str) or not isinstance(interactions, Sequence):
        raise InputTypeError(
            f"The 'interactions' parameter of {owner} must be a list of strings such as "
            f'["ui"]; got {shown(interactions)} of type {type(interactions).__name__}.'
        )
    for interaction in interactions:
        if (
            not isinstance(interaction, str)
            or len(interaction) < 2
            or any(char not in letters for char in interaction)
        ):
            raise InputValueError(
                f"The 'interactions' parameter of {owner} must hold strings of two or more of "
                f"the namespace letters {letters!r} "
                f"({', '.join(f'{k}: {v}' for k, v in NAMESPACES.items())}); got "
                f"{shown(interaction)}."
            )
    return tuple(interactions)
