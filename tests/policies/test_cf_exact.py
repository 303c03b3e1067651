"""Exact values of the collaborative-filtering and content baselines on tiny hand-computed
cases, and one case per hyperparameter where changing it changes the ranking."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.decision import SlateDecision
from bandits.feedback import SlateFeedback
from bandits.items import ItemTable
from bandits.observation import PAD_ID, SlateObservation
from policies import CFHybrid, Content, EpsilonGreedy, ItemItem, Popularity, UserKNN
from policies.keyed import IdCodes, KeyedValues

BIG_ID = 5 * 10**11  # item ids are sparse: nothing may be sized by their range
FEATURES = {
    10: [1.0],
    20: [2.0],
    30: [-1.0],
    40: [0.5],
    50: [3.0],
    60: [-2.0],
    70: [-3.0],
    80: [-4.0],
    BIG_ID: [0.0],
}


def requests(candidates, histories=None, users=None, slate_size=1, context=None):
    """One request per row of ``candidates`` (lists of item ids), with its history (lists,
    most recent first) and user id; item features from ``FEATURES`` (0 for other ids)."""
    n = len(candidates)
    width = max(len(row) for row in candidates)
    histories = histories or [[] for _ in range(n)]
    depth = max([len(row) for row in histories] + [1])
    ids = np.full((n, width), PAD_ID)
    history = np.full((n, depth), PAD_ID)
    for i, (row, past) in enumerate(zip(candidates, histories, strict=True)):
        ids[i, : len(row)], history[i, : len(past)] = row, past
    known = np.unique(ids[ids != PAD_ID])
    features = np.array([FEATURES.get(int(item), [0.0]) for item in known])
    return SlateObservation(
        context=np.zeros((n, 1)) if context is None else np.asarray(context, float),
        candidate_ids=ids,
        n_candidates=np.array([len(row) for row in candidates]),
        slate_size=slate_size,
        history=history,
        request_ids=np.arange(n),
        user_ids=np.full(n, PAD_ID) if users is None else np.asarray(users),
        times=np.zeros(n, dtype=np.int64),
        items=ItemTable(known, features),
    )


def show(policy, shown, rewards, histories=None, users=None, context=None):
    """Update ``policy`` as if each request had shown exactly ``shown[i]`` (item ids, in
    order) and got ``rewards[i]``."""
    obs = requests(shown, histories, users, slate_size=len(shown[0]), context=context)
    slates = np.tile(np.arange(obs.slate_size), (obs.n_requests, 1))
    ones = np.ones(slates.shape)
    policy.update(
        obs, SlateDecision(slates, ones[:, 0], ones), SlateFeedback(np.asarray(rewards, float))
    )


def ranked_ids(policy, obs):
    """Candidate ids of each request, best score first (ties to the lower index)."""
    return np.take_along_axis(obs.candidate_ids, policy.greedy_slates(obs), axis=1)


# ----- sparse stores


def test_keyed_values_add_sum_repeats_and_read_zero_for_absent_keys():
    store = KeyedValues(n_columns=2)
    store.add(np.array([7, BIG_ID, 7]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    store.add(np.array([3, 7]), np.array([[1.0, 1.0], [1.0, 1.0]]))
    np.testing.assert_array_equal(store.keys_, [3, 7, BIG_ID])
    np.testing.assert_array_equal(
        store.get(np.array([[7, 4], [BIG_ID, 3]])), [[[7, 9], [0, 0]], [[3, 4], [1, 1]]]
    )
    store.maximum(np.array([3, 8, 8]), np.array([[0.5, 0.0], [2.0, 0.0], [4.0, 0.0]]))
    np.testing.assert_array_equal(store.get(np.array([3, 8]))[:, 0], [1.0, 4.0])


def test_id_codes_number_ids_in_order_of_first_sight():
    codes = IdCodes()
    np.testing.assert_array_equal(codes.add(np.array([BIG_ID, 4, 4])), [1, 0, 0])
    np.testing.assert_array_equal(codes.add(np.array([[9, BIG_ID]])), [[2, 1]])
    np.testing.assert_array_equal(codes.encode(np.array([4, 5, PAD_ID])), [0, -1, -1])
    np.testing.assert_array_equal(codes.decode(np.array([2, 0, 1])), [9, 4, BIG_ID])


# ----- popularity


def popularity_after_three_items(prior_strength):
    """Item 10 shown once and clicked; 20 shown 10 times, 6 clicks; 30 shown 9 times, no
    click: mu = 7 / 20 = 0.35."""
    policy = Popularity(prior_strength=prior_strength)
    shown = [[10, 20]] + [[20, 30]] * 9
    rewards = [[1, 1]] + [[1, 0]] * 5 + [[0, 0]] * 4
    show(policy, shown, rewards)
    return policy


def test_popularity_scores_are_smoothed_click_rates():
    """s = 1: (1 + 0.35) / 2, (6 + 0.35) / 11, (0 + 0.35) / 10, unseen 0.35."""
    policy = popularity_after_three_items(1.0)
    assert policy.prior_mean == pytest.approx(0.35)
    obs = requests([[10, 20, 30, BIG_ID]])
    np.testing.assert_allclose(policy.scores(obs), [[1.35 / 2, 6.35 / 11, 0.35 / 10, 0.35]])
    np.testing.assert_array_equal(
        ranked_ids(policy, requests([[10, 20, 30, BIG_ID]], slate_size=4)), [[10, 20, BIG_ID, 30]]
    )


def test_popularity_prior_strength_changes_the_ranking():
    """s = 10: item 10 (1 of 1) falls to (1 + 3.5) / 11 = 0.409, below 20's 9.5 / 20."""
    obs = requests([[10, 20]], slate_size=2)
    np.testing.assert_array_equal(ranked_ids(popularity_after_three_items(1.0), obs), [[10, 20]])
    strong = popularity_after_three_items(10.0)
    np.testing.assert_allclose(strong.scores(obs), [[4.5 / 11, 9.5 / 20]])
    np.testing.assert_array_equal(ranked_ids(strong, obs), [[20, 10]])


