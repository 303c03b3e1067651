"""Common random numbers: two copies of a world reset with the same seed and driven by
different policies see the same candidates, context draws and feedback uniforms; under churn
only the requests whose first-drawn user is away in one copy and not the other differ."""

import numpy as np
import scipy.stats

from simulator import StreamingServiceEnv
from simulator.context import DEVICES
from simulator.users import Users


def churning_world():
    return StreamingServiceEnv(
        n_users=60,
        initial_users=60,
        users_per_step=0,
        n_items=300,
        initial_items=300,
        items_per_step=0,
        n_requests=40,
        min_candidates=10,
        max_candidates=15,
        boredom_threshold=2.0,
        churn_probability=0.5,
        mean_absence=3.0,
    )


def test_only_requests_whose_user_is_away_in_one_copy_differ():
    first, second = churning_world(), churning_world()
    obs_a, _ = first.reset(seed=3)
    obs_b, _ = second.reset(seed=3)
    rng = np.random.default_rng(0)
    size = first.slate_size
    differing = away_somewhere = 0
    for time in range(1, 40):
        top = np.tile(np.arange(size), (40, 1))
        shuffled = np.argsort(rng.random((40, 10)), axis=1)[:, :size]
        obs_a, *_ = first.step(top)
        obs_b, *_ = second.step(shuffled)
        np.testing.assert_array_equal(obs_a["candidate_ids"], obs_b["candidate_ids"])
        np.testing.assert_array_equal(obs_a["n_candidates"], obs_b["n_candidates"])
        devices = slice(-len(DEVICES) - 4 - 7, -4 - 7)  # device, day, season, weekday
        np.testing.assert_array_equal(obs_a["context"][:, devices], obs_b["context"][:, devices])
        away_a = first.world.fatigue.away_until_ > time
        away_b = second.world.fatigue.away_until_ > time
        away_somewhere += int((away_a != away_b).sum())
        users_a, users_b = obs_a["user_ids"], obs_b["user_ids"]
        for row in np.flatnonzero(users_a != users_b):
            differing += 1
            assert away_b[users_a[row]] or away_a[users_b[row]], (time, row)
    assert away_somewhere > 0 and differing > 0  # the policies did bore different users


def test_feedback_draws_do_not_depend_on_the_slates():
    first, second = churning_world(), churning_world()
    first.reset(seed=4)
    second.reset(seed=4)
    slates = np.tile(np.arange(first.slate_size), (40, 1))
    state = first._feedback.bit_generator.state
    first.step(slates)
    second.step(slates[:, ::-1])
    assert first._feedback.bit_generator.state == second._feedback.bit_generator.state
    assert first._arrivals.bit_generator.state == second._arrivals.bit_generator.state
    assert first._feedback.bit_generator.state != state


def test_arrivals_under_churn_are_uniform_among_the_present_users():
    users = Users(n_users=10, n_latent=2, history_length=0, feature_noise=0.0)
    users.reset(np.random.default_rng(0), 1)
    absent = np.zeros(10, dtype=bool)
    absent[[1, 2, 3, 5, 8, 9]] = True  # 4 present; a try is away with probability 0.6
    drawn = users.arrive(np.random.default_rng(1), np.zeros(40_000, dtype=np.int64), 0, absent)
    assert not absent[drawn].any()
    seen = np.bincount(drawn, minlength=10)[~absent]
    assert scipy.stats.chisquare(seen).pvalue > 0.001
    everyone = users.arrive(
        np.random.default_rng(2), np.zeros(50, dtype=np.int64), 0, ~absent | absent
    )
    assert everyone.min() >= 0 and everyone.max() < 10  # nobody present: any joined user
