"""Bad parameters and inputs raise errors that name what is wrong."""

from __future__ import annotations

import re

import numpy as np
import pytest

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.models import RidgeRegression
from bandits.validation import InputTypeError, InputValueError
from policies import (
    CFHybrid,
    Content,
    EpsilonGreedy,
    ItemItem,
    LinTS,
    LinUCB,
    Popularity,
    UniformRandom,
    UserKNN,
    VowpalWabbit,
    make_policy,
)

RNG = {"rng": np.random.default_rng(0)}
BAD_PARAMETERS = [
    (
        LinUCB,
        {"alpha": -1},
        InputValueError,
        "The 'alpha' parameter of LinUCB must be >= 0; got -1.",
    ),
    (LinUCB, {"alpha": "big"}, InputTypeError, "'alpha' parameter of LinUCB must be a real number"),
    (
        LinUCB,
        {"alpha": float("nan")},
        InputValueError,
        "'alpha' parameter of LinUCB must be finite",
    ),
    (LinUCB, {"ridge": 0}, InputValueError, "The 'ridge' parameter of LinUCB must be >= 1e-12"),
    (LinUCB, {"ridge": 1e13}, InputValueError, "'ridge' parameter of LinUCB must be <= 1e+12"),
    (LinUCB, {"alpha": 2e6}, InputValueError, "'alpha' parameter of LinUCB must be <= 1e+06"),
    (
        LinUCB,
        {"model": "disjiont"},
        InputValueError,
        "Unknown 'model' of LinUCB 'disjiont'. Did you mean 'disjoint'? Known: joint, "
        "disjoint, hybrid",
    ),
    (LinTS, {"model": 3, **RNG}, InputValueError, "Unknown 'model' of LinTS 3."),
    (LinTS, {"v": 2e6, **RNG}, InputValueError, "'v' parameter of LinTS must be <= 1e+06"),
    (
        LinTS,
        {"probability_draws": 10**7, **RNG},
        InputValueError,
        "'probability_draws' parameter of LinTS must be <= 1000000",
    ),
    (
        LinUCB,
        {"alpha": 10**5000},
        InputValueError,
        "'alpha' parameter of LinUCB must be finite; got an integer of about 5000 digits",
    ),
    (
        LinUCB,
        {"alpha": "x" * 10_000},
        InputTypeError,
        "(10,002 characters) of type str",
    ),
    (LinUCB, {"alpah": 1.0}, TypeError, "unexpected keyword argument 'alpah'"),
    (
        EpsilonGreedy,
        {"epsilon": 1.5, **RNG},
        InputValueError,
        "'epsilon' parameter of EpsilonGreedy must be <= 1",
    ),
    (
        EpsilonGreedy,
        {"epsilon": True, **RNG},
        InputTypeError,
        "'epsilon' parameter of EpsilonGreedy must be a",
    ),
    (EpsilonGreedy, {"base": "linucb", **RNG}, InputTypeError, "'base' parameter of EpsilonGreedy"),
    (
        EpsilonGreedy,
        {"rng": 42},
        InputTypeError,
        "'rng' parameter of EpsilonGreedy must be a numpy",
    ),
    (EpsilonGreedy, {}, TypeError, "missing 1 required keyword-only argument: 'rng'"),
    (
        UniformRandom,
        {"rng": None},
        InputTypeError,
        "'rng' parameter of UniformRandom must be a numpy",
    ),
    (
        UniformRandom,
        {"rng": np.random.RandomState(0)},
        InputTypeError,
        "'rng' parameter of Uniform",
    ),
    (
        VowpalWabbit,
        {"explore": "greedy", **RNG},
        InputValueError,
        "Unknown exploration (the 'explore' parameter of VowpalWabbit) 'greedy'.",
    ),
    (
        VowpalWabbit,
        {"epsilon": 1.5, **RNG},
        InputValueError,
        "The 'epsilon' parameter of VowpalWabbit must be <= 1; got 1.5.",
    ),
    (
        VowpalWabbit,
        {"lambda_": -1, **RNG},
        InputValueError,
        "The 'lambda_' parameter of VowpalWabbit must be >= 0; got -1.",
    ),
    (
        VowpalWabbit,
        {"bag": 0, **RNG},
        InputValueError,
        "'bag' parameter of VowpalWabbit must be >= 1",
    ),
    (
        VowpalWabbit,
        {"cover": 2.5, **RNG},
        InputTypeError,
        "The 'cover' parameter of VowpalWabbit must be an integer; got 2.5",
    ),
    (
        VowpalWabbit,
        {"gamma_scale": 0, **RNG},
        InputValueError,
        "The 'gamma_scale' parameter of VowpalWabbit must be > 0; got 0.",
    ),
    (
        VowpalWabbit,
        {"learning_rate": float("inf"), **RNG},
        InputValueError,
        "'learning_rate' parameter of VowpalWabbit must be finite",
    ),
    (
        VowpalWabbit,
        {"bits": 40, **RNG},
        InputValueError,
        "The 'bits' parameter of VowpalWabbit must be <= 24; got 40.",
    ),
    (
        VowpalWabbit,
        {"interactions": "ui", **RNG},
        InputTypeError,
        "The 'interactions' parameter of VowpalWabbit must be a list of strings",
    ),
    (
        VowpalWabbit,
        {"interactions": ["ux"], **RNG},
        InputValueError,
        "'interactions' parameter of VowpalWabbit must hold strings of two or more of the "
        "namespace letters 'uids'",
    ),
    (
        VowpalWabbit,
        {"max_predictions": 0, **RNG},
        InputValueError,
        "The 'max_predictions' parameter of VowpalWabbit must be >= 1; got 0.",
    ),
    (VowpalWabbit, {"rng": 3}, InputTypeError, "'rng' parameter of VowpalWabbit must be a numpy"),
    (
        RidgeRegression,
        {"ridge": -1},
        InputValueError,
        "'ridge' parameter of RidgeRegression must be >= 1e-12",
    ),
    (
        Popularity,
        {"prior_strength": 0},
        InputValueError,
        "The 'prior_strength' parameter of Popularity must be > 0; got 0.",
    ),
    (
        Popularity,
        {"prior_strength": "strong"},
        InputTypeError,
        "The 'prior_strength' parameter of Popularity must be a real number; got 'strong'",
    ),
    (
        Popularity,
        {"prior_strength": 1e13},
        InputValueError,
        "'prior_strength' parameter of Popularity must be <= 1e+12",
    ),
    (
        ItemItem,
        {"shrinkage": -1},
        InputValueError,
        "The 'shrinkage' parameter of ItemItem must be >= 0; got -1.",
    ),
    (
        ItemItem,
        {"shrinkage": float("inf")},
        InputValueError,
        "The 'shrinkage' parameter of ItemItem must be finite; got inf.",
    ),
    (UserKNN, {"k": 0}, InputValueError, "The 'k' parameter of UserKNN must be >= 1; got 0."),
    (UserKNN, {"k": 2.5}, InputTypeError, "The 'k' parameter of UserKNN must be an integer"),
    (
        UserKNN,
        {"k": 10**6},
        InputValueError,
        "The 'k' parameter of UserKNN must be <= 100000; got 1000000.",
    ),
    (
        UserKNN,
        {"shrinkage": -0.5},
        InputValueError,
        "The 'shrinkage' parameter of UserKNN must be >= 0; got -0.5.",
    ),
    (
        UserKNN,
        {"max_user_items": 0},
        InputValueError,
        "The 'max_user_items' parameter of UserKNN must be >= 1; got 0.",
    ),
    (
        UserKNN,
        {"max_user_items": True},
        InputTypeError,
        "The 'max_user_items' parameter of UserKNN must be an integer; got True of type bool.",
    ),
    (UserKNN, {"rng": 3}, InputTypeError, "The 'rng' parameter of UserKNN must be a numpy"),
    (Content, {"ridge": 0}, InputValueError, "The 'ridge' parameter of Content must be >= 1e-12"),
    (
        Content,
        {"interactions": "yes"},
        InputTypeError,
        "The 'interactions' parameter of Content must be true or false; got 'yes' of type str.",
    ),
    (
        CFHybrid,
        {"alpha": -0.5},
        InputValueError,
        "The 'alpha' parameter of CFHybrid must be >= 0; got -0.5.",
    ),
    (
        CFHybrid,
        {"interactions": 1},
        InputTypeError,
        "The 'interactions' parameter of CFHybrid must be true or false; got 1 of type int.",
    ),
    (CFHybrid, {"ridge": 1e13}, InputValueError, "'ridge' parameter of CFHybrid must be <= 1e+12"),
]


