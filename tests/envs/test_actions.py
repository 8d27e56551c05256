"""The LR update rule: the 5% cap, inverse continuous actions, noise within the cap, the clamp."""

import math

import numpy as np
import pytest

from lrctl.deploy.actions import next_lr
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV

CAP = 0.05


@pytest.mark.parametrize("action", [0, 1, 2])
def test_discrete_actions_change_at_most_the_cap(action):
    new = next_lr(1e-3, action, "discrete", CAP, 1e-6, 1.0)
    assert new / 1e-3 == pytest.approx({0: 1 + CAP, 1: 1 / (1 + CAP), 2: 1.0}[action], rel=1e-12)


@pytest.mark.parametrize("a", np.linspace(-3, 3, 25))
def test_continuous_change_never_exceeds_the_cap(a):
    ratio = next_lr(1e-3, np.array([a], dtype=np.float32), "continuous", CAP, 1e-6, 1.0) / 1e-3
    assert 1 / (1 + CAP) - 1e-12 <= ratio <= 1 + CAP + 1e-12


def test_continuous_plus_one_and_minus_one_are_inverses():
    up = next_lr(1e-3, np.array([1.0]), "continuous", CAP, 1e-6, 1.0)
    back = next_lr(up, np.array([-1.0]), "continuous", CAP, 1e-6, 1.0)
    assert up == pytest.approx(1e-3 * 1.05, rel=1e-12)
    assert back == pytest.approx(1e-3, rel=1e-12)


@pytest.mark.parametrize("noise", [-5.0, -0.01, 0.01, 5.0])
def test_noise_keeps_the_cap(noise):
    for a in (-1.0, 0.0, 1.0):
        ratio = next_lr(1e-3, np.array([a]), "continuous", CAP, 1e-6, 1.0, noise=noise) / 1e-3
        assert abs(math.log(ratio)) <= math.log(1 + CAP) + 1e-12


def test_lr_is_clamped_to_the_range():
    assert next_lr(0.99, 0, "discrete", CAP, 1e-6, 1.0) == 1.0
    assert next_lr(1.0001e-6, 1, "discrete", CAP, 1e-6, 1.0) == 1e-6


@pytest.mark.parametrize("bad", [3, -1, 1.5, 1.0, True, "2", np.bool_(False)])
def test_invalid_discrete_action_is_rejected(bad):
    with pytest.raises(ValueError, match="discrete action"):
        next_lr(1e-3, bad, "discrete", CAP, 1e-6, 1.0)


def test_env_never_changes_lr_beyond_cap_and_stays_in_clamp(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode="continuous", lr_noise_std=0.5,
                       lr_min=1e-3, lr_max=1.05e-2, initial_lrs=[1e-2], **SMALL_ENV)
    env.reset(seed=3)
    lr = env.lr
    for _ in range(env.n_decisions):
        _, _, terminated, _, info = env.step(np.array([1.0], dtype=np.float32))
        assert info["lr"] / lr <= 1 + CAP + 1e-12
        assert 1e-3 <= info["lr"] <= 1.05e-2
        lr = info["lr"]
    assert terminated


def test_env_pushed_up_every_decision_sits_at_the_upper_clamp(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, lr_max=1.05e-2, initial_lrs=[1e-2], **SMALL_ENV)
    env.reset(seed=3)
    lrs = [env.step(0)[4]["lr"] for _ in range(env.n_decisions)]
    assert lrs == [1.05e-2] * env.n_decisions
