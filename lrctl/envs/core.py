"""The episode core: the rules of a controller decision, written once for K children.

`LRControlEnv` is this core over one child (K = 1); `lrctl.envs.batched_episodes.BatchedEpisodes` over K
children trained in one batched pass (which the SB3 VecEnv, the Gymnasium vector entry point and the
batched evaluation drive). Everything a decision means lives here and nowhere else:

- the episode start: the task (when `env.tasks` draws one), child seed and initial LR from the episode's
  seeded RNG (`lrctl.children.child.start_episode`, the one rule), the first observation (zeros where the
  initial child already overflows);
- the LR step: the action, optional noise on the log of the change, the cap, the clamp (`next_lr`),
  then the base schedule's multiplier (`action_base`; 1 unless the policy is a residual one);
- the reward (`decision_reward`, the `reward` option), the divergence rule and its penalty;
- the info dict, and the end-of-episode metrics.

Children are anything with the `Children` interface; observations come from `lrctl.deploy.features`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from lrctl.children.child import DRAWN, episode_rng, final_metrics, start_episode
from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits
from lrctl.deploy.actions import decision_lrs, keep_action
from lrctl.deploy.features import (
    FeatureTracker,
    diverged,
    feature_set,
    mean_train_loss,
    validation_losses,
)
from lrctl.envs.rewards import TWIN_REWARDS, decision_reward, needs_twins
from lrctl.tasks import ChildTask


class Children(Protocol):
    """K child networks trained side by side, each with its own seed, LR and step count."""

    k: int

    def reset_child(self, i: int, seed: int, lr: float, task: ChildTask | None = None) -> None: ...
    def data_of(self, i: int) -> DatasetSplits: ...  # child i's dataset
    def set_lrs(self, lrs: np.ndarray) -> None: ...
    # (K, n_steps) training losses; `active` (K bools): only these children train, the others hold still
    def train(self, n_steps: int, active: np.ndarray | None = None) -> torch.Tensor: ...
    def val_logits(self) -> torch.Tensor: ...  # (K, N, C)
    def val_labels(self) -> torch.Tensor: ...  # (K, N)
    def output_weight(self) -> torch.Tensor: ...  # (K, ...)
    def finite(self) -> np.ndarray: ...  # (K,) bool: every parameter finite
    def step_counts(self) -> np.ndarray: ...  # (K,) child steps taken this episode
    def evaluate(self, i: int, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]: ...




@dataclass
class Decision:
    """What one decision of the K children gave: the arrays a VecEnv returns, and one info per child."""

    obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    infos: list[dict[str, Any]]


class EpisodeCore:
    """Episodes of K children under one `EnvConfig`: start them, and take a decision for all of them.

    Each child has its own seeded RNG (`rngs[i]`: the task, the child seed, the initial LR draw and the
    LR noise come from it, as from Gymnasium's `env.np_random`), LR, budget and episode state. `lrs` are
    the LRs the children train with; `policy_lrs` the ones the actions move (the same unless
    `cfg.action_base` multiplies them by a schedule).
    """

    def __init__(self, cfg: EnvConfig, children: Children, twins: Children | None = None) -> None:
        if needs_twins(cfg) != (twins is not None):
            raise ValueError(f"reward {cfg.reward!r} needs twins that keep every decision exactly when it is one of "
                             f"{tuple(TWIN_REWARDS)}")
        self.cfg = cfg
        # The twin keeps every decision under this rule: the base schedule only for log_improvement_vs_base.
        self._twin_rule = cfg if cfg.reward == "log_improvement_vs_base" else \
            dataclasses.replace(cfg, action_base="constant")
        self.children = children
        self.twins = twins
        self.k = children.k
        self.n_decisions = cfg.child_steps // cfg.steps_per_action
        self.budgets = np.full(self.k, cfg.child_steps, dtype=np.int64)  # child steps of each child's task
        self.tasks: list[ChildTask | None] = [None] * self.k
        self.tracker = FeatureTracker(self.k, feature_set(cfg.features))
        self.rngs: list[np.random.Generator] = [episode_rng(None) for _ in range(self.k)]
        self.lrs = np.full(self.k, math.nan)
        self.policy_lrs = np.full(self.k, math.nan)
        self.initial_lrs = np.full(self.k, math.nan)
        self.decisions = np.zeros(self.k, dtype=np.int64)
        self.running = np.zeros(self.k, dtype=bool)
        self._val_losses = np.full(self.k, math.nan)
        self._twin_val_losses = np.full(self.k, math.nan)
        self.last_obs = np.zeros((self.k, len(self.tracker.feature_names)), dtype=np.float32)

    def use_children(self, children: Children, twins: Children | None = None) -> None:
        """Switch to other children of the same K (and their twins), e.g. for a new task; start all next."""
        if children.k != self.k or (twins is None) != (self.twins is None):
            raise ValueError(f"use_children needs {self.k} children and twins exactly as before")
        self.children, self.twins = children, twins

    def start(self, indices: Sequence[int], seeds: Sequence[int | None] | None = None,
              initial_lrs: Sequence[Any] | None = None,
              tasks: Sequence[ChildTask | None] | None = None) -> tuple[np.ndarray, dict[int, dict[str, Any]]]:
        """Start a new episode of children `indices`; returns all K last observations and their infos.

        `seeds[j]` reseeds child indices[j]'s RNG (None: go on with it); `initial_lrs[j]` chooses its
        initial LR (None: drawn from `cfg.initial_lrs`); `tasks[j]` its task (None given: each child
        draws its own when `cfg` draws tasks).
        """
        for j, i in enumerate(indices):
            if seeds is not None and seeds[j] is not None:
                self.rngs[i] = episode_rng(int(seeds[j]))
            requested_lr = None if initial_lrs is None else initial_lrs[j]
            task, child_seed, lr = start_episode(self.cfg, self.rngs[i], requested_lr,
                                                 DRAWN if tasks is None else tasks[j])
            self.children.reset_child(i, child_seed, lr, task)
            if self.twins is not None:
                self.twins.reset_child(i, child_seed, lr, task)
            self.tasks[i] = task
            self.budgets[i] = self.cfg.child_steps if task is None else task.child_steps
            self.lrs[i] = self.policy_lrs[i] = self.initial_lrs[i] = lr
            self.decisions[i] = 0
            self.running[i] = True
        obs, val_losses = self._observe(None, starting=indices)
        rows = list(indices)
        # An initial child that already overflows shows zeros rather than non-finite values.
        self.last_obs[rows] = np.where(np.isfinite(obs[rows]), obs[rows], 0.0)
        self._val_losses[rows] = val_losses[rows]
        self._twin_val_losses[rows] = val_losses[rows]  # a twin starts as the same network
        infos = {i: {"lr": float(self.lrs[i]), "initial_lr": float(self.initial_lrs[i]),
                     "train_loss": float(val_losses[i]), "val_loss": float(val_losses[i]), "child_step": 0,
                     "diverged": False} for i in rows}
        for i in rows:
            if self.tasks[i] is not None:
                infos[i]["task"] = self.tasks[i]
        return self.last_obs.copy(), infos

    def step(self, actions: Sequence[Any], active: np.ndarray | None = None) -> Decision:
        """Scale every child's LR by its action, train `steps_per_action` steps, observe, reward.

        A child whose loss or weights become non-finite ends its episode with `info["diverged"]`, a
        reward of `-divergence_penalty` for every decision left (ending early never pays) and its last
        finite observation; a child that reaches `child_steps` ends with the end-of-run metrics in its
        info. Ended children stay ended until `start`. With tasks drawn, each child's budget is its task's.
        `active` (K bools, children that can hold still only): the others are not stepped (their action,
        reward, termination and info in the result mean nothing; the caller starts them anew).
        """
        cfg, k = self.cfg, self.k
        moving = np.ones(k, dtype=bool) if active is None else np.asarray(active, dtype=bool)
        if not self.running[moving].all():
            raise RuntimeError("step() called on a finished episode; call reset() first")
        steps_before = self.children.step_counts().copy()  # batched children's is a view training advances
        for i in np.flatnonzero(moving):
            noise = float(self.rngs[i].normal(0.0, cfg.lr_noise_std)) if cfg.lr_noise_std > 0 else 0.0
            self.policy_lrs[i], self.lrs[i] = decision_lrs(cfg, float(self.policy_lrs[i]), actions[i],
                                                           int(steps_before[i]), int(self.budgets[i]),
                                                           cfg.steps_per_action, float(self.initial_lrs[i]), noise)
        self.children.set_lrs(self.lrs)
        together = self._trained_together()
        if together is not None:  # the twins' LRs do not depend on the actions: one pass trains both
            self.twins.set_lrs(self._twin_lrs(steps_before))
            losses = together.train(cfg.steps_per_action, active)
        else:
            losses = self.children.train(cfg.steps_per_action, active)
        train_loss = mean_train_loss(losses)
        obs, val_losses = self._observe(train_loss, noise=self.tracker.interval_noise(losses))
        finite = self.children.finite() & ~diverged(obs)
        steps = self.children.step_counts()
        train_losses = train_loss.cpu().numpy()
        step_losses = losses.cpu().numpy()
        self.decisions += moving
        twin_val_losses = self._twins_after(steps_before, active, trained=together is not None)
        rewards = decision_reward(cfg.reward, self._val_losses, val_losses, self._twin_val_losses,
                                  twin_val_losses, cfg.reward_bound).astype(np.float32)
        terminated = (~finite | (steps >= self.budgets)) & moving
        infos: list[dict[str, Any]] = []
        for i in range(k):
            if not moving[i]:
                rewards[i] = 0.0
                infos.append({})
                continue
            info: dict[str, Any] = {"lr": float(self.lrs[i]), "initial_lr": float(self.initial_lrs[i]),
                                    "train_loss": float(train_losses[i]), "val_loss": float(val_losses[i]),
                                    "step_train_losses": step_losses[i].tolist(), "child_step": int(steps[i]),
                                    "diverged": not finite[i]}
            if self.twins is not None:
                info[TWIN_REWARDS[cfg.reward]] = float(twin_val_losses[i])
            if not finite[i]:
                decisions_left = self.budgets[i] // cfg.steps_per_action - self.decisions[i] + 1
                rewards[i] = -cfg.divergence_penalty * decisions_left
                obs[i] = self.last_obs[i]  # non-finite values never reach the policy or VecNormalize
            elif terminated[i]:
                info.update(final_metrics(functools.partial(self.children.evaluate, i), self.children.data_of(i)))
            infos.append(info)
        held = ~moving
        obs[held] = self.last_obs[held]
        val_losses[held] = self._val_losses[held]
        twin_val_losses[held] = self._twin_val_losses[held]
        self.last_obs = obs
        self._val_losses = val_losses
        self._twin_val_losses = twin_val_losses
        self.running &= ~terminated
        return Decision(obs.copy(), rewards, terminated, infos)

    def _trained_together(self) -> Any:
        """The `ChildrenWithTwins` whose one pass trains the children and their twins, or None."""
        pair = getattr(self.children, "pair", None)
        return pair if pair is not None and getattr(self.twins, "pair", None) is pair else None

    def _twin_lrs(self, steps_before: np.ndarray) -> np.ndarray:
        """The twins' LRs for the coming steps: every decision kept, at the initial LR, or over the base
        schedule for `log_improvement_vs_base`."""
        rule, keep = self._twin_rule, keep_action(self.cfg.action_mode)
        return np.array([decision_lrs(rule, float(self.initial_lrs[i]), keep, int(steps_before[i]),
                                      int(self.budgets[i]), self.cfg.steps_per_action, float(self.initial_lrs[i]))[1]
                         for i in range(self.k)])

    def _twins_after(self, steps_before: np.ndarray, active: np.ndarray | None, trained: bool) -> np.ndarray:
        """The twins' validation losses once they are as far as their children (NaN: no twins); trains
        them here unless they `trained` in the children's pass."""
        if self.twins is None:
            return np.full(self.k, math.nan)
        if not trained:
            self.twins.set_lrs(self._twin_lrs(steps_before))
            self.twins.train(self.cfg.steps_per_action, active)
        return validation_losses(self.twins.val_logits(), self.twins.val_labels()).cpu().numpy().astype(np.float64)

    def _observe(self, train_loss: torch.Tensor | None, starting: Sequence[int] | None = None,
                 noise: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        children = self.children
        return self.tracker.observe(children.val_logits(), children.val_labels(), children.output_weight(),
                                    train_loss, self.lrs, children.step_counts(), self.budgets,
                                    self.cfg.steps_per_action, starting=starting, train_loss_noise=noise)
