"""The one-pass statistics of IPS and SNIPS (bandits.ope.weighted) equal the general path's
(per-row terms, Moments.of) to 1e-12: value, standard error, interval and diagnostics."""

from __future__ import annotations

import numpy as np
import pytest
from factories import random_log
from numpy.typing import NDArray
from slate_problems import all_slates, random_table, sampled_log, uniform_table

import bandits.ope.weighted as weighted
from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope import IPS, SNIPS, Estimator, PseudoInverse
from bandits.ope.base import estimator_input, target_probabilities
from bandits.ope.snpi import SNPI
from bandits.validation import InputValueError


class ContextTarget:
    """A fixed target whose probability of the logged slate is a function of the row's
    context (so it answers the same on any chunk of rows)."""

    name = "context-target"

    def __init__(self, scale: float = 1.0, rare: float = 0.0) -> None:
        self.scale, self.rare = scale, rare

    def slate_probability(self, obs: SlateObservation, slates: NDArray[np.int64]):
        x = obs.context[:, 0]
        heavy = np.abs(x) > 2.0  # a few rows the target likes far more than the logger
        return np.where(heavy, 1.0, self.scale / (1 + np.exp(-x))) * (1 - self.rare)

    def act(self, obs, *, with_marginals=False):  # pragma: no cover - not used
        raise NotImplementedError

    def position_probability(self, obs, slates):  # pragma: no cover - not used
        raise NotImplementedError

    def candidate_position_probability(self, obs):  # pragma: no cover - not used
        raise NotImplementedError

    def update(self, obs, decision, feedback) -> None:
        """Does not learn."""


def _pair(estimator: Estimator, log: LoggedBandit, target) -> tuple:
    fused = estimator.finalize(estimator.statistics(log, target))
    general = estimator.finalize(estimator.row_statistics(estimator_input(log, target)))
    return fused, general


def _assert_same(fused, general) -> None:
    for field in ("value", "stderr", "ci_low", "ci_high", "effective_sample_size"):
        assert getattr(fused, field) == pytest.approx(getattr(general, field), rel=1e-12), field
    assert fused.max_weight == general.max_weight
    assert fused.mean_weight == pytest.approx(general.mean_weight, rel=1e-12)
    assert fused.n == general.n and fused.warnings == general.warnings


@pytest.mark.parametrize("estimator", [IPS(), IPS(clip=3.0), SNIPS()], ids=["ips", "clip", "sn"])
@pytest.mark.parametrize("block", [7, 1 << 16])
def test_one_pass_equals_the_general_path(estimator, block, monkeypatch):
    monkeypatch.setattr(weighted, "BLOCK", block)
    assert estimator.weighted_reward_form() is not None
    for size in (1, 2, 3):
        log = random_log(np.random.default_rng(3), n_requests=500, slate_size=size)
        for target in (ContextTarget(), ContextTarget(rare=0.5)):
            _assert_same(*_pair(estimator, log, target))
            given = target_probabilities(target, log)  # an array: the statistics_of route
            _assert_same(*_pair(estimator, log, given))


def test_policy_chunks_and_cached_weights_give_the_same_statistics(monkeypatch):
    monkeypatch.setattr(weighted, "BLOCK", 11)
    log = random_log(np.random.default_rng(4), n_requests=300)
    target = ContextTarget()
    chunks = [(start, target_probabilities(target, log)[start : start + 40])
              for start in range(0, 300, 40)]  # fmt: skip
    for self_normalised, estimator in ((False, IPS()), (True, SNIPS())):
        whole = estimator.statistics(log, target)
        parts, _ = weighted.weighted_reward_statistics(
            log, chunks, clip=np.inf, self_normalised=self_normalised, weights=None,
            max_weight=1e100,
        )  # fmt: skip
        data = estimator_input(log, target)
        data.weights  # noqa: B018 - cached, as another estimator on the same input would
        cached = estimator.statistics_of(data)
        for other in (parts, cached):
            assert other is not None
            _assert_same(estimator.finalize(other), estimator.finalize(whole))


def test_constant_terms_have_a_zero_standard_error_on_both_paths():
    # the target is the logger and every reward is 1: the terms do not vary, which the raw
    # sums of squares could not tell from rounding (the blocks are then centred)
    log = random_log(np.random.default_rng(5), n_requests=200)
    log = LoggedBandit(
        log.observation, log.decision, SlateFeedback(np.full((200, 2), 0.5)), log.policy_names
    )
    for estimator in (IPS(), SNIPS()):
        fused, general = _pair(estimator, log, log.decision.slate_probability)
        assert fused.stderr == general.stderr == 0.0
        assert fused.value == pytest.approx(1.0, rel=1e-15)