def test_untrained_popularity_ties_everything_and_explores_at_random():
    obs = requests([[10, 20, 30]] * 600)
    policy = Popularity(rng=np.random.default_rng(0))
    np.testing.assert_array_equal(policy.scores(obs), 0.0)
    counts = np.bincount(policy.act(obs).slates[:, 0], minlength=3)
    assert counts.min() > 150, counts  # 200 each expected, sd 11.5


# ----- item-item


def two_users_three_items(policy):
    """User 0 (history [10]) clicks 20 and not 30; user 1 (history [10, 30]) clicks 20.
    Baskets {10, 20} and {10, 20, 30}: n = 2, 2, 1 for 10, 20, 30; co(10, 20) = 2,
    co(20, 30) = 1 and co(10, 30) = 0 (both only history)."""
    show(
        policy, [[20, 30], [20, BIG_ID]], [[1, 0], [1, 0]], histories=[[10], [10, 30]], users=[0, 1]
    )
    return policy


def test_item_item_cosine_and_ranking_by_hand():
    policy = two_users_three_items(ItemItem())
    cooccurrence = policy.cooccurrence_
    np.testing.assert_allclose(
        cooccurrence.cosine(np.array([10, 20, 10, 20, 30]), np.array([20, 30, 30, 20, BIG_ID])),
        [2 / np.sqrt(2 * 2), 1 / np.sqrt(2 * 1), 0, 0, 0],
    )
    # history [30]: 20 scores cos(20, 30); history [10, 30]: 20 scores 1 + 0.707; 10 and 30 tie
    obs = requests(
        [[10, 20, 30], [30, 10, 20], [20, 10, 30]], histories=[[30], [10, 30], []], slate_size=3
    )
    np.testing.assert_allclose(
        policy.scores(obs), [[0, 1 / np.sqrt(2), 0], [0, 0, 1 + 1 / np.sqrt(2)], [0, 0, 0]]
    )
    np.testing.assert_array_equal(
        ranked_ids(policy, obs), [[20, 10, 30], [20, 30, 10], [20, 10, 30]]
    )


