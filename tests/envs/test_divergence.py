"""A diverging child ends the episode with the penalty and never shows non-finite observations."""

import numpy as np
import pytest

from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV


def test_huge_lr_diverges_with_penalty_and_finite_observation(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, optimizer="sgd", momentum=0.0, lr_max=1e12,
                       initial_lrs=[1e12], divergence_penalty=7.0, **SMALL_ENV)
    obs, _ = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(2)
    assert info["diverged"] is True
    assert terminated and not truncated
    assert reward == pytest.approx(-7.0 * env.n_decisions)  # charged for every decision left
    assert np.isfinite(obs).all()
    assert "final_val_loss" not in info


def test_ending_early_never_pays_more_than_finishing(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=0)
    worst_step = env.config.divergence_penalty
    assert worst_step > np.log(digits_like.num_classes)  # above a chance-level loss per decision
