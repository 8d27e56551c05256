"""Rewards (the paper's minus validation loss, and the telescoping variants); info carries the documented keys."""

import math

import pytest
import torch
import torch.nn.functional as F

from lrctl.config import ConfigError
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV


def test_default_reward_is_the_gain_over_a_constant_lr():
    from lrctl.config import EnvConfig

    assert EnvConfig().reward == "log_improvement_vs_constant"


def test_val_loss_reward_is_minus_validation_loss_of_the_child(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, reward="val_loss", **SMALL_ENV)
    env.reset(seed=0)
    for _ in range(env.n_decisions):
        _, reward, terminated, _, info = env.step(0)
        child = env.child
        child.model.eval()
        with torch.no_grad():
            expected = F.cross_entropy(child.model(child.val_x), child.val_y).item()
        child.model.train()
        assert reward == pytest.approx(-expected, rel=1e-6)
        assert reward == pytest.approx(-info["val_loss"], rel=1e-12)
    assert terminated


def test_info_has_step_keys_and_final_metrics_at_the_end(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=0)
    steps = []
    terminated = False
    while not terminated:
        _, _, terminated, truncated, info = env.step(2)
        steps.append(info["child_step"])
        assert {"lr", "train_loss", "val_loss", "child_step", "diverged"} <= info.keys()
        assert not truncated
    assert steps == [5, 10, 15, 20]
    assert {"final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy"} <= info.keys()
    assert 0.0 <= info["test_accuracy"] <= 1.0


def test_validation_subset_is_the_configured_size_and_fixed(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=4)
    subset = env.child.val_x.clone()
    env.step(0)
    assert len(subset) == SMALL_ENV["val_subset_size"]
    assert torch.equal(env.child.val_x, subset)


def test_step_after_the_end_asks_for_reset(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=0)
    for _ in range(env.n_decisions):
        env.step(2)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(2)


@pytest.mark.parametrize("reward", ["log_improvement"])
def test_telescoping_rewards_sum_to_the_gain_over_the_episode(digits_like, reward):
    env = LRControlEnv("digits-mlp", data=digits_like, reward=reward, **SMALL_ENV)
    _, info = env.reset(seed=4, options={"initial_lr": 1e-2})
    first, total, done = info["val_loss"], 0.0, False
    while not done:
        _, r, done, _, info = env.step(2)
        total += r
    gain = first - info["val_loss"] if reward == "improvement" else math.log(first / info["val_loss"])
    assert total == pytest.approx(gain, rel=1e-5, abs=1e-6)
    assert gain > 0  # the child learned, so the return is positive


def test_unknown_reward_is_refused_by_name():
    with pytest.raises(ConfigError, match="reward"):
        LRControlEnv("digits-mlp", reward="final_loss", **SMALL_ENV)


def test_reward_vs_constant_sums_to_the_log_ratio_of_the_final_losses(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, reward="log_improvement_vs_constant", **SMALL_ENV)
    twin = LRControlEnv("digits-mlp", data=digits_like, reward="log_improvement", **SMALL_ENV)
    env.reset(seed=4, options={"initial_lr": 1e-2})
    twin.reset(seed=4, options={"initial_lr": 1e-2})
    total, done = 0.0, False
    while not done:
        _, r, done, _, info = env.step(1)  # the policy decays; the twin keeps 1e-2
        _, _, _, _, twin_info = twin.step(2)
        assert info["constant_val_loss"] == pytest.approx(twin_info["val_loss"], rel=1e-6)
        total += r
    assert total == pytest.approx(math.log(twin_info["val_loss"] / info["val_loss"]), rel=1e-4, abs=1e-6)


def test_reward_vs_constant_is_zero_when_the_policy_keeps_the_lr(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, reward="log_improvement_vs_constant", **SMALL_ENV)
    env.reset(seed=1, options={"initial_lr": 1e-3})
    for _ in range(env.n_decisions):
        _, r, *_ = env.step(2)
        assert r == 0.0  # the same network, batches and LR as its twin: bit for bit


def test_bounded_reward_sums_to_the_bounded_log_ratio_of_the_final_losses(digits_like):
    bound = 0.05
    env = LRControlEnv("digits-mlp", data=digits_like, reward="log_improvement_vs_constant", reward_bound=bound,
                       **SMALL_ENV)
    env.reset(seed=4, options={"initial_lr": 1e-2})
    rewards, done = [], False
    while not done:
        _, r, done, _, info = env.step(1)  # the policy decays; its twin keeps 1e-2
        rewards.append(r)
    log_ratio = math.log(info["constant_val_loss"] / info["val_loss"])
    assert sum(rewards) == pytest.approx(bound * math.tanh(log_ratio / bound), rel=1e-4, abs=1e-6)
    assert abs(sum(rewards)) < bound and abs(sum(rewards)) < abs(log_ratio)


@pytest.mark.parametrize("overrides,match", [
    ({"reward": "log_improvement", "reward_bound": 0.1}, "reward_bound: 0.1 bounds the gain over a twin"),
    ({"reward_bound": -0.1}, "reward_bound: must be 0"),
])
def test_a_reward_bound_without_a_twin_or_below_zero_is_a_config_error(overrides, match):
    with pytest.raises(ConfigError, match=match):
        LRControlEnv("digits-mlp", **{**SMALL_ENV, **overrides})
