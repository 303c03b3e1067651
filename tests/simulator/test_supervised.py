"""Supervised-to-bandit: bundled data sets as bandits, logged feedback, exact policy values."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import simulator
from bandits.validation import InputTypeError, InputValueError
from simulator.classifier_policy import ClassifierPolicy
from simulator.supervised import DATASETS, ClassificationBandit
from simulator.supervised_env import SupervisedBanditEnv

pytest.importorskip("sklearn")
from sklearn.linear_model import LogisticRegression


class Fixed:
    """A classifier that predicts given labels row by row (for hand-computed values)."""

    def __init__(self, data, labels):
        self.data, self.labels = data, labels

    def predict(self, features):
        rows = [int(np.flatnonzero((self.data.features == x).all(axis=1))[0]) for x in features]
        return self.labels[rows]


def test_exact_value_is_alpha_accuracy_plus_uniform_share():
    data = ClassificationBandit(features=np.eye(4), labels=[0, 1, 2, 0], standardize=False)
    predicted = np.array([0, 2, 2, 1])  # right on rows 0 and 2
    policy = ClassifierPolicy(
        classifier=Fixed(data, predicted), alpha=0.7, rng=np.random.default_rng(0)
    )
    # pi(y|x) = 0.7 [right] + 0.3 / 3: rows 0, 2 give 0.8, rows 1, 3 give 0.1.
    assert data.true_value(policy) == pytest.approx((0.8 + 0.1 + 0.8 + 0.1) / 4)
    assert data.n_classes == 3


@pytest.mark.parametrize("name", DATASETS)
def test_ips_on_logged_feedback_recovers_the_exact_value(name, stat_seed):
    data = ClassificationBandit.from_dataset(name)
    rng = np.random.default_rng(stat_seed)
    order = rng.permutation(data.n_rows)
    train, test = order[: data.n_rows // 2], order[data.n_rows // 2 :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of a short fit
        classifier = LogisticRegression(max_iter=200).fit(data.features[train], data.labels[train])
    behaviour = ClassifierPolicy(classifier=classifier, alpha=0.2, rng=rng, name="behaviour")
    target = ClassifierPolicy(classifier=classifier, alpha=0.9, rng=rng)
    log = data.logged_feedback(behaviour, np.tile(test, 20))
    truth = data.true_value(target, test)
    weights = target.slate_probability(log.observation, log.decision.slates) / (
        log.decision.slate_probability
    )
    terms = weights * log.feedback.rewards[:, 0]
    assert abs(terms.mean() - truth) < 4 * terms.std() / np.sqrt(terms.size)
    assert set(log.policy_names) == {"behaviour"}


def test_supervised_env_passes_the_checker_and_rewards_the_label():
    env = SupervisedBanditEnv(dataset="wine", n_requests=16)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env)
    # Allowed: unbounded float features, and no render-mode check for an unregistered env.
    allowed = ("infinity", "not having a spec")
    messages = [str(w.message) for w in caught]
    assert all(any(word in m for word in allowed) for m in messages), messages
    env.reset(seed=0)
    rows = env._rows
    _, reward, _, _, info = env.step(np.zeros((16, 1), dtype=np.int64))
    expected = (env.data.labels[rows] == 0).astype(float)
    np.testing.assert_array_equal(info["expected_reward"], expected)
    assert reward == expected.sum()
    np.testing.assert_array_equal(info["oracle_slates"][:, 0], env.data.labels[rows])


def test_bad_data_is_named():
    with pytest.raises(InputValueError, match="at least 2 classes"):
        ClassificationBandit(features=np.ones((3, 2)), labels=[0, 0, 0])
    with pytest.raises(InputValueError, match="'rows' of ClassificationBandit"):
        ClassificationBandit(features=np.ones((3, 2)), labels=[0, 1, 0]).observation([5])
    with pytest.raises(InputValueError, match="'name' of from_dataset 'iris'"):
        ClassificationBandit.from_dataset("iris")


@pytest.mark.parametrize("dataset", ["digits", "wine", "breast_cancer"])
def test_supervised_env_is_registered_and_passes_the_checker(dataset):
    pytest.importorskip("sklearn")
    env = gym.make(simulator.SUPERVISED_ID, dataset=dataset, n_requests=8)
    assert isinstance(env.unwrapped, SupervisedBanditEnv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    messages = [str(w.message) for w in caught]
    assert all("infinity" in m for m in messages), messages
    env.reset(seed=1)
    slates = env.action_space.sample()
    _, reward, _, _, info = env.step(slates)
    assert reward == info["rewards"].sum()
    assert slates.shape == (8, 1)


def test_supervised_env_names_a_bad_dataset():
    with pytest.raises(InputTypeError, match="'dataset' parameter of SupervisedBanditEnv"):
        SupervisedBanditEnv(dataset=3)
    with pytest.raises(InputValueError, match="'dataset' of SupervisedBanditEnv 'iris'"):
        gym.make(simulator.SUPERVISED_ID, dataset="iris")
