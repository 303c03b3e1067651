"""Cascade DR (cascade-dr, sncascade-dr): a hand-computed log, exact expectations by
enumeration (unbiased under a cascade whatever the model, biased when a position's reward
depends on the item below), sampled logs within four standard errors, and what it asks of
the target."""

from __future__ import annotations

import numpy as np
import pytest
from factories import explicit_observation
from slate_problems import (
    FixedModel,
    TablePolicy,
    additive_rewards,
    all_slates,
    below_rewards,
    cascade_rewards,
    expectation,
    product_logger,
    random_table,
    sampled_log,
    slate_value,
    table_log,
    uniform_table,
)

from bandits.models import interaction_features
from bandits.ope import (
    IPS,
    RIPS,
    CascadeDR,
    EstimatorInput,
    SNCascadeDR,
    cascade_q_regressor,
    evaluate_log,
)
from bandits.ope.cascade_q import BackwardQ
from bandits.ope.cascade_q_regressor import (
    RegressorBackwardQ,
    sample_weight_key,
)
from bandits.ope.extensions import extension_probabilities
from bandits.validation import InputTypeError, InputValueError
from policies import EpsilonGreedy, Softmax

HAND_TARGET = TablePolicy(
    {(0, 1): 0.4, (0, 2): 0.1, (1, 0): 0.2, (1, 2): 0.1, (2, 0): 0.1, (2, 1): 0.1}
)
"""Position 0: items (0.5, 0.3, 0.2); given 0 on top, position 1 is 1 w.p. 0.8, 2 w.p. 0.2;
given 2 on top, 0 or 1 w.p. 0.5 each."""

HAND_Q = [[0.5, 0.2], [0.3, 0.4], [0.1, 0.6]]
"""q[item, position]."""


def _hand_log():
    """Uniform logger over the 6 ordered pairs of 3 (prefix 1/3, slate 1/6); row 0 shows
    (0, 1) with rewards (1, 0), row 1 shows (2, 0) with rewards (0, 1)."""
    return table_log([[0, 1], [2, 0]], [[1.0, 0.0], [0.0, 1.0]], uniform_table(3, 2), 3)


def test_cascade_dr_on_a_hand_computed_log():
    # baseline at the top: 0.5 * 0.5 + 0.3 * 0.3 + 0.2 * 0.1 = 0.36 in both rows
    # row 0: w = (1.5, 2.4); 1.5 (1 - 0.5) + 0.36 + 2.4 (0 - 0.4) + 1.5 (0.8 * 0.4 + 0.2 * 0.6)
    # row 1: w = (0.6, 0.6); 0.6 (0 - 0.1) + 0.36 + 0.6 (1 - 0.2) + 0.6 (0.5 * 0.2 + 0.5 * 0.4)
    terms = [0.75 + 0.36 - 0.96 + 0.66, -0.06 + 0.36 + 0.48 + 0.18]
    estimate = CascadeDR(q="reward", model=FixedModel(HAND_Q)).estimate(_hand_log(), HAND_TARGET)
    assert estimate.value == pytest.approx(np.mean(terms), rel=1e-12)
    assert estimate.stderr == pytest.approx(np.std(terms, ddof=1) / np.sqrt(2), rel=1e-12)
    assert estimate.mean_weight == pytest.approx((1.95 + 0.6) / 2)  # RIPS's weights


def test_self_normalised_cascade_dr_on_a_hand_computed_log():
    # per position: mean(w_k (r_k - q_k)) / mean(w_k) + mean(w_k-1 b_k) / mean(w_k-1)
    top = (0.75 - 0.06) / 2 / 1.05 + 0.36
    second = (-0.96 + 0.48) / 2 / 1.5 + (0.66 + 0.18) / 2 / 1.05
    estimate = SNCascadeDR(q="reward", model=FixedModel(HAND_Q)).estimate(_hand_log(), HAND_TARGET)
    assert estimate.value == pytest.approx(top + second, rel=1e-12)


