"""DM, DR, SNDR, Switch-DR, DRos and clipping: hand-computed cases, specs, cross-fitting,
reward models, support diagnostics."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from factories import explicit_observation, random_log
from ope_problems import SignTarget, logged
from scipy import stats

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.logged import LoggedBandit
from bandits.observation import SlateObservation
from bandits.ope import (
    DM,
    DR,
    ESTIMATORS,
    IPS,
    SNDR,
    CrossFitted,
    DRos,
    RewardModel,
    RidgeRewardModel,
    SklearnRewardModel,
    SwitchDR,
    make_estimator,
)
from bandits.ope.base import UNSUPPORTED_WARNING
from bandits.ope.registry import estimator_parameters
from bandits.ope.reward_models import make_reward_model
from bandits.ope.slope import SLOPE_CONSTANT, slope_select
from bandits.ope.statistics import Moments
from bandits.validation import InputTypeError, InputValueError

# --- a hand-computed log -------------------------------------------------------------------
# Four rows, candidates 0 and 1 in every row, one position, a uniform logger (mu = 0.5) and a
# target with pi(1) = 0.8, pi(0) = 0.2. A fixed model q(0) = 0.3, q(1) = 0.6, so
# DM_i = 0.2 * 0.3 + 0.8 * 0.6 = 0.54 in every row. Logged candidates [1, 0, 1, 1], rewards
# [1, 0, 0, 1]: weights w = [1.6, 0.4, 1.6, 1.6], residuals r - q = [0.4, -0.3, -0.6, 0.4].
Q = np.array([0.3, 0.6])
W = np.array([1.6, 0.4, 1.6, 1.6])
RESIDUAL = np.array([0.4, -0.3, -0.6, 0.4])


class FixedModel(RewardModel):
    """``q(candidate) = Q[candidate]`` at every position, whatever it learns."""

    def __init__(self) -> None:
        self.learned = 0

    def learn(self, log):
        self.learned += len(log)

    def predict(self, obs):
        return np.broadcast_to(Q[None, :, None], (obs.n_requests, 2, obs.slate_size)).copy()

    def fresh(self):
        return FixedModel()


class FixedTarget:
    """pi(candidate 1) = 0.8 at the single position."""

    name = "fixed"
    probabilities = np.array([0.2, 0.8])

    def act(self, obs, *, with_marginals=False):
        raise NotImplementedError  # never asked to act

    def update(self, obs, decision, feedback):
        """Does not learn."""

    def slate_probability(self, obs, slates):
        return self.probabilities[slates[:, 0]]

    def position_probability(self, obs, slates):
        return self.slate_probability(obs, slates)[:, None]

    def candidate_position_probability(self, obs):
        return np.broadcast_to(self.probabilities[None, :, None], (obs.n_requests, 2, 1)).copy()


def hand_log(logger_marginals=None):
    obs = explicit_observation(np.zeros((4, 1)), np.broadcast_to(np.eye(2), (4, 2, 2)))
    slates = np.array([[1], [0], [1], [1]])
    decision = SlateDecision(slates, np.full(4, 0.5), np.full((4, 1), 0.5), logger_marginals)
    rewards = np.array([[1.0], [0.0], [0.0], [1.0]])
    return LoggedBandit(obs, decision, SlateFeedback(rewards), "uniform")


def check(estimate, terms):
    terms = np.asarray(terms, dtype=float)
    assert estimate.value == pytest.approx(terms.mean(), rel=1e-12)
    assert estimate.stderr == pytest.approx(terms.std(ddof=1) / 2, rel=1e-12, abs=1e-15)
    assert estimate.n == 4


def test_dm_on_the_hand_log():
    check(DM(model=FixedModel()).estimate(hand_log(), FixedTarget()), [0.54] * 4)


def test_dr_on_the_hand_log():
    check(DR(model=FixedModel()).estimate(hand_log(), FixedTarget()), 0.54 + W * RESIDUAL)
    # [1.18, 0.42, -0.42, 1.18]: mean 0.59
    assert DR(model=FixedModel()).estimate(hand_log(), FixedTarget()).value == pytest.approx(0.59)


def test_clipping_on_the_hand_log():
    clipped = np.array([1.0, 0.4, 1.0, 1.0])
    check(DR(model=FixedModel(), clip=1).estimate(hand_log(), FixedTarget()),
          0.54 + clipped * RESIDUAL)  # fmt: skip
    check(IPS(clip=1).estimate(hand_log(), FixedTarget()), clipped * [1, 0, 0, 1])
    check(IPS(clip=1).estimate(hand_log(), W / 2), clipped * [1, 0, 0, 1])  # probabilities


def test_sndr_on_the_hand_log():
    estimate = SNDR(model=FixedModel()).estimate(hand_log(), FixedTarget())
    # 0.54 + sum(w (r - q)) / sum(w) = 0.54 + 0.2 / 5.2
    assert estimate.value == pytest.approx(0.54 + 0.2 / 5.2, rel=1e-12)
    influence = 0.54 + W * (RESIDUAL - 0.2 / 5.2) / W.mean()  # delta-method terms
    assert estimate.stderr == pytest.approx(influence.std(ddof=1) / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("threshold", "adjusted"),
    [(1.0, [0, 0.4, 0, 0]), (2.0, W), (0.0, [0, 0, 0, 0]), (np.inf, W), (0.4, [0, 0.4, 0, 0])],
)
def test_switch_dr_on_the_hand_log(threshold, adjusted):
    estimate = SwitchDR(model=FixedModel(), threshold=threshold).estimate(hand_log(), FixedTarget())
    check(estimate, 0.54 + np.asarray(adjusted) * RESIDUAL)
    assert estimate.tuning == ""


@pytest.mark.parametrize("shrinkage", [1.0, 4.0, 0.0, np.inf])
def test_dros_on_the_hand_log(shrinkage):
    shrunk = {1.0: W / (W**2 + 1), 4.0: 4 * W / (W**2 + 4), 0.0: 0 * W, np.inf: W}[shrinkage]
    estimate = DRos(model=FixedModel(), shrinkage=shrinkage).estimate(hand_log(), FixedTarget())
    check(estimate, 0.54 + shrunk * RESIDUAL)
    # w = 1.6, lambda = 1: 1.6 / 3.56
    assert (W / (W**2 + 1))[0] == pytest.approx(1.6 / 3.56)


def test_slope_chooses_the_last_candidate_that_agrees_with_the_wider_ones():
    values, widths = np.array([1.0, 1.05, 2.0]), np.array([0.5, 0.2, 0.05])
    # 1 agrees with 0: |1.05 - 1| <= 0.2 + C 0.5; 2 does not: 1 > 0.05 + C 0.5 (C = 1.449)
    assert slope_select(values, widths) == 1
    assert slope_select(np.array([1.0, 1.05, 1.3]), widths) == 2  # 0.3 <= 0.05 + 0.72
    assert slope_select(np.array([5.0]), np.array([1.0])) == 0
    assert SLOPE_CONSTANT == pytest.approx(np.sqrt(6) - 1)


def test_auto_threshold_reports_slope_choice_and_equals_that_fixed_threshold():
    log = logged(np.random.default_rng(3), 2000)
    tuned = SwitchDR().estimate(log, SignTarget())
    chosen = float(tuned.tuning.split("=")[1].split(" ")[0])
    assert tuned.tuning.endswith("(SLOPE)") and chosen in SwitchDR.grid
    fixed = SwitchDR(threshold=chosen).estimate(log, SignTarget())
    assert tuned.value == pytest.approx(fixed.value, rel=1e-12)
    assert tuned.stderr == pytest.approx(fixed.stderr, rel=1e-12)
    shrunk = DRos().estimate(log, SignTarget())
    chosen = float(shrunk.tuning.split("=")[1].split(" ")[0])
    assert shrunk.value == pytest.approx(DRos(shrinkage=chosen).estimate(log, SignTarget()).value)


def test_slope_moves_away_from_the_model_when_the_model_is_badly_wrong():
    """A model that predicts 5 where rewards are near 0.4: DM (threshold 0) is far off, and
    SLOPE must not choose it."""

    class Wrong(FixedModel):
        def predict(self, obs):
            return np.full((obs.n_requests, obs.max_candidates, obs.slate_size), 5.0)

        def fresh(self):
            return Wrong()

    log = logged(np.random.default_rng(4), 3000)
    estimate = SwitchDR(model=Wrong()).estimate(log, SignTarget())
    assert "threshold=0 " not in estimate.tuning
    assert abs(estimate.value - 0.33) < 0.1


def test_unsupported_mass_needs_the_loggers_marginals_and_is_the_targets_mass_there():
    # the logger shows candidate 0 only in rows 0 and 1 (marginal 0 for candidate 1 there):
    # the target's 0.8 on candidate 1 is unsupported in half the rows -> 0.4
    marginals = np.zeros((4, 2, 1))
    marginals[:2, 0, 0] = 1.0
    marginals[2:, :, 0] = 0.5
    slates = np.array([[0], [0], [1], [1]])
    obs = explicit_observation(np.zeros((4, 1)), np.broadcast_to(np.eye(2), (4, 2, 2)))
    probability = np.array([1.0, 1.0, 0.5, 0.5])
    decision = SlateDecision(slates, probability, probability[:, None], marginals)
    log = LoggedBandit(obs, decision, SlateFeedback(np.ones((4, 1))), "logger")
    estimate = DR(model=FixedModel()).estimate(log, FixedTarget())
    assert estimate.unsupported_mass == pytest.approx(0.4)
    assert any("never shows" in warning for warning in estimate.warnings)
    assert np.isnan(DR(model=FixedModel()).estimate(hand_log(), FixedTarget()).unsupported_mass)
    full = np.full((4, 2, 1), 0.5)
    supported = DR(model=FixedModel()).estimate(hand_log(full), FixedTarget())
    assert supported.unsupported_mass == 0.0
    assert not any("never shows" in warning for warning in supported.warnings)


# --- cross-fitting and reward models -------------------------------------------------------


class Memorising(RewardModel):
    """Predicts 1 for a request it learned and 0 otherwise."""

    def __init__(self):
        self.seen = set()

    def learn(self, log):
        self.seen.update(log.observation.request_ids.tolist())

    def predict(self, obs):
        seen = np.isin(obs.request_ids, list(self.seen)).astype(float)
        return np.broadcast_to(seen[:, None, None], (obs.n_requests, obs.max_candidates,
                                                     obs.slate_size)).copy()  # fmt: skip

    def fresh(self):
        return Memorising()


@pytest.mark.parametrize("folds", [2, 5])
def test_cross_fitting_never_predicts_a_row_with_a_model_that_learned_it(folds):
    log = logged(np.random.default_rng(0), 500)
    crossfit = CrossFitted(Memorising(), folds=folds, salt=7)
    for start in range(0, 500, 128):
        crossfit.learn(log.take(np.arange(start, min(start + 128, 500))))
    crossfit.finish()
    assert (crossfit.predict(log) == 0).all()
    # each model learned every row outside its fold, so a new request is seen by all of them
    fold = crossfit.fold_of(log)
    for k, model in enumerate(crossfit.models):
        assert model.seen == set(np.flatnonzero(fold != k).tolist())
    counts = np.bincount(fold, minlength=folds)
    assert counts.min() > 500 / folds - 4 * np.sqrt(500 / folds)  # a balanced seeded split


class Recording:
    """A regressor that keeps the rows it was fitted on (and predicts 0)."""

    def fit(self, x, y):
        self.x_, self.y_ = x.copy(), y.copy()
        return self

    def predict(self, x):
        return np.zeros(len(x))


@pytest.mark.parametrize("slate_size", [1, 3])
@pytest.mark.parametrize("folds", [2, 5])
def test_cross_fitted_sklearn_models_keep_the_rows_once_and_fit_each_fold_as_a_copy_would(
    folds, slate_size
):
    """One store keeps every row with its fold (not K - 1 copies); fold k's fit gets the rows
    outside fold k in the order a copy learning only them gets them, also when the rows were
    learned in two parts and merged. With slates of 3 each request keeps a row per position,
    all of its fold."""
    rng = np.random.default_rng(0)
    log = logged(rng, 500) if slate_size == 1 else random_log(rng, n_requests=500, slate_size=3)
    whole = CrossFitted(SklearnRewardModel(Recording()), folds=folds, salt=7)
    first = CrossFitted(SklearnRewardModel(Recording()), folds=folds, salt=7)
    second = CrossFitted(SklearnRewardModel(Recording()), folds=folds, salt=7)
    for start in range(0, 500, 128):
        batch = log.take(np.arange(start, min(start + 128, 500)))
        whole.learn(batch)
        (first if start < 256 else second).learn(batch)
    kept = sum(len(targets) for targets in whole.shared._targets)
    assert kept == 500 * log.slate_size
    assert not any(model._targets for model in whole.models)
    first.merge(second)
    fold = whole.fold_of(log)
    for crossfit in (whole, first):
        crossfit.finish()
        for k, model in enumerate(crossfit.models):
            alone = SklearnRewardModel(Recording())
            alone.learn(log.take(np.flatnonzero(fold != k)))
            alone.finish()
            np.testing.assert_array_equal(model.fitted_.x_, alone.fitted_.x_)
            np.testing.assert_array_equal(model.fitted_.y_, alone.fitted_.y_)


def test_folds_follow_the_request_not_the_batch_and_the_salt_changes_them():
    log = logged(np.random.default_rng(1), 300)
    a = CrossFitted(Memorising(), folds=5, salt=1)
    whole = a.fold_of(log)
    parts = np.concatenate([a.fold_of(log.take(np.arange(s, s + 100))) for s in (0, 100, 200)])
    np.testing.assert_array_equal(whole, parts)
    assert (CrossFitted(Memorising(), folds=5, salt=2).fold_of(log) != whole).any()


def test_a_requests_rows_at_other_times_fall_in_other_folds():
    """The fold is keyed by request id and time: where request ids restart at every step,
    request 0's rows at 15 times spread over the folds; the rows of one request at one time
    stay together (a cluster)."""
    log = logged(np.random.default_rng(1), 300)
    values = log.observation.to_mapping()
    values["request_ids"], values["times"] = np.arange(300) % 10, np.arange(300) // 20
    obs = SlateObservation.from_mapping(values)
    stepped = LoggedBandit(obs, log.decision, log.feedback, log.policy_names)
    fold = CrossFitted(Memorising(), folds=3, salt=1).fold_of(stepped)
    for request in range(10):
        mine = fold[obs.request_ids == request]
        assert len(set(mine.tolist())) > 1, (request, mine)
    keys = obs.request_ids * 1000 + obs.times
    for key in np.unique(keys):
        assert len(set(fold[keys == key].tolist())) == 1


def test_ridge_reward_model_learns_position_effects():
    """Rewards 1.0 at position 0 and 0.2 at position 1 whatever the item: the per-position
    model predicts them; the pooled one cannot tell positions apart (about their average)."""
    rng = np.random.default_rng(2)
    n = 400
    obs = explicit_observation(rng.normal(size=(n, 2)), np.broadcast_to(np.eye(3), (n, 3, 3)),
                               slate_size=2)  # fmt: skip
    slates = np.array([rng.permutation(3)[:2] for _ in range(n)])
    decision = SlateDecision(slates, np.full(n, 1 / 6), np.full((n, 2), 1 / 3))
    log = LoggedBandit(obs, decision, SlateFeedback(np.tile([1.0, 0.2], (n, 1))), "uniform")
    model = RidgeRewardModel(ridge=1e-6)
    model.learn(log)
    np.testing.assert_allclose(model.predict(obs)[:, :, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(model.predict(obs)[:, :, 1], 0.2, atol=1e-6)
    pooled = RidgeRewardModel(ridge=1e-6, per_position=False)
    pooled.learn(log)
    predicted = pooled.predict(obs)
    np.testing.assert_array_equal(predicted[:, :, 0], predicted[:, :, 1])  # no position effect
    assert predicted.mean() == pytest.approx(0.6, abs=0.05)


class MeanRegressor:
    """A duck-typed regressor: predicts the training mean of y per one-hot candidate."""

    def fit(self, x, y):
        self.means_ = np.array([y[x[:, 2 + j] == 1].mean() for j in range(4)])
        return self

    def predict(self, x):
        return x[:, 2:6] @ self.means_


def test_a_duck_typed_regressor_is_a_reward_model_over_context_item_and_position():
    log = logged(np.random.default_rng(5), 2000)
    model = SklearnRewardModel(MeanRegressor())
    model.learn(log)
    model.finish()
    predicted = model.predict(log.observation)
    assert predicted.shape == (2000, 4, 1)
    # the per-candidate mean reward, the same in every row
    rewards, actions = log.slate_rewards, log.slates[:, 0]
    for j in range(4):
        np.testing.assert_allclose(predicted[:, j, 0], rewards[actions == j].mean())
    estimate = DR(model=MeanRegressor()).estimate(log, SignTarget())
    assert abs(estimate.value - 0.331) < 4 * estimate.stderr


def test_a_classifier_predicts_the_expected_reward_from_its_classes():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(6)
    base = logged(rng, 3000)
    clicks = (rng.random(3000) < np.where(base.slates[:, 0] == 3, 0.9, 0.2)).astype(float)
    log = LoggedBandit(base.observation, base.decision, SlateFeedback(clicks[:, None]), "l")
    model = SklearnRewardModel(LogisticRegression())
    model.learn(log)
    model.finish()
    predicted = model.predict(log.observation)[:, :, 0].mean(axis=0)
    assert predicted[3] == pytest.approx(0.9, abs=0.05)
    assert predicted[0] == pytest.approx(0.2, abs=0.05)
    estimate = make_estimator("dr:model=logistic").estimate(log, SignTarget())
    assert 0 < estimate.value < 1


def test_the_named_gbm_model_fits_the_same_every_time_above_ten_thousand_rows():
    """Past 10,000 training rows scikit-learn's gradient boosting stops early on validation
    rows drawn at random: the named model draws them from a fixed seed."""
    pytest.importorskip("sklearn")
    log = logged(np.random.default_rng(8), 12_000)
    fits = []
    for _ in range(2):
        model = make_reward_model("gbm", ridge=1.0, owner="test")
        model.learn(log)
        model.finish()
        fits.append(model.predict(log.observation.take(slice(0, 200))))
    np.testing.assert_array_equal(fits[0], fits[1])


def test_named_sklearn_models_need_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(InputValueError, match=r"needs scikit-learn: pip install .*\[sklearn\]"):
        make_estimator("dr:model=gbm")


def test_a_reward_model_must_fit_and_predict():
    with pytest.raises(InputTypeError, match="must be a RewardModel or have fit"):
        DR(model=object())
    with pytest.raises(InputValueError, match="'model' parameter of DR must be one of"):
        DR(model="rige")


# --- specs, errors, contracts --------------------------------------------------------------


def test_specs_set_hyperparameters_and_name_the_estimate():
    estimator = make_estimator("switch-dr:threshold=50", confidence=0.9)
    assert isinstance(estimator, SwitchDR) and estimator.candidates == (50.0,)
    assert estimator.label == "switch-dr:threshold=50" and estimator.confidence == 0.9
    assert make_estimator("dros:shrinkage=auto").tuned
    assert make_estimator("dr:clip=10,folds=3,model=ridge-pooled").folds == 3
    assert make_estimator("ips:clip=inf").clip == np.inf
    assert estimator_parameters(DR) == ["clip", "model", "ridge", "folds"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("switch-dr:treshold=5", r"has no parameter 'treshold'. Did you mean 'threshold'\?"),
        ("switch-dr:threshold=-1", r"'threshold' parameter of SwitchDR must be >= 0"),
        ("switch-dr:threshold=high", r"must be a number >= 0, inf or 'auto'; got 'high'"),
        ("dros:shrinkage=-2", r"'shrinkage' parameter of DRos must be >= 0"),
        ("dr:clip=0", r"'clip' parameter of DR must be > 0"),
        ("ips:clip=-1", r"'clip' parameter of IPS must be > 0"),
        ("dr:folds=1", r"'folds' parameter of DR must be >= 2"),
        ("dm:ridge=0", r"'ridge' parameter of DM must be > 0"),
        ("snips:clip=2", r"Estimator 'snips' has no parameter 'clip'. It takes: none."),
        ("drr", r"Unknown estimator 'drr'. Did you mean 'dr'\?"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises((InputValueError, InputTypeError), match=message):
        make_estimator(spec)


@pytest.mark.parametrize("name", [n for n, c in ESTIMATORS.items() if c.needs_policy])
def test_model_estimators_need_the_target_policy(name):
    with pytest.raises(InputTypeError, match="needs the target policy itself"):
        ESTIMATORS[name]().estimate(hand_log(), np.full(4, 0.5))


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_evaluates_the_logger_itself_near_its_value(name):
    """The logger's value is sum_a mu_a b_a = 0.37 (E x = 0); weights are all 1."""
    log = logged(np.random.default_rng(8), 1000)

    class Logger(SignTarget):
        def _probabilities(self, obs):
            return np.broadcast_to(np.array([0.4, 0.3, 0.2, 0.1]), (obs.n_requests, 4))

    estimate = ESTIMATORS[name]().estimate(log, Logger())
    assert estimate.value == pytest.approx(0.37, abs=4 * estimate.stderr)
    if not ESTIMATORS[name].needs_policy:
        assert estimate.value == pytest.approx(log.slate_rewards.mean(), rel=1e-12)
    assert estimate.ci_low <= estimate.value <= estimate.ci_high
    assert estimate.effective_sample_size == pytest.approx(1000)
    assert estimate.estimator == name


