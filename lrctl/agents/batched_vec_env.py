"""`BatchedLRControlVecEnv`: the batched children as a stable-baselines3 VecEnv."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvObs,
    VecEnvStepReturn,
)

from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits
from lrctl.envs.batched_episodes import BatchedEpisodes
from lrctl.envs.core import Children, EpisodeCore
from lrctl.envs.lr_control import action_space, observation_space
from lrctl.tasks import ChildTask


class BatchedLRControlVecEnv(VecEnv):
    """`num_envs` LRControl environments of one setting, stepped together in one batched pass.

    Behaves as `num_envs` `LRControlEnv`s with seeds seed, seed + 1, ... under an SB3 VecEnv: the same
    observations, rewards, dones and infos (within float tolerance), with automatic reset. The rules of
    a decision are `lrctl.envs.core.EpisodeCore`'s, as in `LRControlEnv`; with a task distribution the
    children train one task per round (`lrctl.envs.batched_episodes`).

    Args:
        env_cfg: the environment's config.
        num_envs: the number of children.
        data: splits to use instead of loading the setting's dataset.
    """

    def __init__(self, env_cfg: EnvConfig, num_envs: int, data: DatasetSplits | None = None) -> None:
        self.cfg = env_cfg
        self.episodes = BatchedEpisodes(env_cfg, num_envs, data)
        self.render_mode = None
        super().__init__(num_envs, observation_space(len(self.core.tracker.feature_names)), action_space(env_cfg))
        self.n_decisions = self.core.n_decisions
        self._actions: np.ndarray | None = None

    @property
    def core(self) -> EpisodeCore:
        return self.episodes.core

    @property
    def children(self) -> Children:
        return self.episodes.children

    @property
    def data(self) -> DatasetSplits:
        return self.episodes.data

    @property
    def _round_task(self) -> ChildTask | None:
        return self.episodes.round_task

    def reset(self) -> VecEnvObs:
        """Reset every child; seeds from `seed()` and `initial_lr` from `set_options()` apply once."""
        indices = list(range(self.num_envs))
        seeds = self._seeds if self._seeds else None
        lrs = [o.get("initial_lr") if o else None for o in self._options]
        obs, infos = self.episodes.start(indices, seeds, lrs)
        self.reset_infos = [infos[i] for i in indices]
        self._reset_seeds()
        self._reset_options()
        return obs

    def reset_episodes(self, seeds: list[int], initial_lrs: list[float]) -> VecEnvObs:
        """Start child i's episode as `LRControlEnv.reset(seed=seeds[i], options={"initial_lr": ...})`.

        For evaluations, which need particular seeds and initial LRs rather than SB3's seed, seed+1, ...
        """
        if len(seeds) != self.num_envs or len(initial_lrs) != self.num_envs:
            raise ValueError(f"reset_episodes needs {self.num_envs} seeds and initial LRs, "
                             f"got {len(seeds)} and {len(initial_lrs)}")
        indices = list(range(self.num_envs))
        obs, infos = self.episodes.start(indices, [int(s) for s in seeds], [float(lr) for lr in initial_lrs])
        self.reset_infos = [infos[i] for i in indices]
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """One decision of every child. A child that ends restarts at once (SB3's automatic reset). With a
        task distribution, the round ends when its children reach the task's budget: every child then
        restarts on a new task, and one still running (restarted after a divergence) is truncated."""
        assert self._actions is not None
        decision = self.core.step(list(self._actions))
        obs, infos, dones = decision.obs, decision.infos, decision.terminated.copy()
        ended = [i for i in range(self.num_envs) if dones[i]]
        if self.episodes.round_over(decision):
            for i in range(self.num_envs):
                infos[i]["TimeLimit.truncated"] = not dones[i]
                infos[i]["terminal_observation"] = obs[i].copy()
            dones[:] = True
            obs, _ = self.episodes.start(list(range(self.num_envs)))
            return obs, decision.rewards, dones, infos
        for i in ended:
            infos[i]["terminal_observation"] = obs[i].copy()
            infos[i]["TimeLimit.truncated"] = False
        if ended:
            fresh, _ = self.episodes.restart(ended)
            obs[ended] = fresh[ended]
        return obs, decision.rewards, dones, infos

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("BatchedLRControlVecEnv has no per-environment objects")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