def test_extension_probabilities_of_the_hand_target():
    log = _hand_log()
    extensions = extension_probabilities(HAND_TARGET, log)
    np.testing.assert_allclose(extensions[:, :, 0], [[0.5, 0.3, 0.2]] * 2, atol=1e-15)
    # row 0: prefix (0,): (0, 1) 0.4, (0, 2) 0.1, item 0 already shown; row 1: prefix (2,)
    np.testing.assert_allclose(extensions[:, :, 1], [[0.0, 0.4, 0.1], [0.1, 0.1, 0.0]])


def test_a_model_that_predicts_every_reward_leaves_only_the_baselines():
    """Rewards exactly ``q`` (no noise): every residual is 0, so each row's term is
    ``b_1 + w_1 b_2``: row 0 0.36 + 1.5 x 0.44, row 1 0.36 + 0.6 x 0.3."""
    q = np.array(HAND_Q)
    rewards = additive_rewards(q, [(0, 1), (2, 0)])
    log = table_log([[0, 1], [2, 0]], rewards, uniform_table(3, 2), 3)
    estimate = CascadeDR(q="reward", model=FixedModel(q)).estimate(log, HAND_TARGET)
    assert estimate.value == pytest.approx(0.36 + (0.66 + 0.18) / 2, rel=1e-12)


LOGGERS = {
    "uniform n=4 K=3": (4, uniform_table(4, 3), None),
    "product K=3": (6, product_logger([[0.2, 0.8], [0.5, 0.5], [0.7, 0.3]]), None),
    "any logger, given": (4, random_table(np.random.default_rng(7), all_slates(4, 3)), "given"),
}


