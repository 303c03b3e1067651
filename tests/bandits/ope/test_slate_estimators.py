"""Slate estimators (iips, rips, pi and their self-normalised variants): hand-computed logs,
exact expectations by enumerating every slate of tiny problems (unbiased where the docs say,
biased where they say), the pseudo-inverse's closed forms against a numerical pseudo-inverse,
what RIPS needs of the log, and streaming."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from factories import explicit_observation
from slate_problems import (
    TablePolicy,
    additive_rewards,
    all_slates,
    cascade_rewards,
    expectation,
    product_logger,
    random_table,
    slate_value,
    table_log,
    uniform_table,
)
from toy_policies import FixedScores

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.ope import (
    IIPS,
    RIPS,
    SNIIPS,
    SNPI,
    SNRIPS,
    AdaptiveIPS,
    CascadeDR,
    EstimatorInput,
    PseudoInverse,
    SNAdaptiveIPS,
    SNCascadeDR,
)
from bandits.ope.base import target_probabilities
from bandits.ope.pi import pseudo_inverse_weights
from bandits.ope.rips import prefix_probabilities
from bandits.validation import InputTypeError, InputValueError
from policies import EpsilonGreedy, Softmax, UniformRandom

# -- hand-computed ------------------------------------------------------------------------

HAND_TARGET = TablePolicy(
    {(0, 1): 0.4, (0, 2): 0.1, (1, 0): 0.2, (1, 2): 0.1, (2, 0): 0.1, (2, 1): 0.1}
)
"""Marginals: position 0 (0.5, 0.3, 0.2), position 1 (0.3, 0.5, 0.2) for items 0, 1, 2."""


def _hand_log() -> LoggedBandit:
    """Uniform logger over the 6 ordered pairs of 3 candidates (1/6 a slate, 1/3 a position);
    row 0 shows (0, 1) with rewards (1, 0), row 1 shows (2, 0) with rewards (0, 1)."""
    return table_log([[0, 1], [2, 0]], [[1.0, 0.0], [0.0, 1.0]], uniform_table(3, 2), 3)


@pytest.mark.parametrize(
    ("estimator", "terms"),
    [
        # iips: w = 3 pi(s_k at k): row 0 (1.5, 1.5) -> 1.5; row 1 (0.6, 0.9) -> 0.9
        (IIPS(), [1.5, 0.9]),
        # rips: w_1 = 3 pi(s_1 at 1), w_2 = 6 pi(s): row 0 (1.5, 2.4) -> 1.5;
        # row 1 (0.6, 0.6) -> 0.6
        (RIPS(), [1.5, 0.6]),
        # pi, uniform n=3, K=2: w = 2 A + 2 S - 3; row 0 A=1.0, S=0.8+0.8 -> 2.2;
        # row 1 A=0.2+0.3, S=0.4+0.8 -> 0.4; slate rewards 1 and 1
        (PseudoInverse(), [2.2, 0.4]),
    ],
)
def test_plain_estimators_on_a_hand_computed_log(estimator, terms):
    estimate = estimator.estimate(_hand_log(), HAND_TARGET)
    assert estimate.value == pytest.approx(np.mean(terms), rel=1e-12)
    assert estimate.stderr == pytest.approx(np.std(terms, ddof=1) / np.sqrt(2), rel=1e-12)
    assert estimate.n == 2


@pytest.mark.parametrize(
    ("estimator", "value"),
    [
        # per position: (1.5 * 1 + 0.6 * 0) / 2.1 + (1.5 * 0 + 0.9 * 1) / 2.4
        (SNIIPS(), 1.5 / 2.1 + 0.9 / 2.4),
        # (1.5 + 0) / 2.1 + (0 + 0.6) / 3.0
        (SNRIPS(), 1.5 / 2.1 + 0.6 / 3.0),
        # (2.2 + 0.4) / (2.2 + 0.4)
        (SNPI(), 1.0),
    ],
)
def test_self_normalised_estimators_on_a_hand_computed_log(estimator, value):
    assert estimator.estimate(_hand_log(), HAND_TARGET).value == pytest.approx(value, rel=1e-12)


def test_diagnostics_describe_the_estimators_own_weights():
    log = _hand_log()
    assert IIPS().estimate(log, HAND_TARGET).max_weight == pytest.approx(1.5)  # mean(1.5, 1.5)
    assert RIPS().estimate(log, HAND_TARGET).mean_weight == pytest.approx((1.95 + 0.6) / 2)
    assert PseudoInverse().estimate(log, HAND_TARGET).max_weight == pytest.approx(2.2)


def test_product_form_of_the_pseudo_inverse_by_hand():
    """Positions chosen independently, position 0 from items {0, 1} (0.3, 0.7), position 1
    from {2, 3} (0.6, 0.4): row (0, 2) has mu = (0.3, 0.6), slate 0.18 (not uniform).
    A target with pi(0 at 0) = 0.5, pi(2 at 1) = 0.9: w = 0.5/0.3 + 0.9/0.6 - 1."""
    logger = product_logger([[0.3, 0.7], [0.6, 0.4]])
    target = TablePolicy({(0, 2): 0.45, (0, 3): 0.05, (1, 2): 0.45, (1, 3): 0.05})
    log = table_log([[0, 2]], [[1.0, 2.0]], logger, 4)
    weight = 0.5 / 0.3 + 0.9 / 0.6 - 1
    assert PseudoInverse().estimate(log, target).value == pytest.approx(3 * weight, rel=1e-12)


# -- enumeration: exact expectations -------------------------------------------------------


PROBLEMS = {
    # name: (n candidates, logger, slates the target may choose)
    "uniform n=4 K=3": (4, uniform_table(4, 3), all_slates(4, 3)),
    "uniform n=3 K=3 (whole rankings)": (3, uniform_table(3, 3), all_slates(3, 3)),
    "product K=3": (6, product_logger([[0.2, 0.8], [0.5, 0.5], [0.7, 0.3]]), None),
}


@pytest.mark.parametrize("problem", list(PROBLEMS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unbiased_by_enumeration_where_the_assumption_holds(problem, seed):
    n, logger, support = PROBLEMS[problem]
    rng = np.random.default_rng(seed)
    target = random_table(rng, support or list(logger.table))
    phi = rng.uniform(0.05, 0.9, size=(n, logger.size))
    additive, cascade = (lambda s: additive_rewards(phi, s)), (lambda s: cascade_rewards(phi, s))
    # iips and pi assume a reward additive over positions; rips a cascade (which includes it)
    for estimator, reward in (
        (IIPS(), additive),
        (PseudoInverse(), additive),
        (RIPS(), additive),
        (RIPS(), cascade),
    ):
        expected, _ = expectation(estimator, logger, target, n, reward)
        assert expected == pytest.approx(slate_value(target, reward), rel=1e-10), (estimator.name,)


@pytest.mark.parametrize("problem", ["uniform n=4 K=3", "product K=3"])
def test_iips_and_pi_are_biased_under_a_cascade(problem):
    n, logger, support = PROBLEMS[problem]
    rng = np.random.default_rng(2)
    target = random_table(rng, support or list(logger.table), concentration=0.1)
    phi = rng.uniform(0.3, 0.9, size=(n, logger.size))

    def reward(s):
        return cascade_rewards(phi, s)

    truth = slate_value(target, reward)
    for estimator in (IIPS(), PseudoInverse()):
        expected, _ = expectation(estimator, logger, target, n, reward)
        assert abs(expected - truth) > 1e-3, (estimator.name, expected, truth)
    assert expectation(RIPS(), logger, target, n, reward)[0] == pytest.approx(truth, rel=1e-10)


def test_pi_product_form_is_biased_for_a_logger_that_is_neither_uniform_nor_product():
    """The documented approximation: a non-uniform logger over all ordered slates."""
    rng = np.random.default_rng(3)
    logger = random_table(rng, all_slates(4, 2))
    target = random_table(rng, all_slates(4, 2))
    phi = rng.uniform(0.05, 0.9, size=(4, 2))

    def reward(s):
        return additive_rewards(phi, s)

    expected, _ = expectation(PseudoInverse(), logger, target, 4, reward)
    assert abs(expected - slate_value(target, reward)) > 1e-3
    # IIPS needs no joint probabilities: still exact under the additive reward
    assert expectation(IIPS(), logger, target, 4, reward)[0] == pytest.approx(
        slate_value(target, reward), rel=1e-10
    )


@pytest.mark.parametrize(("n", "size"), [(3, 2), (4, 2), (4, 3), (5, 3), (3, 3), (4, 4), (4, 1)])
def test_uniform_closed_form_equals_the_numerical_pseudo_inverse(n, size):
    slates = all_slates(n, size)

    def indicator(slate):
        vector = np.zeros((n, size))
        vector[list(slate), np.arange(size)] = 1.0
        return vector.ravel()

    gamma = sum(np.outer(indicator(s), indicator(s)) for s in slates) / len(slates)
    target = random_table(np.random.default_rng(n * 10 + size), slates)
    log = table_log(slates, np.zeros((len(slates), size)), uniform_table(n, size), n)
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    q = target.candidate_position_probability(log.observation)[0].ravel()
    numerical = [q @ np.linalg.pinv(gamma) @ indicator(s) for s in slates]
    np.testing.assert_allclose(pseudo_inverse_weights(data), numerical, atol=1e-10)


# -- what rips needs of the log --------------------------------------------------------------


def test_rips_refuses_a_logger_whose_prefixes_it_cannot_derive_and_takes_the_policy():
    rng = np.random.default_rng(5)
    logger = random_table(rng, all_slates(4, 3))
    target = random_table(rng, all_slates(4, 3))
    phi = rng.uniform(0.05, 0.9, size=(4, 3))

    def reward(s):
        return cascade_rewards(phi, s)

    with pytest.raises(
        InputValueError, match=r"row 0 is neither uniform .*RIPS\(logging_policy=...\)"
    ):
        expectation(RIPS(), logger, target, 4, reward)
    expected, _ = expectation(RIPS(logging_policy=logger), logger, target, 4, reward)
    assert expected == pytest.approx(slate_value(target, reward), rel=1e-10)
    with pytest.raises(InputTypeError, match="'logging_policy' parameter of RIPS must be a Policy"):
        RIPS(logging_policy="uniform")


def test_slate_estimators_need_the_target_policy():
    for estimator in (IIPS(), RIPS(), PseudoInverse(), SNPI()):
        with pytest.raises(InputTypeError, match="needs the target policy"):
            estimator.estimate(_hand_log(), np.full(2, 0.5))


@pytest.mark.parametrize(
    "make",
    [
        lambda: UniformRandom(rng=np.random.default_rng(0)),
        lambda: EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(0)),
        lambda: Softmax(temperature=0.5, rng=np.random.default_rng(0)),
    ],
)
def test_policies_prefix_probabilities_are_sums_over_the_slates_that_extend_them(make):
    """What RIPS asks of a target: the k-item slate's probability on the same requests equals
    the sum of the full slates' probabilities that start with it (checked on 5 candidates)."""
    policy = make()
    slates = all_slates(5, 3)
    rows = len(slates)
    rng = np.random.default_rng(1)
    items = rng.normal(size=(5, 3))
    obs = explicit_observation(np.ones((rows, 2)), np.broadcast_to(items, (rows, 5, 3)),
                               slate_size=3)  # fmt: skip
    full = policy.slate_probability(obs, np.array(slates))
    log = table_log(slates, np.zeros((rows, 3)), uniform_table(5, 3), 5)
    log = LoggedBandit(obs, log.decision, log.feedback, "uniform")
    prefixes = prefix_probabilities(policy, log)
    for k in (1, 2):
        for row, slate in enumerate(slates):
            extending = [i for i, s in enumerate(slates) if s[:k] == slate[:k]]
            assert prefixes[row, k - 1] == pytest.approx(full[extending].sum(), rel=1e-9)
    np.testing.assert_allclose(prefixes[:, 2], full, rtol=1e-12)