def test_item_item_counts_a_history_item_once_and_a_reclick_as_a_click():
    policy = ItemItem()
    show(policy, [[20]], [[1]], histories=[[10, 10, 20]])  # basket {10, 20}, 20 clicked
    np.testing.assert_allclose(policy.cooccurrence_.basket_counts_, [1, 1])
    assert policy.cooccurrence_.cosine(np.array(10), np.array(20)) == pytest.approx(1.0)
    np.testing.assert_allclose(policy.scores(requests([[20, 30]], histories=[[10, 10]])), [[1, 0]])


def test_item_item_shrinkage_changes_the_ranking():
    """co(10, 20) = 1 with n = 1, 1; co(50, 30) = 3 with n = 4, 4 (50 is also in a basket
    with 40, 30 alone in one). Shrinkage 0: cosines 1 and 0.75; shrinkage 5: 1 / 6 and
    3 / 9, so 30 overtakes 20."""
    obs = requests([[20, 30]], histories=[[10, 50]], slate_size=2)
    ranking = {}
    for shrinkage in (0.0, 5.0):
        policy = ItemItem(shrinkage=shrinkage)
        show(policy, [[20]], [[1]], histories=[[10]])
        show(policy, [[30]] * 3 + [[40], [30]], [[1]] * 5, histories=[[50]] * 4 + [[]])
        ranking[shrinkage] = ranked_ids(policy, obs)
        expected = [[1.0, 0.75]] if shrinkage == 0 else [[1 / 6, 3 / 9]]
        np.testing.assert_allclose(policy.scores(obs), expected)
    np.testing.assert_array_equal(ranking[0.0], [[20, 30]])
    np.testing.assert_array_equal(ranking[5.0], [[30, 20]])


def test_item_item_can_be_wrapped_by_epsilon_greedy():
    policy = EpsilonGreedy(
        epsilon=0.0, base=two_users_three_items(ItemItem()), rng=np.random.default_rng(0)
    )
    obs = requests([[10, 20, 30]], histories=[[30]])
    np.testing.assert_array_equal(policy.act(obs).slates, [[1]])


# ----- user-knn


def three_users():
    """User 0 clicked {10, 20}, user 1 {10, 30}, user 2 {20, 30, 40}."""
    return dict(shown=[[10, 20], [10, 30], [20, 30]], rewards=[[1, 1]] * 3, users=[0, 1, 2])


def test_user_knn_scores_by_hand():
    """For user 0: sim(0, 1) = 1 / (sqrt(2 * 2) + 1) = 1/3 and sim(0, 2) = 1 / (sqrt(2 * 3) +
    1); score(30) = both, score(40) = sim(0, 2), score(50) = 0 (nobody clicked it)."""
    policy = UserKNN(k=2, shrinkage=1.0)
    show(policy, **three_users())
    show(policy, [[40]], [[1]], users=[2])
    np.testing.assert_array_equal(policy.user_items(2), [20, 30, 40])
    obs = requests([[30, 40, 50, 10]], users=[0], slate_size=3)
    sim_1, sim_2 = 1 / 3, 1 / (np.sqrt(6) + 1)
    np.testing.assert_allclose(policy.scores(obs), [[sim_1 + sim_2, sim_2, 0, sim_1]])
    np.testing.assert_array_equal(ranked_ids(policy, obs), [[30, 10, 40]])


def test_user_knn_k_keeps_only_the_nearest():
    """k = 1: only user 1 (1/3 > 0.29) counts, so 40 falls to 0 and ties with 50."""
    policy = UserKNN(k=1, shrinkage=1.0)
    show(policy, **three_users())
    show(policy, [[40]], [[1]], users=[2])
    obs = requests([[30, 40, 50, 10]], users=[0])
    np.testing.assert_allclose(policy.scores(obs), [[1 / 3, 0, 0, 1 / 3]], atol=1e-15)


