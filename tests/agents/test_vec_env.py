"""build_vec_env picks the VecEnv the config asks for, and falls back where children cannot be batched."""

import warnings

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
from lrctl.agents.vec_env import build_vec_env
from lrctl.children.batched import batchable
from lrctl.config import PPOConfig, env_config
from lrctl.deploy.features import feature_set
from tests.conftest import SMALL_ENV, make_splits


def test_batched_setting_gets_the_batched_vec_env_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        venv = build_vec_env(env_config("digits-mlp", **SMALL_ENV), PPOConfig(vec_env="batched", n_envs=3), seed=0)
    assert isinstance(venv.venv, BatchedLRControlVecEnv) and venv.num_envs == 3


@pytest.mark.slow
def test_batchnorm_children_fall_back_to_separate_environments(monkeypatch):
    data = make_splits((3, 32, 32), n_train=16, n_val=8, n_test=8)
    monkeypatch.setattr("lrctl.envs.lr_control.setting_data", lambda *args, **kwargs: data)
    cfg = env_config("cifar10-resnet18", device="cpu", **SMALL_ENV)
    with pytest.warns(UserWarning, match=r"resnet18 \(cifar10-resnet18\) has BatchNorm.*vec_env: subproc"):
        venv = build_vec_env(cfg, PPOConfig(vec_env="batched", n_envs=1), seed=0)
    assert isinstance(venv.venv, DummyVecEnv)  # one environment: no worker process needed
    obs = venv.reset()
    _, rewards, _, _ = venv.step(np.array([2]))
    assert obs.shape == (1, len(feature_set(cfg.features))) and np.isfinite(rewards).all()


@pytest.mark.parametrize("setting,expected", [("digits-mlp", True), ("fmnist-lenet5", True),
                                              ("cifar10-resnet18", False)])
def test_batchable_tells_which_settings_can_be_batched(setting, expected):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert batchable(setting, otherwise="something else") is expected
    assert [str(w.message).endswith("something else") for w in caught] == ([] if expected else [True])


def test_training_with_children_that_cannot_be_batched_falls_back_and_finishes(tmp_path, monkeypatch):
    from lrctl.agents.trainer import train
    from lrctl.config import load_config
    from tests.agents.test_training_run import TINY

    monkeypatch.setattr("lrctl.children.batched.supports_batching", lambda model: False)  # as for ResNet-18
    cfg = load_config(None, [*TINY, "ppo.vec_env=batched", "ppo.n_envs=1", f"run_dir={tmp_path / 'run'}"])
    with pytest.warns(UserWarning) as caught:
        result = train(cfg, log=lambda *_: None)
    messages = [str(w.message) for w in caught]
    assert any("separate environments" in m for m in messages)
    assert any("the learned policy's episodes run one by one" in m for m in messages)  # report.md
    assert result.timesteps == 48 and "| 0.01 |" in (result.run_dir / "report.md").read_text()
