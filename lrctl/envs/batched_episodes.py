"""Episodes of K children of one setting trained in one batched pass, under the rules of
`lrctl.envs.core.EpisodeCore`: what the SB3 VecEnv (`lrctl.agents.batched_vec_env`), Gymnasium's vector
entry point (`lrctl.envs.vector`) and the batched evaluation drive.

With a task distribution (`env.tasks`), the K children train one drawn task per round (an MLP of the
same shape, so they still run as one pass) rather than one each, and the round's task comes from a
seeded RNG of its own: a seed gives the same rounds, but not the tasks `LRControlEnv` would draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrctl.children.batched import BatchedChildren, ChildrenWithTwins
from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits, setting_data
from lrctl.device import resolve_device
from lrctl.envs.core import Children, Decision, EpisodeCore
from lrctl.envs.rewards import needs_twins
from lrctl.settings import ModelFactory, get_setting
from lrctl.tasks import ChildTask, draw_task, draws_tasks

_TASK_STREAM = 0x7A5C  # the round-task RNG of a seeded batched env: a stream apart from the children's


class BatchedEpisodes:
    """K episodes at a time: the batched children (and their twins), the episode core, the round's task.

    Args:
        env_cfg: the environment's config.
        k: the number of children.
        data: splits to use instead of loading the setting's dataset.
    """

    def __init__(self, env_cfg: EnvConfig, k: int, data: DatasetSplits | None = None) -> None:
        self.cfg, self.k = env_cfg, k
        self.device = resolve_device(env_cfg.device)
        setting = get_setting(env_cfg.setting)
        if data is None:
            data = setting_data(setting, env_cfg.data_root, self.device, env_cfg.download)
        self.data = data.to(self.device)
        self.children, twins = self._children(self.data, setting.model, env_cfg)
        self.core = EpisodeCore(env_cfg, self.children, twins)
        self.draws_tasks = draws_tasks(env_cfg)
        self._task_rng = np.random.default_rng()
        self.round_task: ChildTask | None = None
        """The task every child trains this round (None without a task distribution)."""

    def _children(self, data: DatasetSplits, model_name: str | ModelFactory, cfg: EnvConfig,
                  task: ChildTask | None = None) -> tuple[Children, Children | None]:
        """The K children, and their K twins where the reward needs them, as halves of one batched pass."""
        if not needs_twins(cfg):
            return BatchedChildren(data, model_name, cfg, self.k, task), None
        pair = ChildrenWithTwins(data, model_name, cfg, self.k, task)
        return pair.children, pair.twins

    def start(self, indices: list[int], seeds: list[int | None] | None = None,
              lrs: list[Any] | None = None) -> tuple[np.ndarray, dict[int, dict[str, Any]]]:
        """Start children `indices` as `EpisodeCore.start` does; with a task distribution, every one of
        them on a new round's task (drawn from the RNG the first seed, if any, reseeds)."""
        if not self.draws_tasks:
            return self.core.start(indices, seeds, lrs)
        if seeds is not None and seeds[0] is not None:
            self._task_rng = np.random.default_rng((int(seeds[0]), _TASK_STREAM))
        task = draw_task(self.cfg, self._task_rng)
        self.round_task = task
        self.children, twins = self._children(task.data(self.cfg, self.device), task.model, task.env(self.cfg), task)
        self.core.use_children(self.children, twins)
        return self.core.start(indices, seeds, lrs, tasks=[task] * len(indices))

    def restart(self, indices: list[int]) -> tuple[np.ndarray, dict[int, dict[str, Any]]]:
        """Start children `indices` anew within the round (on its task, where tasks are drawn)."""
        return self.core.start(indices, tasks=[self.round_task] * len(indices) if self.draws_tasks else None)

    def round_over(self, decision: Decision) -> bool:
        """Whether a decision ends the round: with a task distribution, when a child reached the task's
        budget (a child that diverged restarts within the round)."""
        return self.draws_tasks and any(ended and not info["diverged"]
                                        for ended, info in zip(decision.terminated, decision.infos))
