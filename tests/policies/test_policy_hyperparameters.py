"""Every hyperparameter changes what its policy does: two policies that differ in one parameter,
trained on the same stream, score or choose differently on the same requests."""

from __future__ import annotations

import numpy as np
import pytest

from bandits.specs import parse_spec
from policies import POLICIES, GreedyPolicy, make_policy

CHANGES = [
    ("epsilon-greedy", "epsilon=0.1", "epsilon=0.6"),
    ("epsilon-greedy", "epsilon=0.1", 'epsilon=0.1,base="linucb:alpha=2.0"'),
    ("per-position-epsilon-greedy", "epsilon=0.1", "epsilon=0.6"),
    ("per-position-epsilon-greedy", "epsilon=0.1", 'epsilon=0.1,base="linucb:alpha=2.0"'),
    ("softmax", "temperature=0.1", "temperature=1.0"),
    ("softmax", "temperature=0.1", 'temperature=0.1,base="linucb:alpha=2.0"'),
    ("ridge-greedy", "ridge=1.0", "ridge=50.0"),
    ("ridge-greedy", "model=joint", "model=disjoint"),
    ("ridge-greedy", "model=joint", "model=hybrid"),
    ("linucb", "alpha=1.0", "alpha=0.1"),
    ("linucb", "ridge=1.0", "ridge=50.0"),
    ("linucb", "model=joint", "model=disjoint"),
    ("linucb", "model=disjoint", "model=hybrid"),
    ("lints", "v=1.0", "v=0.05"),
    ("lints", "ridge=1.0", "ridge=50.0"),
    ("lints", "model=joint", "model=disjoint"),
    ("lints", "model=joint", "model=hybrid"),
    ("lints", "probability_draws=50", "probability_draws=51"),
]
"""(policy, a setting, another setting)."""

COVERED_ELSEWHERE = {
    "vw": "test_vw.py",
    "vw-slates": "test_vw_slates.py",
    "popularity": "test_cf_exact.py",
    "item-item": "test_cf_exact.py",
    "user-knn": "test_cf_exact.py",
    "content": "test_cf_exact.py",
    "cf-hybrid": "test_cf_exact.py",
}
"""Policies whose parameters are each shown to matter on hand-built cases in those files (on
random requests the CF scores are mostly zero, so a parameter can leave them unchanged)."""


def behaviour(spec, make_observation, make_feedback):
    """What the policy built from ``spec`` does on fixed requests after a fixed training
    stream: a greedy policy's scores, else its probabilities of every candidate at every
    position, with its logged probabilities of its own choices."""
    policy = make_policy(*parse_spec(spec), rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for _ in range(5):
        obs = make_observation(rng, n_requests=30, slate_size=2, max_candidates=8)
        decision = policy.act(obs)
        policy.update(obs, decision, make_feedback(rng, decision))
    test = make_observation(np.random.default_rng(2), n_requests=10, slate_size=2)
    if isinstance(policy, GreedyPolicy):
        return policy.scores(test)
    decision = policy.act(test)
    return np.concatenate(
        [policy.candidate_position_probability(test).ravel(), decision.slate_probability]
    )


@pytest.mark.parametrize(("name", "one", "other"), CHANGES)
def test_each_parameter_changes_behaviour(name, one, other, make_observation, make_feedback):
    first = behaviour(f"{name}:{one}", make_observation, make_feedback)
    second = behaviour(f"{name}:{other}", make_observation, make_feedback)
    assert first.shape == second.shape
    assert not np.allclose(first, second), f"{name}: {one} and {other} behave alike"


def test_every_parameter_of_every_policy_is_covered():
    covered = set()
    for name, one, other in CHANGES:  # the parameters whose values differ
        first, second = parse_spec(f"{name}:{one}")[1], parse_spec(f"{name}:{other}")[1]
        covered |= {(name, key) for key in {*first, *second} if first.get(key) != second.get(key)}
    for name, cls in POLICIES.items():
        if name in COVERED_ELSEWHERE:
            continue
        for parameter in cls.param_names():
            assert (name, parameter) in covered, (name, parameter)