@pytest.mark.parametrize("problem", list(LOGGERS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unbiased_by_enumeration_under_a_cascade_whatever_the_model(problem, seed):
    n, logger, given = LOGGERS[problem]
    rng = np.random.default_rng(seed)
    target = random_table(rng, list(logger.table), concentration=0.3)
    phi = rng.uniform(0.05, 0.9, size=(n, 3))
    wrong = FixedModel(rng.uniform(-1.0, 2.0, size=(n, 3)))
    options = {"logging_policy": logger} if given else {}

    def reward(s):
        return cascade_rewards(phi, s)

    expected, _ = expectation(
        CascadeDR(q="reward", model=wrong, **options), logger, target, n, reward
    )
    assert expected == pytest.approx(slate_value(target, reward), rel=1e-10)


def test_biased_when_a_reward_depends_on_the_item_below():
    """Like RIPS, cascade DR is biased when the cascade fails; slate IPS is not."""
    rng = np.random.default_rng(4)
    logger = uniform_table(4, 3)
    target = random_table(rng, list(logger.table), concentration=0.1)
    phi = rng.uniform(0.3, 0.9, size=(4, 3))

    def reward(s):
        return below_rewards(phi, s)

    truth = slate_value(target, reward)
    for estimator in (CascadeDR(q="reward", model=FixedModel(np.zeros((4, 3)))), RIPS()):
        expected, _ = expectation(estimator, logger, target, 4, reward)
        assert abs(expected - truth) > 1e-3, (estimator.name, expected, truth)
    assert expectation(IPS(), logger, target, 4, reward)[0] == pytest.approx(truth, rel=1e-10)


def test_a_logger_whose_prefixes_cannot_be_derived_is_refused_naming_the_estimator():
    rng = np.random.default_rng(5)
    logger = random_table(rng, all_slates(4, 3))
    with pytest.raises(InputValueError, match=r"CascadeDR needs the logger's probability"):
        expectation(CascadeDR(q="reward", model=FixedModel(np.zeros((4, 3)))), logger, logger, 4,
                    lambda s: cascade_rewards(np.full((4, 3), 0.5), s))  # fmt: skip


def _better_than_uniform(logger, reward, sharpness=6.0):
    """A target over ``logger``'s slates with probabilities proportional to
    ``exp(sharpness x expected slate reward)``."""
    slates = list(logger.table)
    values = reward(slates).sum(axis=1)
    weights = np.exp(sharpness * (values - values.max()))
    return TablePolicy(dict(zip(slates, weights / weights.sum(), strict=True)))


def _tree():
    tree = pytest.importorskip("sklearn.tree")
    return tree.DecisionTreeRegressor(max_depth=4, min_samples_leaf=20, random_state=0)


SAMPLED = {
    "cascade-dr": lambda rng: CascadeDR(rng=rng),
    "sncascade-dr": lambda rng: SNCascadeDR(rng=rng),
    "importance-weighted fit": lambda rng: CascadeDR(fitting_method="iw", rng=rng),
    "tree Q": lambda rng: CascadeDR(model=_tree(), folds=2, rng=rng),
}


@pytest.mark.parametrize("name", list(SAMPLED))
def test_within_four_standard_errors_on_sampled_cascade_clicks(stat_seed, name):
    """Uniform logger over the 60 ordered triples of 5 items, cascade clicks, a target that
    prefers the better slates; the ridge model over one-hot items cannot express the cascade
    (a position's click depends on the items above; a tree over the items above can), and the
    estimate is unbiased anyway."""
    rng = np.random.default_rng(stat_seed)
    problem = np.random.default_rng(11)
    logger = uniform_table(5, 3)
    phi = problem.uniform(0.05, 0.8, size=(5, 3))

    def reward(s):
        return cascade_rewards(phi, s)

    target = _better_than_uniform(logger, reward)

    log = sampled_log(rng, logger, 5, 20_000, reward)
    estimate = SAMPLED[name](np.random.default_rng(stat_seed)).estimate(log, target)
    truth = slate_value(target, reward)
    assert abs(estimate.value - truth) <= 4 * estimate.stderr, (estimate, truth)
    assert abs(slate_value(logger, reward) - truth) > 4 * estimate.stderr  # the test has teeth
    assert estimate.stderr < RIPS().estimate(log, target).stderr  # the model helps


@pytest.mark.parametrize(
    "make",
    [
        lambda: EpsilonGreedy(epsilon=0.3, rng=np.random.default_rng(0)),
        lambda: Softmax(temperature=0.5, rng=np.random.default_rng(0)),
    ],
)
def test_policies_extensions_sum_to_their_prefix_probabilities(make):
    """What cascade DR asks of a target: summed over candidates, the extensions of a prefix
    give the prefix's probability (1 at the top)."""
    policy = make()
    slates = np.array(all_slates(5, 3))
    rows = len(slates)
    items = np.random.default_rng(1).normal(size=(5, 3))
    obs = explicit_observation(np.ones((rows, 2)), np.broadcast_to(items, (rows, 5, 3)),
                               slate_size=3)  # fmt: skip
    log = table_log(slates, np.zeros((rows, 3)), uniform_table(5, 3), 5)
    log = type(log)(obs, log.decision, log.feedback, "uniform")
    totals = extension_probabilities(policy, log).sum(axis=1)
    np.testing.assert_allclose(totals[:, 0], 1.0, rtol=1e-12)
    for k in (1, 2):
        prefix = policy.slate_probability(obs.with_slate_size(k), slates[:, :k])
        np.testing.assert_allclose(totals[:, k], prefix, rtol=1e-9)


# -- the backward-fitted Q (q="backward", the default) -----------------------------------------


def _explicit_backward_q(log, conditional, rows, ridge, joint=None, weights=None):
    """The paper's backward fit done literally on ``rows`` of ``log``: ``Q_K`` regresses
    ``r_K`` on the logged features, then each ``Q_k`` regresses ``r_k`` plus the target's
    expected ``Q_k+1`` one position down, one ridge solve after another; returns ``Q`` of
    every candidate at every position of every row of ``log``, (n, width, K). Features: each
    candidate's row of ``joint`` (default the context-item joint features) and the sum of the
    item features above; ``weights`` (n, K), if given, weigh each row's regression."""
    obs, size = log.observation, log.slate_size
    joint = interaction_features(obs) if joint is None else joint
    items = obs.items.features[np.take_along_axis(obs.candidate_rows, log.slates, axis=1)]
    above = np.stack([items[:, :k].sum(axis=1) for k in range(size)], axis=1)

    def features(k, candidate):  # (n, p) for a candidate index per row
        picked = joint[np.arange(len(log)), candidate]
        return np.concatenate([picked, above[:, k]], axis=1)

    q_all = np.zeros((len(log), obs.max_candidates, size))
    y = log.rewards[:, size - 1].copy()
    for k in range(size - 1, -1, -1):
        if k < size - 1:
            y = log.rewards[:, k] + (conditional[:, :, k + 1] * q_all[:, :, k + 1]).sum(axis=1)
        x = features(k, log.slates[:, k])[rows]
        xw = x if weights is None else x * weights[rows, k][:, None]
        theta = np.linalg.solve(xw.T @ x + ridge * np.eye(x.shape[1]), xw.T @ y[rows])
        for c in range(obs.max_candidates):
            q_all[:, c, k] = features(k, np.full(len(log), c)) @ theta
    return q_all


def _context_log(seed, rows=60):
    """Uniform logger over the 60 ordered triples of 5 items, two context features (the
    joint features then vary by row), additive rewards."""
    rng = np.random.default_rng(seed)
    logger = uniform_table(5, 3)
    phi = rng.uniform(0.1, 0.9, size=(5, 3))
    log = sampled_log(rng, logger, 5, rows, lambda s: additive_rewards(phi, s))
    context = rng.normal(size=(rows, 2))
    items = rng.normal(size=(5, 3))
    obs = explicit_observation(context, np.broadcast_to(items, (rows, 5, 3)), slate_size=3)
    return type(log)(obs, log.decision, log.feedback, "uniform")


def test_the_backward_estimate_is_the_formula_with_its_q():
    """The estimate is ``sum_k w_1:k (r_k - Q_k(logged)) + w_1:k-1 sum_c pi(c | above) Q_k(c)``
    with the fitted ``Q``, the weights RIPS's, computed here from the policies directly."""
    log = _context_log(1)
    target = EpsilonGreedy(epsilon=0.4, rng=np.random.default_rng(1))
    estimator = CascadeDR(folds=2)
    estimate = estimator.estimate(log, target)
    q = estimator.backward_["target"].predict(log)
    extensions = extension_probabilities(target, log)
    conditional = extensions / extensions.sum(axis=1, keepdims=True)
    obs, rows = log.observation, np.arange(len(log))
    target_prefix = np.column_stack(
        [target.slate_probability(obs.with_slate_size(k), log.slates[:, :k]) for k in (1, 2)]
        + [target.slate_probability(obs, log.slates)]
    )
    weights = target_prefix / np.cumprod([1 / 5, 1 / 4, 1 / 3])
    before = np.column_stack([np.ones(len(log)), weights[:, :-1]])
    shown_q = q[rows[:, None], log.slates, np.arange(3)]
    terms = (weights * (log.rewards - shown_q) + before * (conditional * q).sum(axis=1)).sum(1)
    assert estimate.value == pytest.approx(terms.mean(), rel=1e-12)
    assert estimate.stderr == pytest.approx(terms.std(ddof=1) / np.sqrt(len(log)), rel=1e-9)


class _FrozenQ(CascadeDR):
    """Cascade DR with one fixed ``Q`` for every row (a backward fit frozen beforehand)."""

    def __init__(self, frozen):
        super().__init__()
        self.frozen = frozen

    @property
    def needs_fit(self):
        return False

    def q_values(self, data):
        return self.frozen.predict(data.log)


FROZEN_Q = {"ridge": lambda: BackwardQ(ridge=1.0), "tree": lambda: RegressorBackwardQ(_tree())}


@pytest.mark.parametrize("kind", list(FROZEN_Q))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unbiased_by_enumeration_under_a_cascade_with_a_wrong_backward_q(seed, kind):
    """A backward ``Q`` (linear, or a tree) fitted to the wrong rewards (additive, on another
    log) and frozen: its prefix-dependent values are wrong, and the exact expectation is
    still the truth."""
    rng = np.random.default_rng(seed)
    logger = uniform_table(4, 3)
    target = random_table(rng, list(logger.table), concentration=0.3)
    phi = rng.uniform(0.05, 0.9, size=(4, 3))
    wrong = rng.uniform(-1.0, 2.0, size=(4, 3))
    other = sampled_log(rng, logger, 4, 500, lambda s: additive_rewards(wrong, s))
    extensions = extension_probabilities(target, other)
    frozen = FROZEN_Q[kind]()
    frozen.learn(other, extensions / extensions.sum(axis=1, keepdims=True))
    frozen.finish()
    estimator = _FrozenQ(frozen)

    def reward(s):
        return cascade_rewards(phi, s)

    expected, data = expectation(estimator, logger, target, 4, reward)
    assert expected == pytest.approx(slate_value(target, reward), rel=1e-10)
    # for some candidate, Q at position 1 differs between rows: it depends on the prefix
    assert np.ptp(estimator.q_values(data)[:, :, 1], axis=0).max() > 0.01


def _noise_free_log(rng, logger, rows, reward):
    slates = list(logger.table)
    probabilities = np.array([logger.table[s] for s in slates])
    chosen = rng.choice(len(slates), size=rows, p=probabilities)
    return table_log(np.array(slates)[chosen], reward(slates)[chosen], logger, 5)


def test_a_good_backward_q_cuts_the_variance_below_rips_and_the_reward_model(stat_seed):
    """Position-based rewards without noise: the backward ``Q`` (linear in the item and the
    items above) is close to right, so the residuals are nearly 0 and the standard error
    falls far below RIPS's and the per-position reward model's; the estimate stays within
    four standard errors of the truth."""
    rng = np.random.default_rng(stat_seed)
    logger = uniform_table(5, 3)
    phi = np.random.default_rng(11).uniform(0.05, 0.8, size=(5, 3))

    def reward(s):
        return additive_rewards(phi, s)

    target = _better_than_uniform(logger, reward)
    log = _noise_free_log(rng, logger, 20_000, reward)
    backward = CascadeDR(rng=np.random.default_rng(stat_seed)).estimate(log, target)
    per_position = CascadeDR(q="reward").estimate(log, target)
    rips = RIPS().estimate(log, target)
    truth = slate_value(target, reward)
    assert abs(backward.value - truth) <= 4 * backward.stderr, (backward, truth)
    assert backward.stderr < 0.2 * per_position.stderr < 0.2 * rips.stderr


def test_backward_q_with_a_model_that_is_not_a_regressor_is_refused_by_name():
    with pytest.raises(InputValueError, match=r"model='ridge-pooled'.*q='reward'"):
        CascadeDR(model="ridge-pooled")
    with pytest.raises(InputValueError, match=r"model=FixedModel.*q='reward'"):
        CascadeDR(model=FixedModel(np.zeros((3, 2))))
    with pytest.raises(InputValueError, match=r"'q' of CascadeDR"):
        CascadeDR(q="forward")


def test_backward_q_with_a_classifier_is_refused_by_name():
    pytest.importorskip("sklearn")
    with pytest.raises(InputValueError, match=r"classifier LogisticRegression.*q='reward'"):
        CascadeDR(model="logistic")
    CascadeDR(model="logistic", q="reward")  # as a per-position reward model it is fine


# -- the backward Q with a scikit-learn regressor --------------------------------------------


@pytest.mark.parametrize("fitting_method", ["normal", "iw"])
@pytest.mark.parametrize("regressor", [False, True])
def test_the_backward_q_is_the_explicit_recursion_on_each_folds_rows(regressor, fitting_method):
    """Each fold's ``Q`` is the literal backward recursion's ridge solves on the rows outside
    the fold: the streaming ridge fit over the joint features, and scikit-learn's
    ``Ridge(alpha, fit_intercept=False)`` as a regressor over ``[context, item]``, each with
    the items above; ``fitting_method="iw"`` weighs each row's regression at position ``k``
    by its prefix weight ``w_1:k`` (RIPS's)."""
    log = _context_log(8, rows=120)
    target = random_table(np.random.default_rng(3), all_slates(5, 3), concentration=0.3)
    if regressor:
        linear_model = pytest.importorskip("sklearn.linear_model")
        model = {"model": linear_model.Ridge(alpha=0.7, fit_intercept=False)}
    else:
        model = {"ridge": 0.7}
    estimator = CascadeDR(folds=3, fitting_method=fitting_method, **model)
    estimator.estimate(log, target)
    data = EstimatorInput(log, target.slate_probability(log.observation, log.slates), target)
    conditional, weights = estimator.conditional(data), RIPS().position_weights(data)
    assert np.ptp(weights) > 1.0  # rows are weighed unevenly
    fits = estimator.backward_["target"]
    fold, predicted = fits.fold_of(log), fits.predict(log)
    assert len(set(fold.tolist())) == 3
    base = None
    if regressor:  # every candidate's [context, item features]
        obs = log.observation
        items = obs.candidate_features
        context = np.broadcast_to(
            obs.context[:, None, :], (*items.shape[:2], obs.n_context_features)
        )
        base = np.concatenate([context, items], axis=2)
        assert base.shape == (120, 5, 2 + 3)
    mine, other = (weights, None) if fitting_method == "iw" else (None, weights)
    for k in range(3):
        inside = fold == k
        outside = np.flatnonzero(~inside)
        explicit = _explicit_backward_q(log, conditional, outside, 0.7, base, mine)
        np.testing.assert_allclose(predicted[inside], explicit[inside], rtol=1e-8, atol=1e-10)
        otherwise = _explicit_backward_q(log, conditional, outside, 0.7, base, other)
        assert not np.allclose(predicted[inside], otherwise[inside], rtol=1e-3)


def test_the_regressor_backward_q_predicts_in_chunks_without_changing_anything(monkeypatch):
    """``PositionInputs`` predicts ``PREDICT_ROWS`` pairs per call: with 7 rows per call (the
    120-row log's pairs cut at many boundaries, one chunk a remainder) the fitted Q and the
    estimate are those of one call per position."""
    linear_model = pytest.importorskip("sklearn.linear_model")
    log = _context_log(8, rows=120)
    target = random_table(np.random.default_rng(3), all_slates(5, 3), concentration=0.3)

    def run():
        estimator = CascadeDR(folds=3, model=linear_model.Ridge(alpha=0.7, fit_intercept=False))
        estimate = estimator.estimate(log, target)
        return estimate, estimator.backward_["target"].predict(log)

    whole, whole_q = run()
    monkeypatch.setattr(cascade_q_regressor, "PREDICT_ROWS", 7)
    chunked, chunked_q = run()
    np.testing.assert_allclose(chunked_q, whole_q, rtol=1e-12, atol=1e-14)
    assert chunked.value == pytest.approx(whole.value, rel=1e-12)
    assert chunked.stderr == pytest.approx(whole.stderr, rel=1e-9)


class _NoWeights:
    def fit(self, x, y):
        return self

    def predict(self, x):
        return np.zeros(len(x))


def test_importance_weighted_fitting_is_refused_where_nothing_takes_the_weights():
    with pytest.raises(InputValueError, match=r"fitting_method='iw'.*q='reward'.*q='backward'"):
        CascadeDR(q="reward", fitting_method="iw")
    with pytest.raises(InputValueError, match=r"_NoWeights.fit takes no sample_weight"):
        CascadeDR(model=_NoWeights(), fitting_method="iw")
    with pytest.raises(InputValueError, match=r"'fitting_method' of SNCascadeDR"):
        SNCascadeDR(fitting_method="dr")
    CascadeDR(model=_NoWeights())  # without weights it is a regressor like any other


def test_a_pipeline_takes_the_weights_for_its_last_step():
    """A Pipeline's fit takes no ``sample_weight``; its last step's weights go as
    ``<step>__sample_weight``: a weighted Pipeline around Ridge fits what Ridge alone fits
    (it failed inside fit with scikit-learn's error before)."""
    sklearn = pytest.importorskip("sklearn")
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    log = _context_log(8, rows=120)
    target = random_table(np.random.default_rng(3), all_slates(5, 3), concentration=0.3)
    ridge = Ridge(alpha=0.7, fit_intercept=False)
    pipeline = make_pipeline(FunctionTransformer(), Ridge(alpha=0.7, fit_intercept=False))
    nested = make_pipeline(FunctionTransformer(), pipeline)
    assert sample_weight_key(pipeline) == "ridge__sample_weight"
    assert sample_weight_key(nested) == "pipeline__ridge__sample_weight"
    alone = CascadeDR(folds=3, fitting_method="iw", model=ridge).estimate(log, target)
    for model in (pipeline, nested):
        piped = CascadeDR(folds=3, fitting_method="iw", model=model).estimate(log, target)
        assert piped.value == pytest.approx(alone.value, rel=1e-10)
    unweighted = CascadeDR(folds=3, model=pipeline).estimate(log, target)
    assert unweighted.value != pytest.approx(alone.value, rel=1e-6)
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(InputValueError, match=r"ridge__sample_weight.*metadata routing"):
            CascadeDR(model=pipeline, fitting_method="iw")


def test_a_pipeline_whose_last_step_takes_no_weights_is_refused_up_front():
    pytest.importorskip("sklearn")
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    message = (r"CascadeDR's fitting_method='iw' fits the backward Q with sample weights; the "
               r"Pipeline's last step 'kneighborsregressor' \(KNeighborsRegressor\) takes no "
               r"sample_weight in fit\.")  # fmt: skip
    with pytest.raises(InputValueError, match=message):
        CascadeDR(model=make_pipeline(StandardScaler(), KNeighborsRegressor()), fitting_method="iw")
    assert (
        sample_weight_key(Pipeline([("scale", StandardScaler()), ("end", "passthrough")])) is None
    )
    CascadeDR(model=make_pipeline(StandardScaler(), KNeighborsRegressor()))  # unweighted: fine


def test_a_tree_backward_q_over_batches_equals_the_in_memory_fit():
    """Rows kept batch after batch are fitted as one table: the same ``Q`` and estimate."""
    log = _context_log(6, rows=200)
    target = EpsilonGreedy(epsilon=0.4, rng=np.random.default_rng(1))
    whole = CascadeDR(model=_tree(), folds=2).estimate(log, target)
    batches = [log.take(np.arange(start, min(start + 45, 200))) for start in range(0, 200, 45)]
    streamed = CascadeDR(model=_tree(), folds=2).estimate_batches(batches, target)
    assert streamed.value == pytest.approx(whole.value, rel=1e-12)
    assert streamed.stderr == pytest.approx(whole.stderr, rel=1e-12)


def test_merged_regressor_qs_keep_the_rows_of_both_in_order():
    log = _context_log(7, rows=90)
    conditional = np.full((90, 5, 3), 0.2)
    first, second, whole = (RegressorBackwardQ(_tree()) for _ in range(3))
    first.learn(log.take(np.arange(50)), conditional[:50])
    second.learn(log.take(np.arange(50, 90)), conditional[50:])
    whole.learn(log, conditional)
    first.merge(second)
    first.finish()
    whole.finish()
    np.testing.assert_array_equal(first.predict(log), whole.predict(log))
    with pytest.raises(InputTypeError, match="Cannot merge a BackwardQ"):
        first.merge(BackwardQ())


def test_each_target_gets_its_own_backward_q(tmp_path):
    """Two targets in one evaluation: each is estimated with a Q fitted for it, as if
    evaluated alone."""
    log = _context_log(3, rows=200)
    targets = {
        "eps": EpsilonGreedy(epsilon=0.4, rng=np.random.default_rng(1)),
        "soft": Softmax(temperature=0.5, rng=np.random.default_rng(0)),
    }
    table = evaluate_log(log, targets, [CascadeDR()])
    for name, target in targets.items():
        alone = CascadeDR().estimate(log, target)
        row = table[table["target"] == name].iloc[0]
        assert row["value"] == pytest.approx(alone.value, rel=1e-12)
        assert row["stderr"] == pytest.approx(alone.stderr, rel=1e-12)


def test_importance_weighted_regressor_q_where_no_row_weighs_is_zero():
    """Every row's weight 0 at a position (no logged prefix the target shows): scikit-learn
    refuses all-zero sample weights, and the regressor's Q there is 0, as the ridge fit's."""
    log = _context_log(9, rows=40)
    weights = np.ones((40, 3))
    weights[:, 2] = 0.0
    conditional = np.full((40, 5, 3), 0.2)
    q = RegressorBackwardQ(_tree())
    q.learn(log, conditional, weights)
    q.finish()
    predicted = q.predict(log)
    assert np.all(predicted[:, :, 2] == 0.0) and np.ptp(predicted[:, :, 0]) > 0
