"""`LRControlVectorEnv`: the batched children as a Gymnasium `VectorEnv`.

`gymnasium.make_vec("lrctl/LRControl-v0", num_envs=K, vectorization_mode="vector_entry_point", ...)`
gives this: K children trained in one batched pass (`lrctl.envs.batched_episodes`), under Gymnasium's
vector API as CleanRL-style scripts use it. Sub-environment i reset with seed s has the episode of
`LRControlEnv.reset(seed=s)` (within float tolerance, as batched children do), so it matches the sync
and async modes for the same seeds and the same autoreset mode. `autoreset_mode` is Gymnasium's:
`NEXT_STEP` (its default, and this one's) returns a finished episode's last observation with
``terminated``, and restarts that sub-environment at the next step, whose action for it is ignored;
`SAME_STEP` (as stable-baselines3 does) returns the new episode's first observation in the step that
ends the old one, with the old one's in ``info["final_obs"]`` and ``info["final_info"]``.

With a task distribution (`env.tasks`) the children train one drawn task per round
(`lrctl.envs.batched_episodes`): when they reach the task's budget the round ends, a sub-environment
still running (restarted after a divergence) is truncated, and all of them start the next round's task.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from lrctl.config import ConfigError, EnvConfig, resolve_env_config
from lrctl.envs.batched_episodes import BatchedEpisodes
from lrctl.envs.lr_control import action_space, observation_space


class LRControlVectorEnv(VectorEnv):
    """`num_envs` LRControl environments stepped together in one batched pass.

    Args:
        num_envs: the number of sub-environments (children).
        config: an `EnvConfig` or a setting's name, as for `LRControlEnv`.
        autoreset_mode: `AutoresetMode.NEXT_STEP` (default) or `AutoresetMode.SAME_STEP` (or their values,
            "next_step" and "same_step"); `gymnasium.make_vec` passes it as a keyword.
        render_mode: None; the vector entry point does not render.
        **options: `EnvConfig` fields on top of `config` (how `gymnasium.make_vec` passes them).

    Example:
        >>> import gymnasium, lrctl
        >>> envs = gymnasium.make_vec("lrctl/LRControl-v0", num_envs=2, vectorization_mode="vector_entry_point",
        ...                           child_steps=20, steps_per_action=5)
        >>> obs, infos = envs.reset(seed=0)
        >>> obs, rewards, terminated, truncated, infos = envs.step(envs.action_space.sample())
    """

    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int, config: EnvConfig | str = "digits-mlp", *,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, render_mode: str | None = None,
                 **options: Any) -> None:
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            mode = None
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
            raise ValueError(f"autoreset_mode {autoreset_mode!r}: the vector entry point resets in the next step "
                             "or the same step; pass AutoresetMode.NEXT_STEP or AutoresetMode.SAME_STEP")
        self.autoreset_mode = mode
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r}: the vector entry point does not render; pass None, or "
                             "render single environments (LRControlEnv renders 'ansi' and 'rgb_array')")
        self.render_mode = None
        options.pop("max_episode_steps", None)  # an episode ends at its budget; make_vec may pass this
        cfg = resolve_env_config(config, options)
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.config = cfg
        self._episodes = BatchedEpisodes(cfg, num_envs)
        self.num_envs = num_envs
        self.single_observation_space = observation_space(len(self._episodes.core.tracker.feature_names))
        self.single_action_space = action_space(cfg)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.feature_names = self._episodes.core.tracker.feature_names
        self._ended = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: sub-environments to start at the next step
        self._round_over = False  # with drawn tasks: every sub-environment starts a new round's task next

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every sub-environment: `seed` an int (sub-environment i gets seed + i, as in the sync
        mode) or one seed each; `options={"initial_lr": x}` as for `LRControlEnv`."""
        super().reset(seed=seed if seed is None or isinstance(seed, int) else None)
        if isinstance(seed, int):
            seeds: list[int | None] = [seed + i for i in range(self.num_envs)]
        elif seed is None:
            seeds = [None] * self.num_envs
        else:
            if len(seed) != self.num_envs:
                raise ValueError(f"reset got {len(seed)} seeds for {self.num_envs} sub-environments")
            seeds = list(seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"initial_lr"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; LRControlVectorEnv.reset takes: initial_lr")
        indices = list(range(self.num_envs))
        obs, infos = self._episodes.start(indices, seeds, [options.get("initial_lr")] * self.num_envs)
        self._ended, self._round_over = np.zeros(self.num_envs, dtype=bool), False
        return obs, self._vector_infos(infos, indices)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            return self._next_step(actions)
        episodes = self._episodes
        decision = episodes.core.step(list(np.asarray(actions)))
        obs, terminated = decision.obs, decision.terminated
        truncated = np.zeros(self.num_envs, dtype=bool)
        if episodes.round_over(decision):  # every sub-environment starts the next round's task
            truncated = ~terminated
            fresh, reset_infos = episodes.start(list(range(self.num_envs)))
        else:
            ended = [i for i in range(self.num_envs) if terminated[i]]
            fresh, reset_infos = episodes.restart(ended) if ended else (None, {})
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):  # as SyncVectorEnv: the final step's, then the new episode's info
            if i in reset_infos:
                infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": decision.infos[i]}, i)
                obs[i] = fresh[i]
            infos = self._add_info(infos, reset_infos.get(i, decision.infos[i]), i)
        return obs, decision.rewards, terminated.copy(), truncated, infos

    def _next_step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """`NEXT_STEP`: the sub-environments whose episode ended at the last step start anew (their action
        is ignored, their reward 0), while the others take their decision in the same batched pass."""
        episodes, ended = self._episodes, self._ended
        restart = [int(i) for i in np.flatnonzero(ended)]
        truncated = np.zeros(self.num_envs, dtype=bool)
        if ended.all():
            obs, reset_infos = episodes.start(restart) if self._round_over else episodes.restart(restart)
            rewards, terminated, step_infos = np.zeros(self.num_envs, np.float32), np.zeros_like(ended), None
            self._round_over = False
        else:
            decision = episodes.core.step(list(np.asarray(actions)), active=~ended if restart else None)
            obs, rewards, terminated, step_infos = decision.obs, decision.rewards, decision.terminated, decision.infos
            reset_infos = {}
            if restart:
                fresh, reset_infos = episodes.restart(restart)
                obs[restart] = fresh[restart]
            if episodes.round_over(decision):  # the others are cut off; all start the next round's task
                truncated = ~terminated
                self._round_over = True
        infos: dict[str, Any] = {}
        for i in range(self.num_envs):
            infos = self._add_info(infos, reset_infos[i] if ended[i] else step_infos[i], i)
        self._ended = terminated | truncated
        return obs, rewards, terminated.copy(), truncated, infos

    def _vector_infos(self, infos: dict[int, dict[str, Any]], indices: list[int]) -> dict[str, Any]:
        vector_infos: dict[str, Any] = {}
        for i in indices:
            vector_infos = self._add_info(vector_infos, infos[i], i)
        return vector_infos