# -- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        IIPS,
        SNIIPS,
        RIPS,
        SNRIPS,
        PseudoInverse,
        SNPI,
        CascadeDR,
        SNCascadeDR,
        AdaptiveIPS,
        SNAdaptiveIPS,
    ],
)
def test_streamed_equals_in_memory_on_a_logged_run_with_marginals(estimator):
    """A uniform logger's own decisions (slate size 3, marginals logged) against an
    epsilon-greedy target, in 7 uneven batches."""
    rng = np.random.default_rng(2)
    rows, n = 200, 6
    items = rng.normal(size=(n, 3))
    obs = explicit_observation(rng.normal(size=(rows, 2)), np.broadcast_to(items, (rows, n, 3)),
                               slate_size=3)  # fmt: skip
    decision = UniformRandom(rng=np.random.default_rng(3)).act(obs, with_marginals=True)
    rewards = rng.integers(0, 2, size=(rows, 3)).astype(float)
    log = LoggedBandit(obs, decision, SlateFeedback(rewards), "uniform")
    target = EpsilonGreedy(epsilon=0.4, rng=np.random.default_rng(4))
    whole = estimator().estimate(log, target)
    cuts = [0, 13, 50, 51, 90, 150, 170, rows]
    batches = [log.take(np.arange(a, b)) for a, b in itertools.pairwise(cuts)]
    streamed = estimator().estimate_batches(batches, target)
    for field in ("value", "stderr", "ci_low", "ci_high", "effective_sample_size",
                  "max_weight", "mean_weight", "unsupported_mass"):  # fmt: skip
        assert getattr(streamed, field) == pytest.approx(getattr(whole, field), rel=1e-12)
    assert np.isfinite(whole.value) and whole.unsupported_mass == 0.0


