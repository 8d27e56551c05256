"""The environment passes stable-baselines3's and Gymnasium's checkers and is registered."""

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import lrctl  # noqa: F401  (registers lrctl/LRControl-v0)
from lrctl.deploy.features import FEATURE_SETS
from lrctl.envs import ENV_ID, LRControlEnv
from tests.conftest import SMALL_ENV


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
def test_passes_sb3_check_env(digits_like, mode):
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode=mode, **SMALL_ENV)
    sb3_check_env(env, warn=False)


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
def test_passes_gymnasium_check_env(digits_like, mode):
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode=mode, **SMALL_ENV)
    gym_check_env(env, skip_render_check=True)


def test_continuous_action_space_is_symmetric_unit_box(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode="continuous", **SMALL_ENV)
    assert env.action_space.shape == (1,)
    assert env.action_space.low[0] == -1.0 and env.action_space.high[0] == 1.0


def test_gymnasium_make_builds_the_registered_env():
    env = gymnasium.make(ENV_ID, setting="digits-mlp", action_mode="continuous", **SMALL_ENV)
    obs, info = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape
    assert env.unwrapped.feature_names == FEATURE_SETS["both"]  # the default feature set
    assert info["child_step"] == 0


def test_bad_option_is_a_config_error_naming_the_key():
    from lrctl.config import ConfigError

    with pytest.raises(ConfigError, match="action_mode"):
        LRControlEnv("digits-mlp", action_mode="sideways")
