"""The PPO controller's state on disk, in formats that cannot run code when read.

A run folder may come from someone else, so lrctl never unpickles what it reads from one: the agent's
weights and optimizer state are tensors (`torch.save`, read back with ``weights_only=True``) and the
VecNormalize statistics are arrays in an ``.npz`` file (read with ``allow_pickle=False``). SB3's own
``model.zip`` is still written at the end of a run for users of SB3; lrctl never reads it.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from lrctl.atomic import write_atomic
from lrctl.error_text import first_line
from lrctl.errors import StateFileError

AGENT_FILE = "agent.pt"
NORMALIZATION_FILE = "vecnormalize.npz"
FORMAT = 2
"""Version of the run folder's layout; folders of format 1 held pickles (`vecnormalize.pkl`)."""

def pickled_run(run_dir: str | os.PathLike[str]) -> str:
    """The one-line reason lrctl does not read an older, pickled run folder, and how to convert it."""
    return (f"{run_dir} was written by an older lrctl, whose state is pickled and which this lrctl does not "
            f"read; if you trust the run, convert it with: lrctl upgrade-run {run_dir}")


_STAT_KEYS = ("obs_mean", "obs_var", "obs_count", "ret_mean", "ret_var", "ret_count",
              "clip_obs", "clip_reward", "gamma", "epsilon")


def save_agent(path: str | os.PathLike[str], model: PPO) -> Path:
    """Write `model`'s policy weights, optimizer state and counters to `path` atomically."""
    state = {
        "policy": model.policy.state_dict(),
        "optimizer": model.policy.optimizer.state_dict(),
        "num_timesteps": int(model.num_timesteps),
        "n_updates": int(model._n_updates),
    }
    return write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_agent(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The state `save_agent` wrote, read with ``weights_only=True``: nothing in the file can run."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # damaged zip, foreign pickle, truncated file: many types
        raise StateFileError(f"{str(path)!r} is not an lrctl agent state ({type(err).__name__})") from None
    if not isinstance(state, dict) or not {"policy", "optimizer", "num_timesteps", "n_updates"} <= set(state):
        raise StateFileError(f"{str(path)!r} is not an lrctl agent state (keys missing)")
    return state


def restore_agent(model: PPO, state: dict[str, Any]) -> None:
    """Put a loaded agent state into `model`, a PPO built from the run's config."""
    try:
        model.policy.load_state_dict(state["policy"])
        model.policy.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        raise StateFileError(f"the agent state does not fit this run's config: {first_line(err)}") from None
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates = int(state["n_updates"])


def normalization_arrays(venv: VecNormalize) -> dict[str, np.ndarray]:
    """The running statistics and settings of `venv` as plain arrays."""
    return {
        "obs_mean": np.asarray(venv.obs_rms.mean, dtype=np.float64),
        "obs_var": np.asarray(venv.obs_rms.var, dtype=np.float64),
        "obs_count": np.asarray(venv.obs_rms.count, dtype=np.float64),
        "ret_mean": np.asarray(venv.ret_rms.mean, dtype=np.float64),
        "ret_var": np.asarray(venv.ret_rms.var, dtype=np.float64),
        "ret_count": np.asarray(venv.ret_rms.count, dtype=np.float64),
        "clip_obs": np.asarray(venv.clip_obs, dtype=np.float64),
        "clip_reward": np.asarray(venv.clip_reward, dtype=np.float64),
        "gamma": np.asarray(venv.gamma, dtype=np.float64),
        "epsilon": np.asarray(venv.epsilon, dtype=np.float64),
    }


def save_normalization(path: str | os.PathLike[str], venv: VecNormalize) -> Path:
    """Write `venv`'s statistics to `path` (an ``.npz``) atomically."""
    arrays = normalization_arrays(venv)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    return write_atomic(path, write)


def load_normalization(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The statistics `save_normalization` wrote, read with ``allow_pickle=False``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: np.asarray(data[key], dtype=np.float64) for key in _STAT_KEYS}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as err:
        raise StateFileError(f"{str(path)!r} is not lrctl's normalization statistics ({type(err).__name__})") from None
    if arrays["obs_mean"].shape != arrays["obs_var"].shape or not all(np.all(np.isfinite(a)) for a in arrays.values()):
        raise StateFileError(f"{str(path)!r} holds statistics of mismatched shapes or non-finite values")
    return arrays


def restore_normalization(venv: VecNormalize, arrays: dict[str, np.ndarray]) -> None:
    """Put loaded statistics into `venv`, a VecNormalize built from the run's config."""
    if arrays["obs_mean"].shape != venv.obs_rms.mean.shape:
        raise StateFileError(f"the normalization statistics observe {arrays['obs_mean'].shape[0]} features, "
                             f"this run's config {venv.obs_rms.mean.shape[0]}")
    venv.obs_rms.mean, venv.obs_rms.var = arrays["obs_mean"].copy(), arrays["obs_var"].copy()
    venv.obs_rms.count = float(arrays["obs_count"])
    venv.ret_rms.mean, venv.ret_rms.var = arrays["ret_mean"].copy(), arrays["ret_var"].copy()
    venv.ret_rms.count = float(arrays["ret_count"])
    venv.clip_obs, venv.clip_reward = float(arrays["clip_obs"]), float(arrays["clip_reward"])
    venv.gamma, venv.epsilon = float(arrays["gamma"]), float(arrays["epsilon"])
