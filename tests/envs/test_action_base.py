"""A residual policy (`env.action_base`): the child trains with the policy's LR times a base schedule."""

import math
import warnings

import numpy as np
import pytest
import torch

from lrctl.config import ConfigError, env_config
from lrctl.deploy.actions import BASE_SHAPES, base_multiplier, onecycle_shape
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.deploy.spec_mapping import spec_of
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV
from tests.policy_helpers import deployed_and_resumed_lrs, env_and_child, episode_lrs, make_policy

STEPS, EVERY = SMALL_ENV["child_steps"], SMALL_ENV["steps_per_action"]


def test_constant_base_is_one_everywhere():
    assert {base_multiplier("constant", s, STEPS, EVERY) for s in range(0, STEPS + 10, EVERY)} == {1.0}


@pytest.mark.parametrize("shape", ["cosine", "linear"])
def test_decay_bases_fall_from_near_one_to_near_zero_and_stay_at_zero_past_the_budget(shape):
    values = [base_multiplier(shape, s, 300, 5) for s in range(0, 300, 5)]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
    assert values[0] > 0.99 and 0 < values[-1] < 0.01  # the last decision still trains
    assert base_multiplier(shape, 400, 300, 5) == 0.0


@pytest.mark.parametrize("shape", list(BASE_SHAPES))
def test_each_decision_gets_the_schedule_at_the_middle_of_its_steps(shape):
    for start in range(0, 300, 10):
        fine = [BASE_SHAPES[shape](t / 300) for t in np.linspace(start, start + 10, 1001)]
        value = base_multiplier(shape, start, 300, 10)
        assert min(fine) < value < max(fine)
        if shape == "linear":  # the mean over the decision's span of the continuous schedule
            assert value == pytest.approx(np.mean(fine), rel=1e-12)


def test_onecycle_base_is_torchs_onecycle_shape():
    steps = 2000
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, total_steps=steps)
    torch_lrs = []
    for _ in range(steps):
        torch_lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    ours = [onecycle_shape(t / steps) for t in range(steps)]
    assert ours == pytest.approx(torch_lrs, abs=2e-3)  # torch's phases end one step earlier
    assert ours[0] == pytest.approx(1 / 25) and max(ours) == pytest.approx(1.0)
    assert int(np.argmax(ours)) == pytest.approx(0.3 * steps, abs=1)


def test_onecycle_base_rises_then_falls_and_stays_at_its_end_past_the_budget():
    values = [base_multiplier("onecycle", s, 300, 5) for s in range(0, 300, 5)]
    peak = int(np.argmax(values))
    assert values[:peak + 1] == sorted(values[:peak + 1]) and values[peak:] == sorted(values[peak:], reverse=True)
    assert 0.04 < values[0] < 0.05 and values[peak] > 0.99 and values[-1] < 0.01
    assert base_multiplier("onecycle", 400, 300, 5) == onecycle_shape(1.0) > 0


def test_unknown_base_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="action_base.*exponential.*cosine"):
        env_config("digits-mlp", action_base="exponential")


def test_the_policy_file_records_the_base():
    assert spec_of(env_config("digits-mlp", action_base="linear")).action_base == "linear"
    assert spec_of(env_config("digits-mlp")).action_base == "constant"


def _keep_all(env, seed=2, lr=1e-2):
    _, info = env.reset(seed=seed, options={"initial_lr": lr})
    infos, rewards, done = [], [], False
    while not done:
        _, r, done, _, info = env.step(2)
        infos.append(info)
        rewards.append(r)
    return infos, rewards


@pytest.mark.parametrize("shape", list(BASE_SHAPES))
def test_keeping_every_decision_follows_the_base_schedule(digits_like, shape):
    env = LRControlEnv("digits-mlp", data=digits_like, action_base=shape, **SMALL_ENV)
    infos, _ = _keep_all(env)
    expected = [1e-2 * BASE_SHAPES[shape]((s + EVERY / 2) / STEPS) for s in range(0, STEPS, EVERY)]
    assert [i["lr"] for i in infos] == pytest.approx(expected, rel=1e-12)


def test_actions_correct_the_base_by_at_most_the_cap_per_decision(digits_like):
    base = LRControlEnv("digits-mlp", data=digits_like, action_base="cosine", **SMALL_ENV)
    raised = LRControlEnv("digits-mlp", data=digits_like, action_base="cosine", **SMALL_ENV)
    base_lrs = [i["lr"] for i in _keep_all(base)[0]]
    raised.reset(seed=2, options={"initial_lr": 1e-2})
    raised_lrs = [raised.step(0)[4]["lr"] for _ in range(raised.n_decisions)]
    ratios = [r / b for r, b in zip(raised_lrs, base_lrs)]
    assert ratios == pytest.approx([1.05 ** (d + 1) for d in range(len(ratios))], rel=1e-9)


def test_reward_vs_base_is_zero_when_the_policy_keeps_and_the_twin_follows_the_base(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, action_base="cosine", reward="log_improvement_vs_base",
                       **SMALL_ENV)
    infos, rewards = _keep_all(env)
    assert rewards == [0.0] * len(rewards)  # the same network, batches and LRs as its twin: bit for bit
    assert all(i["base_val_loss"] == i["val_loss"] for i in infos)


def test_reward_vs_base_sums_to_the_log_ratio_of_the_base_runs_final_loss(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, action_base="linear", reward="log_improvement_vs_base",
                       **SMALL_ENV)
    base = LRControlEnv("digits-mlp", data=digits_like, action_base="linear", reward="log_improvement",
                        **SMALL_ENV)
    env.reset(seed=4, options={"initial_lr": 1e-2})
    base_infos, _ = _keep_all(base, seed=4)
    total = 0.0
    for base_info in base_infos:
        _, r, done, _, info = env.step(1)
        assert info["base_val_loss"] == pytest.approx(base_info["val_loss"], rel=1e-6)
        total += r
    assert done
    assert total == pytest.approx(math.log(base_infos[-1]["val_loss"] / info["val_loss"]), rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("shape,mode", [("cosine", "discrete"), ("linear", "continuous"), ("onecycle", "discrete")])
def test_policy_scheduler_applies_the_base_exactly_as_the_environment(digits_like, shape, mode):
    policy = make_policy(mode, features="scale_free_lr", seed=1, action_base=shape)
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, mode, features="scale_free_lr", action_base=shape)
    env_lrs = episode_lrs(env, obs, policy)
    lrs, resumed = deployed_and_resumed_lrs(digits_like, model, order, (vx, vy), policy, 1e-3, STEPS)
    assert lrs == env_lrs  # exact, step by step
    assert resumed == lrs  # resuming keeps the policy's own LR


def test_policy_scheduler_asks_for_the_budget_a_residual_policy_decays_over(digits_like):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    val = (digits_like.val_x[:8], digits_like.val_y[:8])
    residual = make_policy("discrete", features="scale_free_lr", action_base="linear")
    with pytest.warns(UserWarning, match="linear base schedule over total_steps, which defaults to 20"):
        PolicyScheduler(torch.optim.Adam(model.parameters(), lr=1e-3), residual, model=model, val_data=val)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PolicyScheduler(torch.optim.Adam(model.parameters(), lr=1e-3), residual, model=model, val_data=val,
                        total_steps=20)
