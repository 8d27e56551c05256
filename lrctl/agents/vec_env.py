"""Vectorised, normalised LRControl environments for stable-baselines3."""

from __future__ import annotations

import os
from dataclasses import replace

from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecMonitor,
    VecNormalize,
)

from lrctl.agents.env_factory import env_thunk
from lrctl.config import EnvConfig, PPOConfig


def use_subprocesses(ppo: PPOConfig) -> bool:
    """SubprocVecEnv when asked for, with more than one environment and more than one core."""
    return ppo.vec_env == "subproc" and ppo.n_envs > 1 and (os.cpu_count() or 1) > 1


def build_vec_env(env_cfg: EnvConfig, ppo: PPOConfig, seed: int, ray_address: str | None = None) -> VecEnv:
    """`ppo.n_envs` environments (seeded seed, seed + 1, ...), with episode statistics (VecMonitor).

    `vec_env: batched` with children that cannot be batched (BatchNorm, Dropout) falls back to `subproc`;
    with drawn tasks (`env.tasks`) the batched children share one task per round. `vec_env: ray` runs
    them in Ray actors on the cluster at `ray_address` (or RAY_ADDRESS, or a local Ray started for it).
    """
    if ppo.vec_env == "ray":
        from lrctl.agents.ray_vec_env import RayVecEnv

        venv = RayVecEnv(env_cfg, ppo, ray_address)
        venv.seed(seed)
        return VecMonitor(venv)
    if ppo.vec_env == "batched":
        from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
        from lrctl.children.batched import batchable
        from lrctl.tasks import draws_tasks

        # Drawn tasks are MLPs, which always batch: the children then share one task per round.
        if draws_tasks(env_cfg) or batchable(env_cfg.setting,
                                             otherwise="its children run as separate environments (vec_env: subproc)"):
            venv: VecEnv = BatchedLRControlVecEnv(env_cfg, ppo.n_envs)
            venv.seed(seed)
            return VecMonitor(venv)
        ppo = replace(ppo, vec_env="subproc")
    thunks = [env_thunk(env_cfg) for _ in range(ppo.n_envs)]
    venv = SubprocVecEnv(thunks) if use_subprocesses(ppo) else DummyVecEnv(thunks)
    venv.seed(seed)
    return VecMonitor(venv)


def normalize(venv: VecEnv, ppo: PPOConfig) -> VecNormalize:
    """Wrap `venv` in VecNormalize: running statistics of observations and rewards."""
    return VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=ppo.clip_obs, gamma=ppo.gamma)
