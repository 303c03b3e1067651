"""Every estimator against a value known in closed form (tests/ope_problems.py), DR's variance
with a perfect model, and the coverage of the normal interval over seeded replications."""

from __future__ import annotations

import numpy as np
import pytest
from ope_problems import OracleModel, SignTarget, logged, true_value

from bandits.ope import DR, ESTIMATORS, IPS

MODEL_LED = ("dm", "switch-dr", "dros")
"""Estimators whose standard error can rest on the model's predictions alone (DM, and Switch
or DRos when SLOPE chooses 0): it counts the spread of the predictions over contexts, not the
model's own estimation error, so their tolerance is the larger of theirs and DR's."""


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimates_land_within_four_standard_errors_of_the_closed_form_value(stat_seed, name):
    log = logged(np.random.default_rng(stat_seed), 40_000)
    rng = np.random.default_rng(stat_seed)
    estimate = ESTIMATORS[name](rng=rng).estimate(log, SignTarget())
    scale = estimate.stderr
    if name in MODEL_LED:
        scale = max(
            scale, DR(rng=np.random.default_rng(stat_seed)).estimate(log, SignTarget()).stderr
        )
    truth = true_value()
    assert abs(estimate.value - truth) <= 4 * scale, (estimate, truth, scale)
    # the check has teeth: the logger's own value (0.37) is far from the target's (0.331)
    assert abs(0.37 - truth) > 4 * scale


def test_dr_with_a_perfect_model_is_unbiased_and_tighter_than_ips(stat_seed):
    log = logged(np.random.default_rng(stat_seed), 4000)
    ips = IPS().estimate(log, SignTarget())
    dr = DR(model=OracleModel()).estimate(log, SignTarget())
    assert abs(dr.value - true_value()) <= 4 * dr.stderr
    # IPS's variance carries the rewards' spread times w^2; DR's only the noise (0.3) times w^2
    assert dr.stderr < 0.8 * ips.stderr, (dr.stderr, ips.stderr)


REPLICATIONS = 400


@pytest.mark.statistical
def test_normal_intervals_of_ips_and_dr_cover_the_value_95_percent_of_the_time():
    """400 seeded logs of 400 rows: the share of 95% intervals holding the closed-form value
    lies in [92.5%, 97.5%] (a binomial standard error of 1.1 points) for IPS and DR (ridge
    model, cross-fitted). About 4 s, so it runs in every CI job."""
    truth = true_value()
    covered = {"ips": 0, "dr": 0}
    streams = np.random.SeedSequence(2024).spawn(REPLICATIONS)
    for stream in streams:
        log = logged(np.random.default_rng(stream), 400)
        for name, estimator in (("ips", IPS()), ("dr", DR())):
            estimate = estimator.estimate(log, SignTarget())
            covered[name] += estimate.ci_low <= truth <= estimate.ci_high
    for name, count in covered.items():
        assert 0.925 <= count / REPLICATIONS <= 0.975, (name, count)
