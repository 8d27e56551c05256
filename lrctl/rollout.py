"""Run one LRControl episode with a given way of acting and record what happened."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrctl.actions import keep_action
from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits

_FINAL_KEYS = ("final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy")


@dataclass
class EpisodeRecord:
    """The trajectory of one child run: LR and losses per decision, and the end-of-run metrics."""

    seed: int
    initial_lr: float
    lrs: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    step_train_losses: list[float] = field(default_factory=list)
    """The training loss of every child step (train_losses holds one mean per decision)."""
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
        _record_step(record, float(reward), info, done)
    return record


def _record_step(record: EpisodeRecord, reward: float, info: dict[str, Any], done: bool) -> None:
    record.total_reward += reward
    record.lrs.append(info["lr"])
    record.train_losses.append(info["train_loss"])
    record.val_losses.append(info["val_loss"])
    record.step_train_losses += info["step_train_losses"]
    if done:
        record.diverged = bool(info.get("diverged", False))
        record.final = {k: info[k] for k in _FINAL_KEYS if k in info}


def run_episodes_batched(env_cfg: EnvConfig, act: Callable[[np.ndarray], Any],
                         episodes: Sequence[tuple[int, float]],
                         data: DatasetSplits | None = None) -> list[EpisodeRecord]:
    """`run_episode` for every (seed, initial LR) in `episodes`, as children of one batched pass.

    The records equal those of `run_episode` on single environments within float tolerance. Children
    that diverge early are restarted by the VecEnv and run on unrecorded until the others finish.
    `data` overrides the setting's dataset (tests pass small synthetic splits).
    """
    from lrctl.envs.batched import BatchedLRControlVecEnv

    venv = BatchedLRControlVecEnv(env_cfg, len(episodes), data=data)
    obs = venv.reset_episodes([s for s, _ in episodes], [lr for _, lr in episodes])
    records = []
    for (seed, lr), info in zip(episodes, venv.reset_infos):
        records.append(EpisodeRecord(seed, lr, [info["lr"]], [info["train_loss"]], [info["val_loss"]]))
    running = set(range(len(episodes)))
    while running:
        actions = np.stack([np.asarray(act(o)) for o in obs])
        obs, rewards, dones, infos = venv.step(actions)
        for i in sorted(running):
            _record_step(records[i], float(rewards[i]), infos[i], bool(dones[i]))
            if dones[i]:
                running.discard(i)
    venv.close()
    return records


def constant_lr(action_mode: str) -> Callable[[np.ndarray], Any]:
    """The do-nothing controller: keeps the initial learning rate."""
    action = keep_action(action_mode)
    return lambda obs: action
