"""LRControlEnv: a Gymnasium environment whose episode is one child network's training run."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from lrctl.children.child import ChildRun, SingleChild
from lrctl.config import EnvConfig, resolve_env_config
from lrctl.data import DatasetSplits, setting_data
from lrctl.device import resolve_device
from lrctl.envs.core import EpisodeCore
from lrctl.envs.rendering import (
    RENDER_MODES,
    Point,
    check_render_mode,
    render_rgb,
    render_text,
)
from lrctl.envs.rewards import needs_twins
from lrctl.settings import get_setting


def action_space(cfg: EnvConfig) -> spaces.Space:
    """`Discrete(3)` (up, down, keep) or the symmetric `Box(-1, 1, (1,))` of `cfg.action_mode`."""
    if cfg.action_mode == "discrete":
        return spaces.Discrete(3)
    return spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)


def observation_space(n_features: int) -> spaces.Box:
    """An unbounded float32 vector of `n_features` (losses and log LRs have no natural bound)."""
    return spaces.Box(-np.inf, np.inf, shape=(n_features,), dtype=np.float32)


_FORK_HANDLER_SET = False


def _one_torch_thread_in_forked_children() -> None:
    """Give processes forked from this one a single torch thread, as DataLoader workers get.

    Gymnasium's async vector mode forks workers after building an environment here; a forked child
    that enters the parent's OpenMP thread pool waits forever, and one thread per worker is what K
    workers on K cores want anyway.
    """
    global _FORK_HANDLER_SET
    if not _FORK_HANDLER_SET and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
        _FORK_HANDLER_SET = True


class LRControlEnv(gym.Env):
    """Control the learning rate of a child network's training.

    Each episode trains a fresh child for `child_steps` optimizer steps; every `steps_per_action` steps
    the agent scales the LR (at most `max_change` per decision), observes the features in
    `feature_names` and receives the `reward` of the config. `reset(seed=s)` fixes the child's
    initialisation, batch order, validation subset and initial LR (`options={"initial_lr": x}` chooses
    it). A non-finite loss or weight ends the episode with `info["diverged"] = True` and a reward of
    `-divergence_penalty` per decision left. The rules of a decision live in `lrctl.envs.core`.

    Args:
        config: an `EnvConfig`, or the name of a setting (see `lrctl.settings.SETTINGS`).
        data: splits to use instead of loading the setting's dataset (tests pass small synthetic ones).
        render_mode: None, ``"ansi"`` (`render()` returns a line of text) or ``"rgb_array"`` (a picture of
            the LR and the validation loss so far); any other mode is a ValueError.
        **options: any `EnvConfig` field (child_steps, action_mode, max_change, device, ...), applied on
            top of `config` (this is how `gymnasium.make` passes them).

    Example:
        >>> env = LRControlEnv("digits-mlp", child_steps=20, steps_per_action=5)
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(self, config: EnvConfig | str = "digits-mlp", *, data: DatasetSplits | None = None,
                 render_mode: str | None = None, **options: Any) -> None:
        super().__init__()
        self.render_mode = check_render_mode(render_mode)
        _one_torch_thread_in_forked_children()
        self.config: EnvConfig = resolve_env_config(config, options)
        cfg = self.config
        self.device = resolve_device(cfg.device)
        setting = get_setting(cfg.setting)
        if data is None:
            data = setting_data(setting, cfg.data_root, self.device, cfg.download)
        self.data = data.to(self.device)
        self._children = SingleChild(self.data, setting.model, cfg)
        twin = SingleChild(self.data, setting.model, cfg) if needs_twins(cfg) else None
        self.core = EpisodeCore(cfg, self._children, twin)
        self.feature_names: tuple[str, ...] = self.core.tracker.feature_names
        self.n_decisions = self.core.n_decisions
        self.action_space = action_space(cfg)
        self.observation_space = observation_space(len(self.feature_names))
        self._points: list[Point] = []

    @property
    def child(self) -> ChildRun | None:
        """The child network of the current episode (None before the first reset)."""
        return self._children.child

    @property
    def lr(self) -> float:
        """The current learning rate."""
        return float(self.core.lrs[0])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"initial_lr"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {unknown}; LRControlEnv.reset takes: initial_lr")
        self.core.rngs[0] = self.np_random
        obs, infos = self.core.start([0], initial_lrs=[options.get("initial_lr")])
        self._points = [_point(infos[0])]
        return obs[0], infos[0]

    def step(self, action: Any):
        decision = self.core.step([action])
        self._points.append(_point(decision.infos[0]))
        return (decision.obs[0], float(decision.rewards[0]), bool(decision.terminated[0]), False,
                decision.infos[0])

    def render(self) -> str | np.ndarray | None:
        """The episode so far as `render_mode` asks: a line of text, an RGB array, or None (no mode)."""
        if self.render_mode == "ansi":
            return render_text(self._points, self.config.child_steps)
        if self.render_mode == "rgb_array":
            return render_rgb(self._points, self.config.child_steps)
        return None


def _point(info: dict[str, Any]) -> Point:
    return Point(int(info["child_step"]), float(info["lr"]), float(info["val_loss"]))
