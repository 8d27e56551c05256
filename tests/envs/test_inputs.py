"""The environment takes only what its spaces and documented reset options say."""

import numpy as np
import pytest

from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV


@pytest.fixture
def env(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize("action", ["2", True, np.bool_(True), 1.0, 3, -1, [0, 1], None])
def test_actions_outside_discrete_3_are_refused(env, action):
    with pytest.raises((ValueError, TypeError)):
        env.step(action)


@pytest.mark.parametrize("action", [0, np.int64(2), np.array(1)])
def test_integer_actions_in_the_space_are_taken(env, action):
    env.step(action)


BAD_OPTIONS = [({"initial_lr": True}, "initial_lr"), ({"initial_lr": "0.1"}, "initial_lr"),
               ({"initial_lr": float("nan")}, "initial_lr"), ({"initial_lr": 5.0}, "lr_max"),
               ({"intial_lr": 1e-3}, "intial_lr")]


@pytest.mark.parametrize("options,fragment", BAD_OPTIONS)
def test_bad_reset_options_are_refused_by_name(env, options, fragment):
    with pytest.raises(ValueError, match=fragment):
        env.reset(seed=1, options=options)


def test_continuous_actions_must_be_numbers(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode="continuous", **SMALL_ENV)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="continuous action"):
        env.step(np.array(["up"]))
