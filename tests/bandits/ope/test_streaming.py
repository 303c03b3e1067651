"""Estimators as sufficient statistics: batches, files and memory give the same estimates;
the target's whole-slate probability (not a product of positions) is what IPS weighs by."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from factories import random_log, uniform_log
from hypothesis import given, settings
from hypothesis import strategies as st
from toy_policies import FixedScores, MonteCarloEpsilonGreedy

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.logs import write_log
from bandits.ope import DM, DR, ESTIMATORS, IPS, SNDR, SNIPS, DRos, Moments, SwitchDR, evaluate_log
from bandits.run.replay import replay_updates
from policies import EpsilonGreedy, LinUCB


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), cuts=st.lists(st.integers(0, 40)))
def test_merged_moments_equal_the_moments_of_all_rows(seed, n, cuts):
    rows = np.random.default_rng(seed).normal(size=(n, 3)) * [1.0, 1e3, 1e-3] + [0.0, 5e3, 1.0]
    edges = sorted({0, n, *(c for c in cuts if c <= n)})
    merged = Moments.of(rows[:0])
    for start, stop in itertools.pairwise(edges):
        merged = merged.merge(Moments.of(rows[start:stop]))
    whole = Moments.of(rows)
    assert merged.n == n
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(merged.comoment, whole.comoment, rtol=1e-8, atol=1e-8)


def _exact_target():
    return EpsilonGreedy(epsilon=0.4, base=FixedScores(item_scores={i: i for i in range(1000)}),
                         rng=np.random.default_rng(1))  # fmt: skip


def _monte_carlo_target():
    return MonteCarloEpsilonGreedy(epsilon=0.4, probability_draws=200,
                                   rng=np.random.default_rng(1))  # fmt: skip


@pytest.mark.parametrize("make_target", [_exact_target, _monte_carlo_target])
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimates_over_batches_equal_the_in_memory_estimate(name, make_target):
    """Also for a Monte-Carlo target: each request's probability draws are its own, so they
    do not depend on how the log is cut into batches."""
    log = uniform_log(1, 300)
    target = make_target()
    estimator = ESTIMATORS[name]()
    whole = estimator.estimate(log, target)
    batches = [log.take(np.arange(start, min(start + 37, 300))) for start in range(0, 300, 37)]
    streamed = estimator.estimate_batches(batches, target)
    for field in ("value", "stderr", "ci_low", "ci_high", "effective_sample_size",
                  "max_weight", "mean_weight"):  # fmt: skip
        assert getattr(streamed, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    assert streamed.n == whole.n == 300 and streamed.warnings == whole.warnings


def test_evaluating_a_file_equals_evaluating_it_in_memory(tmp_path):
    log = uniform_log(2, 400)
    path = write_log(log, tmp_path / "log.parquet")

    def targets():
        return {
            "eps": EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(3)),
            "linucb": LinUCB(alpha=0.5),
        }

    estimators = [IPS(), SNIPS(), DM(), DR(interval="bootstrap"), SNDR(), SwitchDR(), DRos()]
    for fraction in (0.0, 0.25):
        memory = evaluate_log(log, targets(), estimators, train_fraction=fraction)
        streamed = evaluate_log(path, targets(), estimators, train_fraction=fraction,
                                batch_bytes=20_000)  # fmt: skip
        numeric = ["value", "stderr", "ci_low", "ci_high", "effective_sample_size"]
        np.testing.assert_allclose(streamed[numeric], memory[numeric], rtol=1e-10)
        rows = 2 * len(estimators)
        assert list(streamed["n"]) == list(memory["n"]) == [400 - round(fraction * 400)] * rows
        assert list(streamed["n_train"]) == [round(fraction * 400)] * rows
        assert list(streamed["tuning"]) == list(memory["tuning"])


def test_training_split_replays_the_oldest_rows_then_evaluates_the_rest():
    log = uniform_log(4, 200)
    early, late = log.split(0.5)
    trained = replay_updates(LinUCB(alpha=0.5), early)
    expected = IPS().estimate(late, trained)
    table = evaluate_log(log, {"linucb": LinUCB(alpha=0.5)}, [IPS()], train_fraction=0.5)
    assert table["value"].iloc[0] == pytest.approx(expected.value, rel=1e-12)
    assert table["n"].iloc[0] == 100 and table["n_train"].iloc[0] == 100


def test_ips_weighs_by_the_targets_whole_slate_probability():
    """Three rows, three candidates (items 0, 1, 2 scored 0, 1, 2: greedy slate [2, 1]), a
    uniform logger (1/6 per slate) and an epsilon-greedy target with epsilon 0.3:
    pi(greedy) = 0.7 + 0.3/6 = 0.75, pi(other) = 0.05, while the product of the position
    probabilities would give 0.8 * 0.8 = 0.64 and 0.1 * 0.8 = 0.08 instead."""
    base = random_log(np.random.default_rng(0), n_requests=3, max_candidates=3,
                      min_candidates=3, slate_size=2, signals=False)  # fmt: skip
    ids = base.observation.candidate_ids
    greedy = np.stack([np.argmax(ids, axis=1), np.argsort(ids, axis=1)[:, 1]], axis=1)
    other = np.stack([greedy[:, 1], np.argmin(ids, axis=1)], axis=1)  # second item on top
    slates = np.array([greedy[0], other[1], greedy[2]])
    decision = SlateDecision(slates, np.full(3, 1 / 6), np.full((3, 2), 1 / 3))
    rewards = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    log = LoggedBandit(base.observation, decision, SlateFeedback(rewards), "uniform")
    target = EpsilonGreedy(epsilon=0.3, base=FixedScores(item_scores={i: i for i in range(1000)}),
                           rng=np.random.default_rng(0))  # fmt: skip
    weights = np.array([0.75, 0.05, 0.75]) * 6
    estimate = IPS().estimate(log, target)
    assert estimate.value == pytest.approx(np.mean(weights * rewards.sum(axis=1)), rel=1e-12)
    assert estimate.max_weight == pytest.approx(4.5, rel=1e-12)