@pytest.mark.parametrize("cls", [SNIIPS, SNRIPS])
def test_self_normalised_positionwise_stderr_is_that_of_the_influence_values(cls):
    """The delta-method standard error: per position, the influence of row i is
    w_ik (r_ik - V_k) / mean_i w_ik; summed over positions, its sample spread / sqrt(n)."""
    log, estimator = _hand_log(), cls()
    data = EstimatorInput(log, target_probabilities(HAND_TARGET, log), HAND_TARGET)
    w, r = estimator.position_weights(data), log.rewards
    mean_weight = w.mean(axis=0)
    values = (w * r).mean(axis=0) / mean_weight
    influence = (w * (r - values) / mean_weight).sum(axis=1)
    expected = np.std(influence, ddof=1) / np.sqrt(len(log))
    assert estimator.estimate(log, HAND_TARGET).stderr == pytest.approx(expected, rel=1e-12)


# -- the pseudo-inverse's exact Gamma from the logging policy -------------------------------


def test_exact_gamma_equals_the_numerical_pseudo_inverse_for_any_logger():
    rng = np.random.default_rng(8)
    slates = all_slates(4, 2)
    logger, target = random_table(rng, slates), random_table(rng, slates)
    log = table_log(slates, np.zeros((len(slates), 2)), logger, 4)
    gamma = np.zeros((8, 8))
    for slate, p in logger.table.items():
        vector = np.zeros((4, 2))
        vector[list(slate), [0, 1]] = 1.0
        gamma += p * np.outer(vector.ravel(), vector.ravel())
    q = target.candidate_position_probability(log.observation)[0].ravel()
    numerical = []
    for slate in slates:
        vector = np.zeros((4, 2))
        vector[list(slate), [0, 1]] = 1.0
        numerical.append(q @ np.linalg.pinv(gamma) @ vector.ravel())
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    np.testing.assert_allclose(pseudo_inverse_weights(data, logger), numerical, atol=1e-9)