def test_too_large_a_weight_names_its_row_on_both_paths(monkeypatch):
    monkeypatch.setattr(weighted, "BLOCK", 16)
    log = random_log(np.random.default_rng(6), n_requests=100)
    mu = log.decision.slate_probability.copy()
    mu[57] = 1e-310
    decision = SlateDecision(
        log.slates, mu, np.maximum(log.decision.position_probability, mu[:, None])
    )
    bad = LoggedBandit(log.observation, decision, log.feedback, log.policy_names)
    for target in (np.full(100, 0.5), ContextTarget(rare=0.5)):
        messages = set()
        for estimator in (IPS(), SNIPS()):
            for route in (
                lambda e: e.statistics(bad, target),  # noqa: B023 - called in the loop
                lambda e: e.row_statistics(estimator_input(bad, target)),  # noqa: B023
            ):
                with pytest.raises(InputValueError, match="importance weight of row 57 ") as error:
                    route(estimator)
                messages.add(str(error.value))
        assert len(messages) == 1


@pytest.mark.parametrize("estimator", [PseudoInverse(), SNPI()], ids=["pi", "snpi"])
@pytest.mark.parametrize("logged_marginals", [False, True])
def test_pseudo_inverse_weights_in_one_pass_equal_the_general_path(
    estimator, logged_marginals, monkeypatch
):
    monkeypatch.setattr(weighted, "BLOCK", 7)
    rng = np.random.default_rng(7)
    slates = all_slates(4, 2)
    log = sampled_log(rng, uniform_table(4, 2), 4, 200, lambda s: np.full((len(s), 2), 0.3))
    if not logged_marginals:  # then no unsupported mass is reported
        decision = SlateDecision(
            log.slates, log.decision.slate_probability, log.decision.position_probability
        )
        log = LoggedBandit(log.observation, decision, log.feedback, log.policy_names)
    target = random_table(rng, slates, concentration=0.3)
    fused, general = _pair(estimator, log, target)
    _assert_same(fused, general)
    assert np.isnan(fused.unsupported_mass) != logged_marginals
    assert fused.unsupported_mass == pytest.approx(general.unsupported_mass, rel=1e-12, nan_ok=True)


def test_other_intervals_take_the_general_path():
    assert IPS(interval="bootstrap").weighted_reward_form() is None
    assert SNIPS(interval="bootstrap-percentile").weighted_reward_form() is None
    assert IPS(interval="bernstein", reward_range=[0, 2]).weighted_reward_form() is None
    assert PseudoInverse(interval="bernstein", reward_range=[0, 2]).weighted_reward_form() is None


@pytest.mark.parametrize("deterministic_rows", [[], [40], list(range(60))])
def test_deterministic_rows_and_signed_zero_weights_match_the_general_path(
    deterministic_rows, monkeypatch
):
    # rows logged with probability 1 are counted from the blocks' bits (the first found in
    # a later block here); a target probability of -0.0 has its sign bit set, which the
    # bits' maximum must not read as a huge weight
    monkeypatch.setattr(weighted, "BLOCK", 16)
    log = random_log(np.random.default_rng(8), n_requests=60)
    mu = log.decision.slate_probability.copy()
    marginals = log.decision.position_probability.copy()
    mu[deterministic_rows] = 1.0
    marginals[deterministic_rows] = 1.0
    decision = SlateDecision(log.slates, mu, marginals)
    changed = LoggedBandit(log.observation, decision, log.feedback, log.policy_names)
    target = np.full(60, 0.25)
    target[::7] = -0.0
    for estimator in (IPS(), SNIPS()):
        for given in (target, ContextTarget()):
            fused = estimator.statistics(changed, given)
            general = estimator.row_statistics(estimator_input(changed, given))
            assert fused.n_deterministic == general.n_deterministic == len(deterministic_rows)
            assert fused.max_weight == general.max_weight
            _assert_same(estimator.finalize(fused), estimator.finalize(general))


