"""LRControlEnv: a Gymnasium environment whose episode is one child network's training run."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces

from lrctl.actions import next_lr
from lrctl.config import EnvConfig, env_config
from lrctl.data import DatasetSplits, load_dataset
from lrctl.envs.child import ChildRun, episode_initial_lr, final_metrics
from lrctl.features import FEATURE_NAMES, FeatureTracker, mean_train_loss
from lrctl.models import find_output_layer
from lrctl.settings import get_setting


def resolve_device(device: str) -> torch.device:
    """`cpu`, `cuda` or `auto` (cuda when available) as a torch.device; cuda without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but torch sees no CUDA GPU; use device: cpu or auto")
    return torch.device(device)


class LRControlEnv(gym.Env):
    """Control the learning rate of a child network's training.

    Each episode trains a fresh child for `child_steps` optimizer steps; every `steps_per_action` steps
    the agent scales the LR (at most `max_change` per decision), observes the features in
    `feature_names` and receives minus the validation loss. `reset(seed=s)` fixes the child's
    initialisation, batch order, validation subset and initial LR (`options={"initial_lr": x}` chooses
    it). A non-finite loss or weight ends the episode with `info["diverged"] = True` and a reward of
    `-divergence_penalty` per decision left.

    Args:
        setting: a named setting (see `lrctl.settings.SETTINGS`).
        data: splits to use instead of loading the setting's dataset (tests pass small synthetic ones).
        **options: any `EnvConfig` field (child_steps, action_mode, max_change, device, ...).
    """

    metadata = {"render_modes": []}

    def __init__(self, setting: str = "digits-mlp", *, data: DatasetSplits | None = None, **options: Any):
        super().__init__()
        self.config: EnvConfig = env_config(setting, **options)
        cfg = self.config
        self.device = resolve_device(cfg.device)
        self._setting = get_setting(cfg.setting)
        if data is None:
            data = load_dataset(self._setting.dataset, cfg.data_root, self.device, cfg.download)
        self.data = data.to(self.device)
        self.feature_names: tuple[str, ...] = FEATURE_NAMES
        self.n_decisions = cfg.child_steps // cfg.steps_per_action
        if cfg.action_mode == "discrete":
            self.action_space: spaces.Space = spaces.Discrete(3)
        else:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(len(self.feature_names),), dtype=np.float32
        )
        self.child: ChildRun | None = None
        self.lr = math.nan
        self._tracker: FeatureTracker | None = None
        self._decisions_taken = 0
        self._last_obs: np.ndarray | None = None
        self._done = True

    # ------------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cfg = self.config
        options = options or {}
        # The child seed is drawn first, so it depends on the reset seed alone (see episode_child_seed).
        child_seed = int(self.np_random.integers(2**63 - 1))
        initial_lr = episode_initial_lr(cfg, self.np_random, options.get("initial_lr"))
        self.child = ChildRun(
            self.data,
            self._setting.model,
            seed=child_seed,
            lr=initial_lr,
            steps=cfg.child_steps,
            batch_size=cfg.batch_size,
            val_subset_size=cfg.val_subset_size,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
        )
        self._tracker = FeatureTracker(
            self.child.model, find_output_layer(self.child.model), self.child.val_x, self.child.val_y,
            self.feature_names,
        )
        self.lr = initial_lr
        self.initial_lr = initial_lr
        self._decisions_taken = 0
        self._done = False
        obs, val_loss = self._tracker.observe(None, self.lr, 0.0)
        if not np.all(np.isfinite(obs)):  # an initial child that already overflows: show zeros
            obs = np.zeros_like(obs)
        self._last_obs = obs
        info = {"lr": self.lr, "initial_lr": initial_lr, "train_loss": val_loss, "val_loss": val_loss,
                "child_step": 0, "diverged": False}
        return obs, info

    def step(self, action: Any):
        if self._done or self.child is None or self._tracker is None:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        cfg = self.config
        noise = float(self.np_random.normal(0.0, cfg.lr_noise_std)) if cfg.lr_noise_std > 0 else 0.0
        self.lr = next_lr(self.lr, action, cfg.action_mode, cfg.max_change, cfg.lr_min, cfg.lr_max, noise)
        self.child.set_lr(self.lr)
        losses = self.child.train(cfg.steps_per_action)
        self._decisions_taken += 1
        train_loss = mean_train_loss(losses)
        obs, val_loss = self._tracker.observe(
            train_loss, self.lr, self.child.step_count / cfg.child_steps
        )
        info: dict[str, Any] = {"lr": self.lr, "initial_lr": self.initial_lr, "train_loss": float(train_loss),
                                "val_loss": val_loss, "step_train_losses": losses.cpu().tolist(),
                                "child_step": self.child.step_count, "diverged": False}
        if not (np.all(np.isfinite(obs)) and self.child.weights_finite()):
            self._done = True
            decisions_left = self.n_decisions - self._decisions_taken + 1
            info["diverged"] = True
            # The last finite observation: non-finite values never reach the policy or VecNormalize.
            return self._last_obs.copy(), -cfg.divergence_penalty * decisions_left, True, False, info
        self._last_obs = obs
        terminated = self.child.step_count >= cfg.child_steps
        if terminated:
            self._done = True
            info.update(self.final_metrics())
        return obs, -val_loss, terminated, False, info

    def final_metrics(self) -> dict[str, float]:
        """Loss and accuracy of the current child on the full validation and the test split."""
        assert self.child is not None
        return final_metrics(self.child.evaluate, self.data)
