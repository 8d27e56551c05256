"""The config's PPO hyperparameters reach the SB3 model that trains the controller."""

import math

import pytest
import torch

from lrctl.agents.trainer import build_ppo
from lrctl.agents.vec_env import build_vec_env, normalize
from lrctl.config import load_config

SMALL = ["env.child_steps=20", "env.steps_per_action=5", "env.batch_size=16", "env.val_subset_size=32",
         "env.action_mode=continuous", "ppo.n_envs=2", "ppo.vec_env=dummy", "progress_bar=false"]


@pytest.mark.parametrize("log_std_init", [0.0, -1.5])
def test_gaussian_actions_start_at_the_configured_standard_deviation(tmp_path, log_std_init):
    cfg = load_config(None, [*SMALL, f"ppo.log_std_init={log_std_init}", f"run_dir={tmp_path / 'run'}"])
    venv = normalize(build_vec_env(cfg.env, cfg.ppo, cfg.seed), cfg.ppo)
    try:
        model = build_ppo(cfg, venv, tmp_path / "run")
        std = model.policy.log_std.exp()
        assert torch.allclose(std, torch.full_like(std, math.exp(log_std_init)))
    finally:
        venv.close()