@pytest.mark.parametrize(("cls", "kwargs", "error", "message"), BAD_PARAMETERS)
def test_bad_parameters(cls, kwargs, error, message):
    with pytest.raises(error, match=re.escape(message)):
        cls(**kwargs)


@pytest.mark.parametrize(
    "cls",
    [
        UniformRandom,
        EpsilonGreedy,
        LinUCB,
        RidgeRegression,
        Popularity,
        ItemItem,
        UserKNN,
        Content,
        CFHybrid,
        VowpalWabbit,
    ],
)
def test_arguments_are_keyword_only(cls):
    with pytest.raises(TypeError, match="positional"):
        cls(0.5)


def test_numpy_scalars_are_accepted_and_stored_as_floats():
    policy = LinUCB(alpha=np.float32(0.25), ridge=np.int64(2))
    assert policy.get_params() == {"alpha": 0.25, "ridge": 2.0, "model": "joint"}
    assert type(policy.alpha) is float and type(policy.ridge) is float


def test_make_policy_passes_parameters_and_rng_only_where_taken():
    rng = np.random.default_rng(0)
    policy = make_policy("epsilon-greedy", {"epsilon": 0.2}, rng=rng)
    assert isinstance(policy, EpsilonGreedy) and policy.epsilon == 0.2 and policy.rng is rng
    assert make_policy("linucb", {"alpha": 0.5}, rng=rng).alpha == 0.5


