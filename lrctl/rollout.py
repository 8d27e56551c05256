"""Run one LRControl episode with a given way of acting and record what happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrctl.actions import keep_action


@dataclass
class EpisodeRecord:
    """The trajectory of one child run: LR and losses per decision, and the end-of-run metrics."""

    seed: int
    initial_lr: float
    lrs: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    total_reward: float = 0.0
    diverged: bool = False
    final: dict[str, float] = field(default_factory=dict)


def run_episode(env: Any, act: Callable[[np.ndarray], Any], seed: int, initial_lr: float) -> EpisodeRecord:
    """Reset `env` with `seed` and `initial_lr`, act with `act(obs)` until the episode ends."""
    obs, info = env.reset(seed=seed, options={"initial_lr": initial_lr})
    record = EpisodeRecord(seed, initial_lr, [info["lr"]], [info["train_loss"]], [info["val_loss"]])
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        done = terminated or truncated
        record.total_reward += float(reward)
        record.lrs.append(info["lr"])
        record.train_losses.append(info["train_loss"])
        record.val_losses.append(info["val_loss"])
    record.diverged = bool(info.get("diverged", False))
    record.final = {k: info[k] for k in ("final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy")
                    if k in info}
    return record


def constant_lr(action_mode: str) -> Callable[[np.ndarray], Any]:
    """The do-nothing controller: keeps the initial learning rate."""
    action = keep_action(action_mode)
    return lambda obs: action