def test_a_one_shot_iterator_is_refused_by_estimators_that_read_twice():
    log = logged(np.random.default_rng(9), 100)
    with pytest.raises(InputTypeError, match="reads the batches twice"):
        DR().estimate_batches(iter([log]), SignTarget())


def test_estimating_without_a_fit_says_how_to_fit():
    with pytest.raises(InputValueError, match="has no fitted reward model"):
        DR().statistics(hand_log(), FixedTarget())


def test_slope_widths_are_one_sided_95_percent_t_intervals():
    """SLOPE's width of candidate j is ``t_{0.95, n-1} stderr_j``: on merged statistics where
    that level and a two-sided 95% one (``t_{0.975}``) choose differently, the estimator
    takes the first's choice."""
    estimator = SwitchDR(model=FixedModel(), threshold="auto")
    m, n = len(estimator.candidates), 40
    rng = np.random.default_rng(11)
    for _ in range(1000):
        means = rng.normal(size=m)
        variances = np.sort(rng.uniform(0.1, 4.0, size=m))[::-1] * n
        stderr = np.sqrt(variances / n)
        one_sided = slope_select(means, stats.t.ppf(0.95, n - 1) * stderr)
        if one_sided != slope_select(means, stats.t.ppf(0.975, n - 1) * stderr):
            break
    else:
        raise AssertionError("no case separates the two levels")
    point = estimator.point(Moments(n, means, np.diag(variances) * (n - 1)))
    assert point.value == means[one_sided]
    assert point.tuning == f"threshold={estimator.candidates[one_sided]:g} (SLOPE)"


