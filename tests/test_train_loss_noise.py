"""`log_train_noise` (feature set `scale_free_lr_noise`): how noisy the per-step training losses are,
on any loss scale, averaged over the last decisions; the environment and the scheduler compute it alike."""

import math

import numpy as np
import pytest
import torch

from lrctl.deploy.features import NOISE_FLOOR, TREND_WINDOW, FeatureTracker, feature_set, train_loss_noise
from tests.conftest import SMALL_ENV
from tests.policy_helpers import deployed_and_resumed_lrs, env_and_child, episode_lrs, make_policy

NAMES = feature_set("scale_free_lr_noise")


def test_noise_is_the_squared_coefficient_of_variation_and_ignores_the_loss_scale():
    losses = torch.tensor([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])
    assert train_loss_noise(losses).tolist() == pytest.approx([(2 / 3) / 4, 0.0])
    assert train_loss_noise(losses * 1000).tolist() == pytest.approx(train_loss_noise(losses).tolist())


def _observe(tracker, noise=None, starting=None):
    logits = torch.zeros(1, 4, 3)
    labels = torch.zeros(1, 4, dtype=torch.long)
    obs, _ = tracker.observe(logits, labels, torch.zeros(1, 3, 2), None if starting else torch.tensor([1.0]),
                             np.array([1e-3]), np.array([0 if starting else 5]), np.array([100]), 5,
                             starting=starting, train_loss_noise=None if noise is None else torch.tensor([noise]))
    return float(obs[0, NAMES.index("log_train_noise")])


def test_feature_averages_the_last_decisions_and_starts_at_zero():
    tracker = FeatureTracker(1, NAMES)
    assert _observe(tracker, starting=[0]) == 0.0
    assert _observe(tracker, 0.04) == pytest.approx(0.5 * math.log(0.04 + NOISE_FLOOR), rel=1e-6)
    assert _observe(tracker, 0.16) == pytest.approx(0.5 * math.log(0.10 + NOISE_FLOOR), rel=1e-6)
    for _ in range(TREND_WINDOW):
        value = _observe(tracker, 0.01)
    assert value == pytest.approx(0.5 * math.log(0.01 + NOISE_FLOOR), rel=1e-6)  # older intervals dropped
    assert _observe(tracker, starting=[0]) == 0.0  # a new episode forgets the last one's


def test_equal_losses_give_a_finite_value():
    tracker = FeatureTracker(1, NAMES)
    _observe(tracker, starting=[0])
    assert math.isfinite(_observe(tracker, 0.0))


def test_a_decision_without_the_noise_is_an_error():
    tracker = FeatureTracker(1, NAMES)
    _observe(tracker, starting=[0])
    with pytest.raises(ValueError, match="log_train_noise needs train_loss_noise"):
        _observe(tracker)


def test_policy_scheduler_computes_the_feature_exactly_as_the_environment(digits_like):
    policy = make_policy("continuous", features="scale_free_lr_noise", seed=2, action_base="linear")
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, "continuous", features="scale_free_lr_noise",
                                                     action_base="linear")
    assert obs[NAMES.index("log_train_noise")] == 0.0
    env_lrs = episode_lrs(env, obs, policy)
    assert len(set(env_lrs)) > 2  # the policy acts
    lrs, resumed = deployed_and_resumed_lrs(digits_like, model, order, (vx, vy), policy, 1e-3,
                                            SMALL_ENV["child_steps"])
    assert lrs == env_lrs  # exact, step by step
    assert resumed == lrs  # a resumed scheduler keeps the noise history