class RowTarget(ContextTarget):
    """A target answering fixed probabilities by request id (the logs here number their
    requests 0, 1, ...)."""

    def __init__(self, values: NDArray[np.float64]) -> None:
        super().__init__()
        self.values = values

    def slate_probability(self, obs: SlateObservation, slates: NDArray[np.int64]):
        return self.values[obs.request_ids]


def _variants(log: LoggedBandit) -> dict[str, LoggedBandit]:
    """The log as validated (largest logged probability and the rewards' signs known) and as
    what skips validation leaves (neither known), and with some negative rewards."""
    decision = SlateDecision.trusted(
        log.observation, log.slates, log.decision.slate_probability,
        log.decision.position_probability,
    )  # fmt: skip
    rewards = log.feedback.rewards.copy()
    rewards[::5, 0] -= 1.5
    return {
        "checked": log,
        "unknown": LoggedBandit(
            log.observation, decision, log.feedback.take(np.arange(len(log))), log.policy_names
        ),
        "negative": LoggedBandit(
            log.observation, log.decision, SlateFeedback(rewards), log.policy_names
        ),
    }


def test_what_validation_found_is_known_where_the_variants_say():
    log = random_log(np.random.default_rng(9), n_requests=100)
    variants = _variants(log)
    assert variants["checked"].decision.probability_bound == log.decision.slate_probability.max()
    assert variants["checked"].feedback.known_nonnegative
    assert np.isnan(variants["unknown"].decision.probability_bound)
    assert variants["unknown"].feedback.known_nonnegative  # kept by a slice
    assert not variants["negative"].feedback.known_nonnegative


@pytest.mark.parametrize("variant", ["checked", "unknown", "negative"])
@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_what_validation_found_changes_no_statistic(variant, scale, monkeypatch):
    # scale 0.5: the weights (half the logged probability over it) prove the target's
    # probabilities in [0, 1] on a checked log, so they are not read again; 3.0: they do not
    monkeypatch.setattr(weighted, "BLOCK", 16)
    log = _variants(random_log(np.random.default_rng(10), n_requests=100))[variant]
    target = RowTarget(np.minimum(scale * log.decision.slate_probability, 1.0))
    for estimator in (IPS(), IPS(clip=1.0), SNIPS()):
        _assert_same(*_pair(estimator, log, target))


@pytest.mark.parametrize("variant", ["checked", "unknown"])
@pytest.mark.parametrize("bad", [1.0 + 2.0**-52, 1.5, np.inf, np.nan, -0.25, -1e-300])
def test_bad_policy_probabilities_name_their_row_in_the_one_pass(variant, bad, monkeypatch):
    # every other block's weights prove its probabilities in [0, 1] on the checked log; the
    # bad one (in the third block) must not pass for proven, even just above 1
    monkeypatch.setattr(weighted, "BLOCK", 16)
    log = _variants(random_log(np.random.default_rng(11), n_requests=100))[variant]
    values = 0.5 * log.decision.slate_probability
    values[37] = bad
    for estimator in (IPS(), SNIPS()):
        with pytest.raises(
            InputValueError, match=r"target probabilities must lie in \[0, 1\]; row 37 is "
        ) as error:
            estimator.statistics(log, RowTarget(values))
        assert str(error.value).endswith(f"is {bad!r}.")


def test_statistics_repeat_exactly_wherever_the_buffers_fall():
    # BLAS dasum sums in an order that depends on where its array starts: the one pass must
    # give the same bits whatever memory its buffers and the weights it is given get (arrays
    # of their size held between calls move them), on either route
    log = random_log(np.random.default_rng(12), n_requests=3000)
    target = ContextTarget()  # weights and terms whose sums round
    held = []
    for estimator in (IPS(), SNIPS()):
        seen: dict[str, set] = {"asked": set(), "given": set()}
        for size in range(3000, 3016):
            data = estimator_input(log, target)
            start = size % 4  # the given (cached) weights 8 bytes further on each time
            weights = np.empty(len(log) + 4)[start : start + len(log)]
            weights[:] = data.weights
            data.__dict__["weights"] = weights
            routes = {"asked": estimator.statistics(log, target),
                      "given": estimator.statistics_of(data)}  # fmt: skip
            for route, statistics in routes.items():
                seen[route].add((statistics.terms.mean.tobytes(),
                                 statistics.terms.comoment.tobytes(),
                                 statistics.weights.mean.tobytes()))  # fmt: skip
            held.append(np.empty(size))
        assert len(seen["asked"]) == len(seen["given"]) == 1
