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
