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

    The records equal those of `run_episode` on single environments within float tolerance. Children
    that end early are restarted by the VecEnv and run on unrecorded until the others finish.
    `data` overrides the setting's dataset (tests pass small synthetic splits).
    """
    from lrctl.envs.batched import BatchedLRControlVecEnv

    venv = BatchedLRControlVecEnv(env_cfg, len(episodes), data=data)
    obs = venv.reset_episodes([s for s, _ in episodes], [lr for _, lr in episodes])
    results = [_start(method, seed, lr, info) for (seed, lr), info in zip(episodes, venv.reset_infos)]
    running = set(range(len(episodes)))
    while running:
        actions = np.stack([np.asarray(act(o)) for o in obs])
        obs, rewards, dones, infos = venv.step(actions)
        for i in sorted(running):
            _record(results[i], float(rewards[i]), infos[i], bool(dones[i]))
            if dones[i]:
                running.discard(i)
    venv.close()
    return results
