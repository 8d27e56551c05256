"""reset(seed=s) fixes the whole episode: same seed, same bits; another seed, another episode."""

import numpy as np
import pytest

from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV


def _episode(env, seed, actions=(0, 1, 2, 0)):
    obs, info = env.reset(seed=seed)
    trace = [obs.tobytes(), info["lr"]]
    for a in actions:
        obs, reward, *_ , info = env.step(a)
        trace += [obs.tobytes(), reward, info["lr"]]
    trace.append(env.child.model.state_dict()["3.weight"].numpy().tobytes())
    return trace


def test_same_seed_gives_a_bit_identical_episode(digits_like):
    kwargs = dict(data=digits_like, lr_noise_std=0.1, **SMALL_ENV)
    first = _episode(LRControlEnv("digits-mlp", **kwargs), seed=11)
    second = _episode(LRControlEnv("digits-mlp", **kwargs), seed=11)
    assert first == second


def test_same_env_reseeded_repeats_itself(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    assert _episode(env, seed=5) == _episode(env, seed=5)


def test_different_seed_gives_a_different_episode(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    a, b = _episode(env, seed=1), _episode(env, seed=2)
    assert a[-1] != b[-1]  # different child initialisation / batches


def test_initial_lr_is_drawn_from_the_configured_set(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, initial_lrs=[1e-2, 1e-3, 1e-4], **SMALL_ENV)
    seen = {env.reset(seed=s)[1]["initial_lr"] for s in range(30)}
    assert seen == {1e-2, 1e-3, 1e-4}
    assert env.reset(seed=0, options={"initial_lr": 3e-3})[1]["lr"] == 3e-3
    assert np.isfinite(env.reset(seed=0)[0]).all()


def test_episode_start_gives_the_child_reset_trains(digits_like):
    import torch

    from lrctl.children.child import ChildRun, episode_rng, episode_start

    env = LRControlEnv("digits-mlp", data=digits_like, **SMALL_ENV)
    env.reset(seed=42, options={"initial_lr": 1e-3})
    cfg = env.config
    child_seed, lr = episode_start(cfg, episode_rng(42), 1e-3)
    twin = ChildRun.for_episode(cfg, env.data, "digits-mlp", child_seed, lr)
    assert torch.equal(twin.order, env.child.order)
    assert torch.equal(twin.val_x, env.child.val_x)
    for a, b in zip(twin.model.parameters(), env.child.model.parameters()):
        assert torch.equal(a, b)


def test_initial_lr_range_draws_log_uniformly_and_reproducibly(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, initial_lr_range=[1e-4, 1e-2], **SMALL_ENV)
    lrs = [env.reset(seed=s)[1]["lr"] for s in range(200)]
    assert all(1e-4 <= lr <= 1e-2 for lr in lrs)
    logs = np.log10(lrs)
    assert -3.3 < logs.mean() < -2.7 and (logs < -3.5).any() and (logs > -2.5).any()  # spread over decades
    assert lrs[:5] == [env.reset(seed=s)[1]["lr"] for s in range(5)]


def test_initial_lr_range_must_lie_inside_the_clamp():
    from lrctl.config import ConfigError

    with pytest.raises(ConfigError, match="initial_lr_range"):
        LRControlEnv("digits-mlp", initial_lr_range=[1e-3, 10.0], **SMALL_ENV)
