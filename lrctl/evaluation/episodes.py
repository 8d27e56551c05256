"""Episodes driven through the environment (one at a time, or as children of one batched pass),
recorded as `RunResult`s, like every other evaluation run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits
from lrctl.evaluation.records import RunResult

_FINAL_KEYS = ("final_val_loss", "final_val_accuracy", "test_loss", "test_accuracy")


def _start(method: str, seed: int, initial_lr: float, info: dict[str, Any]) -> RunResult:
    return RunResult(method, seed, initial_lr, val_steps=[0], val_losses=[info["val_loss"]], total_reward=0.0)


def _record(result: RunResult, reward: float, info: dict[str, Any], done: bool) -> None:
    """One decision: its steps' LR and training losses, the validation loss it observed."""
    steps = info["step_train_losses"]
    result.total_reward += reward
    result.lrs += [info["lr"]] * len(steps)
    result.train_losses += steps
    result.val_steps.append(info["child_step"])
    result.val_losses.append(info["val_loss"])
    if done:
        result.diverged = bool(info.get("diverged", False))
        result.final = {k: info[k] for k in _FINAL_KEYS if k in info}


def run_episode(env: Any, act: Callable[[np.ndarray], Any], seed: int, initial_lr: float,
                method: str = "policy") -> RunResult:
    """Reset `env` with `seed` and `initial_lr`, act with `act(obs)` until the episode ends."""
    obs, info = env.reset(seed=seed, options={"initial_lr": initial_lr})
    result = _start(method, seed, initial_lr, info)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        done = terminated or truncated
        _record(result, float(reward), info, done)
    return result


def run_episodes_batched(env_cfg: EnvConfig, act: Callable[[np.ndarray], Any],
                         episodes: Sequence[tuple[int, float]], data: DatasetSplits | None = None,
                         method: str = "policy") -> list[RunResult]:
    """`run_episode` for every (seed, initial LR) in `episodes`, as children of one batched pass.

    The records equal those of `run_episode` on single environments within float tolerance. A child
    whose episode ends is held still until the others finish. `data` overrides the setting's dataset
    (tests pass small synthetic splits).
    """
    from lrctl.envs.batched_episodes import BatchedEpisodes

    batch = BatchedEpisodes(env_cfg, len(episodes), data=data)
    obs, infos = batch.start(list(range(len(episodes))), [int(s) for s, _ in episodes],
                             [float(lr) for _, lr in episodes])
    results = [_start(method, seed, lr, infos[i]) for i, (seed, lr) in enumerate(episodes)]
    running = np.ones(len(episodes), dtype=bool)
    actions: list[Any] = [None] * len(episodes)
    while running.any():
        for i in np.flatnonzero(running):
            actions[i] = np.asarray(act(obs[i]))
        decision = batch.core.step(actions, active=None if running.all() else running.copy())
        obs = decision.obs
        for i in np.flatnonzero(running):
            _record(results[i], float(decision.rewards[i]), decision.infos[i], bool(decision.terminated[i]))
        running &= ~decision.terminated
    return results