def test_user_knn_shrinkage_changes_the_nearest_neighbour():
    """Neighbour A = {10, 40} shares 1 item with {10, 20}; B = {10, 20, 61..67} shares 2. With
    no shrinkage A is nearer (1/2 > 2/sqrt(18)); with 10, B is (1/12 < 2/(sqrt(18) + 10))."""
    big = [10, 20, *range(61, 68)]
    ranking = {}
    for shrinkage in (0.0, 10.0):
        policy = UserKNN(k=1, shrinkage=shrinkage)
        show(policy, [[10, 20]], [[1, 1]], users=[0])
        show(policy, [[10, 40]], [[1, 1]], users=[1])
        show(policy, [big], [[1] * len(big)], users=[2])
        ranking[shrinkage] = ranked_ids(policy, requests([[40, 61]], users=[0], slate_size=2))
    np.testing.assert_array_equal(ranking[0.0], [[40, 61]])
    np.testing.assert_array_equal(ranking[10.0], [[61, 40]])


def test_user_knn_remembers_at_most_max_user_items_most_recent():
    """History items are older than the clicks of the same request; the cap keeps the
    newest."""
    policy = UserKNN(max_user_items=2)
    show(policy, [[10, 20]], [[1, 0]], histories=[[30, 40]], users=[7])  # 40 < 30 < 10
    np.testing.assert_array_equal(policy.user_items(7), [10, 30])
    show(policy, [[50]], [[1]], users=[7])
    np.testing.assert_array_equal(policy.user_items(7), [10, 50])
    assert len(policy.user_items_) == 2
    uncapped = UserKNN(max_user_items=5)
    show(uncapped, [[10, 20]], [[1, 0]], histories=[[30, 40]], users=[7])
    np.testing.assert_array_equal(uncapped.user_items(7), [10, 30, 40])


def test_user_knn_anonymous_requests_use_their_history_and_are_not_remembered():
    policy = UserKNN(shrinkage=0.0)
    show(policy, **three_users())
    show(policy, [[50]], [[1]], histories=[[10]])  # anonymous: not learned
    assert len(policy.users_) == 3
    obs = requests([[30, 40, 20]], histories=[[10]])  # neighbours 0 and 1: 1 / sqrt(1 * 2)
    np.testing.assert_allclose(policy.scores(obs), [[1 / np.sqrt(2), 0, 1 / np.sqrt(2)]])


# ----- content


def test_content_fits_the_closed_form_ridge_on_item_features_and_scores_cold_items():
    """x = [f, 1]: after reward 1 at f = 1 and 0 at f = 2, with ridge 1, A = [[6, 3], [3, 3]]
    and b = [1, 1]; item 50 (f = 3) was never shown and still gets theta . [3, 1]."""
    for ridge in (1.0, 4.0):
        policy = Content(ridge=ridge)
        show(policy, [[10], [20]], [[1], [0]])
        x = np.array([[1.0, 1.0], [2.0, 1.0]])
        theta = np.linalg.solve(x.T @ x + ridge * np.eye(2), x.T @ [1.0, 0.0])
        np.testing.assert_allclose(policy.model_.A_, [[5 + ridge, 3], [3, 2 + ridge]])
        np.testing.assert_allclose(policy.model_.b_, [1, 1])
        np.testing.assert_allclose(policy.model_.theta_, theta, atol=1e-12)
        cold = np.array([[3.0, 1.0], [-1.0, 1.0]]) @ theta  # items 50 (never shown) and 30
        np.testing.assert_allclose(policy.scores(requests([[50, 30]])), [cold], atol=1e-12)