def test_make_policy_builds_a_wrapped_policy_from_its_spec():
    policy = make_policy(
        "epsilon-greedy", {"epsilon": 0.2, "base": "linucb:alpha=0.5"}, rng=np.random.default_rng(0)
    )
    assert isinstance(policy.base, LinUCB) and policy.base.alpha == 0.5
    assert policy.name == 'epsilon-greedy:epsilon=0.2,base="linucb:alpha=0.5,ridge=1.0,model=joint"'


def test_make_policy_unknown_name_suggests_the_closest():
    known = (
        "uniform, epsilon-greedy, per-position-epsilon-greedy, softmax, ridge-greedy, linucb, "
        "lints, vw, vw-slates, popularity, item-item, user-knn, content, cf-hybrid"
    )
    message = f"Unknown policy 'thompson'. Known: {known}."
    with pytest.raises(InputValueError, match=re.escape(message)):
        make_policy("thompson", {}, rng=np.random.default_rng(0))
    with pytest.raises(
        InputValueError, match=re.escape("Unknown policy 'linucv'. Did you mean 'linucb'?")
    ):
        make_policy("linucv", {}, rng=np.random.default_rng(0))
    with pytest.raises(
        InputValueError,
        match=re.escape(
            "no parameter 'alhpa'; allowed parameters are ['alpha', 'ridge', 'model']. "
            "Did you mean 'alpha'?"
        ),
    ):
        make_policy("linucb", {"alhpa": 1.0}, rng=np.random.default_rng(0))


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("linucb", {"alpah": 1}, "The policy 'linucb' (LinUCB) has no parameter 'alpah'; "
         "allowed parameters are ['alpha', 'ridge', 'model']."),
        ("uniform", {"epsilon": 0.1}, "The policy 'uniform' (UniformRandom) has no parameter "
         "'epsilon'; allowed parameters are []."),
        ("epsilon-greedy", {"rng": 1}, "has no parameter 'rng'; allowed parameters are "
         "['epsilon', 'base'] (rng is given to make_policy separately)."),
    ],
)  # fmt: skip
def test_make_policy_unknown_parameter(name, params, message):
    with pytest.raises(InputValueError, match=re.escape(message)):
        make_policy(name, params, rng=np.random.default_rng(0))


def test_make_policy_needs_a_generator():
    with pytest.raises(InputTypeError, match="'rng' parameter of make_policy"):
        make_policy("uniform", {}, rng=0)


def test_update_checks_its_inputs(make_observation):
    obs = make_observation(np.random.default_rng(0), n_requests=4, slate_size=2)
    policy = LinUCB()
    decision = policy.act(obs)
    with pytest.raises(
        InputTypeError, match=r"'feedback' of LinUCB\.update must be a SlateFeedback"
    ):
        policy.update(obs, decision, np.zeros((4, 2)))
    with pytest.raises(
        InputValueError, match=r"'rewards' passed to LinUCB\.update must have shape"
    ):
        policy.update(obs, decision, SlateFeedback(np.zeros((4, 1))))
    bad = SlateDecision(np.tile([0, 5], (4, 1)), np.ones(4), np.ones((4, 2)))
    with pytest.raises(InputValueError, match="position 1 is 5"):
        policy.update(obs, bad, SlateFeedback(np.zeros((4, 2))))
    assert policy.model_.n_samples_ == 0


def test_a_fitted_linear_policy_rejects_other_feature_sizes(make_observation):
    rng = np.random.default_rng(0)
    policy, obs = LinUCB(), make_observation(rng, n_context=3, n_item=2)
    policy.update(obs, policy.act(obs), SlateFeedback(np.zeros((obs.n_requests, 2))))
    with pytest.raises(InputValueError, match="fitted on 9 features; got rows of 7"):
        policy.act(make_observation(rng, n_context=2, n_item=2))


@pytest.mark.parametrize("cls", [Content, CFHybrid])
def test_a_fitted_content_model_rejects_other_feature_sizes(make_observation, cls):
    rng = np.random.default_rng(0)
    policy, obs = cls(), make_observation(rng, n_item=2)
    policy.update(obs, policy.act(obs), SlateFeedback(np.zeros((obs.n_requests, 2))))
    width = 3 if cls is Content else 5
    with pytest.raises(
        InputValueError, match=f"fitted on {width} features; got rows of {width + 1}"
    ):
        policy.act(make_observation(rng, n_item=3))


def test_spec_strings_build_the_cf_policies():
    rng = np.random.default_rng(0)
    knn = make_policy("user-knn", {"k": 5, "shrinkage": 0.0}, rng=rng)
    assert isinstance(knn, UserKNN) and knn.spec == "user-knn:k=5,shrinkage=0.0,max_user_items=200"
    hybrid = make_policy("cf-hybrid", {"interactions": True}, rng=rng)
    assert hybrid.spec == "cf-hybrid:alpha=1.0,ridge=1.0,interactions=true"
    wrapped = make_policy("epsilon-greedy", {"base": "item-item:shrinkage=2"}, rng=rng)
    assert isinstance(wrapped.base, ItemItem) and wrapped.base.shrinkage == 2.0
    with pytest.raises(InputValueError, match=r"allowed parameters are \['prior_strength'\]"):
        make_policy("popularity", {"prior": 1}, rng=rng)
