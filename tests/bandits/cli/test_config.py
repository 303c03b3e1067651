"""SimulationConfig: defaults, TOML reading, and the errors for bad settings."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from bandits.cli.config import DEFAULT_ENV, DEFAULT_POLICIES, SimulationConfig
from bandits.validation import InputTypeError, InputValueError

ALLOWED = "['env', 'env_params', 'policies', 'policy_files', 'seed', 'total_requests']"

TOML = """\
[simulation]
env = "bandits/Other-v0"
policies = ["uniform", "linucb:alpha=0.5"]
total_requests = 500
seed = 7

[simulation.env_params]
n_items = 50
noise = 0.1
"""


def test_defaults():
    config = SimulationConfig()
    assert config.env == DEFAULT_ENV == "bandits/LatentFactor-v0"
    assert config.env_params == {}
    assert config.policies == DEFAULT_POLICIES
    assert config.total_requests == 10_000
    assert config.seed == 0


def test_a_single_policy_string_becomes_a_tuple():
    assert SimulationConfig(policies="uniform").policies == ("uniform",)
    assert SimulationConfig(policies=["uniform", "linucb"]).policies == ("uniform", "linucb")


def test_from_mapping_rejects_unknown_keys_suggests_and_lists_the_allowed_ones():
    message = (
        f"Unknown simulation setting 'polices'. Did you mean 'policies'? The allowed ones are "
        f"{ALLOWED}."
    )
    with pytest.raises(InputValueError, match=f"^{re.escape(message)}$"):
        SimulationConfig.from_mapping({"seed": 1, "polices": ["uniform"]})


def test_from_toml_and_back(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(TOML, encoding="utf-8")
    config = SimulationConfig.from_toml(path)
    expected = {
        "env": "bandits/Other-v0",
        "env_params": {"n_items": 50, "noise": 0.1},
        "policies": ["uniform", "linucb:alpha=0.5"],
        "total_requests": 500,
        "seed": 7,
        "policy_files": [],
    }
    assert config.policies == ("uniform", "linucb:alpha=0.5")
    assert config.to_dict() == expected
    assert json.loads(json.dumps(config.to_dict())) == expected
    assert SimulationConfig.from_mapping(config.to_dict()) == config


def test_to_dict_copies_env_params():
    config = SimulationConfig(env_params={"n_items": 3})
    values = config.to_dict()
    values["env_params"]["n_items"] = 4
    assert config.env_params == {"n_items": 3}


def test_from_toml_without_simulation_table(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[other]\nseed = 1\n", encoding="utf-8")
    message = f"{path} has no [simulation] table (it has ['other'])."
    with pytest.raises(InputValueError, match=re.escape(message) + "$"):
        SimulationConfig.from_toml(path)
    path.write_text("[simulaton]\nseed = 1\n", encoding="utf-8")
    with pytest.raises(InputValueError, match=re.escape("Rename [simulaton] to [simulation]?")):
        SimulationConfig.from_toml(path)


def test_from_toml_invalid(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[simulation\nseed = 1\n", encoding="utf-8")
    with pytest.raises(InputValueError, match=re.escape(f"{path} is not valid TOML: ")):
        SimulationConfig.from_toml(path)


def test_from_toml_checks_values(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text("[simulation]\ntotal_requests = 0\n", encoding="utf-8")
    with pytest.raises(InputValueError, match="'total_requests'"):
        SimulationConfig.from_toml(path)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        (
            {"total_requests": 0},
            InputValueError,
            "The 'total_requests' parameter of SimulationConfig must be >= 1; got 0.",
        ),
        (
            {"total_requests": 1.5},
            InputTypeError,
            "The 'total_requests' parameter of SimulationConfig must be an integer; "
            "got 1.5 of type float.",
        ),
        (
            {"seed": -1},
            InputValueError,
            "The 'seed' parameter of SimulationConfig must be >= 0; got -1.",
        ),
        (
            {"seed": True},
            InputTypeError,
            "The 'seed' parameter of SimulationConfig must be an integer; got True of type bool.",
        ),
        (
            {"policies": ()},
            InputValueError,
            "The 'policies' of SimulationConfig must name at least one policy (or "
            "'policy_files' one saved policy); got none.",
        ),
        (
            {"env": ""},
            InputValueError,
            "The 'env' of SimulationConfig must be a gymnasium id; got ''.",
        ),
        (
            {"env_params": [1]},
            InputTypeError,
            "The 'env_params' of SimulationConfig must be a table of keyword arguments; got [1].",
        ),
    ],
)
def test_bad_settings_name_the_field(settings, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        SimulationConfig(**settings)


def test_bad_policy_spec_is_rejected():
    with pytest.raises(InputValueError, match=re.escape("The spec 'linucb:alpha' has 'alpha'")):
        SimulationConfig(policies=("uniform", "linucb:alpha"))


def test_bad_policy_spec_error_names_the_field():
    with pytest.raises(InputValueError, match="'policies'"):
        SimulationConfig(policies=("uniform", "linucb:alpha"))


def test_to_dict_is_json_friendly_with_numpy_integers():
    config = SimulationConfig(total_requests=np.int64(100), seed=np.int64(3))
    assert json.loads(json.dumps(config.to_dict()))["total_requests"] == 100
