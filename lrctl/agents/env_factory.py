"""One LRControlEnv built where a VecEnv runs it: in this process, a worker process or a Ray actor."""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable
from functools import partial

import gymnasium as gym
import torch

from lrctl.config import EnvConfig, to_dict
from lrctl.envs.lr_control import LRControlEnv


def _make_env(env_kwargs: dict) -> gym.Env:
    """Build one environment; in a worker process, use one torch thread and leave Ctrl-C to the parent."""
    if multiprocessing.parent_process() is not None:
        torch.set_num_threads(1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return LRControlEnv(**env_kwargs)


def env_thunk(env_cfg: EnvConfig) -> Callable[[], gym.Env]:
    """A picklable factory of one LRControlEnv with `env_cfg`."""
    return partial(_make_env, to_dict(env_cfg))