def test_content_ridge_changes_the_ranking():
    """Rewards 1 at f = -2 and 0.9 at f = -3: the least-squares slope is +0.1, but a heavy
    ridge shrinks towards theta ~ X'y / ridge, whose slope -2 - 2.7 < 0 reverses the order
    of items 10 (f = 1) and 30 (f = -1)."""
    obs = requests([[10, 30]], slate_size=2)
    x = np.array([[-2.0, 1.0], [-3.0, 1.0]])
    ranking = {}
    for ridge in (1e-6, 1e3):
        policy = Content(ridge=ridge)
        show(policy, [[60], [70]], [[1.0], [0.9]])
        theta = np.linalg.solve(x.T @ x + ridge * np.eye(2), x.T @ [1.0, 0.9])
        np.testing.assert_allclose(policy.scores(obs), [[theta @ [1, 1], theta @ [-1, 1]]])
        ranking[ridge] = ranked_ids(policy, obs)
    np.testing.assert_array_equal(ranking[1e-6], [[10, 30]])
    np.testing.assert_array_equal(ranking[1e3], [[30, 10]])


def test_content_interactions_let_the_context_reweight_item_features():
    """Context +1 likes f, context -1 dislikes it: only the model with interactions ranks the
    two users' candidates differently."""
    shown = [[20], [20], [30], [30]]
    context = [[1.0], [-1.0], [1.0], [-1.0]]
    rewards = [[1], [0], [0], [1]]
    obs = requests([[20, 30], [20, 30]], context=[[1.0], [-1.0]])
    plain, joint = Content(), Content(interactions=True)
    for policy in (plain, joint):
        show(policy, shown, rewards, context=context)
    assert plain.model_.n_features_ == 2 and joint.model_.n_features_ == 3
    plain_ranked, joint_ranked = ranked_ids(plain, obs), ranked_ids(joint, obs)
    np.testing.assert_array_equal(plain_ranked[0], plain_ranked[1])
    np.testing.assert_array_equal(joint_ranked, [[20], [30]])


# ----- cf-hybrid


def test_cf_hybrid_features_scores_and_bonus_by_hand():
    """After two_users_three_items: columns [f, 1, co-occurrence with history, seen]; the
    score is theta . x + alpha sqrt(x' A^-1 x) over the rows of the shown items."""
    policy = two_users_three_items(CFHybrid(alpha=0.5))
    obs = requests([[10, 20, 30, 50]], histories=[[30]])
    x = policy.features(obs)[0]
    np.testing.assert_allclose(
        x, [[1, 1, 0, 0], [2, 1, 1 / np.sqrt(2), 1], [-1, 1, 0, 1], [3, 1, 0, 0]]
    )
    # the training rows, built when the co-occurrence and seen sets were still empty
    shown = np.array([[2, 1, 0, 0], [-1, 1, 0, 0], [2, 1, 0, 0], [0, 1, 0, 0]])
    a = shown.T @ shown + np.eye(4)
    theta = np.linalg.solve(a, shown.T @ [1.0, 0.0, 1.0, 0.0])
    width = np.sqrt(np.einsum("ij,jk,ik->i", x, np.linalg.inv(a), x))
    np.testing.assert_allclose(policy.scores(obs)[0], x @ theta + 0.5 * width)


def test_cf_hybrid_alpha_changes_the_ranking():
    """Greedy, the known good item 20 wins; with a large bonus the never-shown item 80 (f = -4,
    far from the data) does."""
    obs = requests([[20, 80]], histories=[[10]], slate_size=2)
    greedy = two_users_three_items(CFHybrid(alpha=0.0))
    bold = two_users_three_items(CFHybrid(alpha=50.0))
    np.testing.assert_array_equal(ranked_ids(greedy, obs), [[20, 80]])
    np.testing.assert_array_equal(ranked_ids(bold, obs), [[80, 20]])


def test_cf_hybrid_learns_co_occurrence_with_interactions_too():
    policy = two_users_three_items(CFHybrid(interactions=True))
    obs = requests([[20, 30]], histories=[[10, 30]])
    assert policy.model_.n_features_ == 1 * 1 + 1 + 1 + 2
    np.testing.assert_allclose(policy.features(obs)[0, :, -2:], [[1 + 1 / np.sqrt(2), 1], [0, 1]])