def test_pi_with_the_logging_policy_is_unbiased_where_the_product_form_is_not():
    rng = np.random.default_rng(3)
    logger = random_table(rng, all_slates(4, 2))
    target = random_table(rng, all_slates(4, 2))
    phi = rng.uniform(0.05, 0.9, size=(4, 2))

    def reward(s):
        return additive_rewards(phi, s)

    truth = slate_value(target, reward)
    assert abs(expectation(PseudoInverse(), logger, target, 4, reward)[0] - truth) > 1e-3
    exact = PseudoInverse(logging_policy=logger)
    assert expectation(exact, logger, target, 4, reward)[0] == pytest.approx(truth, rel=1e-9)


def test_pi_with_the_logging_policy_agrees_with_the_closed_forms():
    n, logger, _ = PROBLEMS["product K=3"]
    target = random_table(np.random.default_rng(4), list(logger.table))
    _, data = expectation(PseudoInverse(), logger, target, n, lambda s: np.zeros((len(s), 3)))
    np.testing.assert_allclose(
        pseudo_inverse_weights(data, logger), pseudo_inverse_weights(data), atol=1e-9
    )


@pytest.mark.parametrize("size", [2, 3])
def test_pi_is_exact_for_a_plackett_luce_logger_given_as_the_logging_policy(size):
    """A softmax (Plackett-Luce) logger and an epsilon-greedy target on 5 candidates with
    features: the expectation of the PI term over every slate, weighted by the logger's
    probabilities, equals the target's value under position-based rewards."""
    rows_per_slate = all_slates(5, size)
    rows = len(rows_per_slate)
    items = np.random.default_rng(1).normal(size=(5, 3))
    obs = explicit_observation(np.ones((rows, 2)), np.broadcast_to(items, (rows, 5, 3)),
                               slate_size=size)  # fmt: skip
    slates = np.array(rows_per_slate)
    logger = Softmax(
        temperature=1.0,
        rng=np.random.default_rng(0),
        base=FixedScores(item_scores={i: 0.7 * i for i in range(1000)}),
    )
    target = EpsilonGreedy(
        epsilon=0.3,
        rng=np.random.default_rng(0),
        base=FixedScores(item_scores={i: -i for i in range(1000)}),
    )
    phi = np.random.default_rng(2).uniform(0.1, 0.9, size=(5, size))
    rewards = additive_rewards(phi, rows_per_slate)
    decision = SlateDecision(slates, logger.slate_probability(obs, slates),
                             logger.position_probability(obs, slates))  # fmt: skip
    log = LoggedBandit(obs, decision, SlateFeedback(rewards), "softmax")
    data = EstimatorInput(log, target_probabilities(target, log), target)
    mu = log.decision.slate_probability
    truth = float(target_probabilities(target, log) @ rewards.sum(axis=1))
    exact = PseudoInverse(logging_policy=logger).row_terms(data)
    assert float(mu @ exact) == pytest.approx(truth, rel=1e-8)
    approximate = PseudoInverse().row_terms(data)
    assert abs(float(mu @ approximate) - truth) > 1e-4


def test_pi_refuses_a_gamma_too_large_to_enumerate(monkeypatch):
    monkeypatch.setattr("bandits.ope.gamma.MAX_ENUMERATED_SLATES", 5)
    logger = random_table(np.random.default_rng(0), all_slates(3, 2))
    with pytest.raises(InputValueError, match=r"row 0 has 3 candidates and 6 ordered slates"):
        expectation(PseudoInverse(logging_policy=logger), logger, logger, 3,
                    lambda s: np.zeros((len(s), 2)))  # fmt: skip