@pytest.mark.parametrize(("unsupported_rows", "warned"), [(1, False), (2, True)])
def test_missing_support_warns_above_one_percent_of_the_targets_mass(unsupported_rows, warned):
    """The target puts 0.8 on candidate 1; the logger never shows it in ``unsupported_rows``
    of 100 rows: 0.8% of the mass is unsupported (no warning), then 1.6% (a warning)."""
    n = 100
    marginals = np.full((n, 2, 1), 0.5)
    marginals[:unsupported_rows, 0, 0], marginals[:unsupported_rows, 1, 0] = 1.0, 0.0
    slates = np.zeros((n, 1), dtype=np.int64)
    probability = marginals[np.arange(n), 0, 0]
    obs = explicit_observation(np.zeros((n, 1)), np.broadcast_to(np.eye(2), (n, 2, 2)))
    decision = SlateDecision(slates, probability, probability[:, None], marginals)
    log = LoggedBandit(obs, decision, SlateFeedback(np.ones((n, 1))), "logger")
    estimate = DR(model=FixedModel()).estimate(log, FixedTarget())
    assert estimate.unsupported_mass == pytest.approx(0.8 * unsupported_rows / n)
    assert any("never shows" in warning for warning in estimate.warnings) is warned
    assert UNSUPPORTED_WARNING == 0.01
