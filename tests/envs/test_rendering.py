"""Gymnasium's render API: the environment declares its render modes, renders them, and names a mode it
cannot render."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import lrctl  # noqa: F401  registers lrctl/LRControl-v0
from lrctl.envs import ENV_ID, LRControlEnv
from tests.conftest import SMALL_ENV


def test_the_render_modes_are_declared_and_none_renders_nothing(digits_like):
    assert set(LRControlEnv.metadata["render_modes"]) == {"ansi", "rgb_array"}
    env = LRControlEnv("digits-mlp", data=digits_like, render_mode=None, **SMALL_ENV)
    env.reset(seed=0)
    assert env.render() is None


def test_ansi_gives_the_last_decisions_step_lr_and_loss(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, render_mode="ansi", **SMALL_ENV)
    env.reset(seed=0)
    _, _, _, _, info = env.step(0)
    text = env.render()
    assert f"step {info['child_step']}/{SMALL_ENV['child_steps']}" in text and f"{info['lr']:.3e}" in text


def test_rgb_array_is_a_picture_of_the_episode_so_far():
    env = gym.make(ENV_ID, render_mode="rgb_array", **SMALL_ENV)
    env.reset(seed=0)
    first = env.render()
    env.step(0)
    second = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    assert not np.array_equal(first, second)  # the new decision is drawn


def test_a_mode_it_cannot_render_is_named(digits_like):
    with pytest.raises(ValueError, match="'human'.*'ansi' or 'rgb_array'"):
        LRControlEnv("digits-mlp", data=digits_like, render_mode="human", **SMALL_ENV)
    with pytest.raises(ValueError, match="does not render"):
        gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", render_mode="ansi", **SMALL_ENV)
