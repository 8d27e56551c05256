#!/usr/bin/env python
"""Child steps per second: K children batched in one process vs K single environments vs SubprocVecEnv.

For each child size (digits-mlp, and an mnist-mlp-sized child on synthetic 28x28 data) and each K in
1, 2, 4, 8, 16, prints child steps per second of
  batched   BatchedLRControlVecEnv with K children (one process, vmapped),
  single    K LRControlEnvs stepped one after another (DummyVecEnv),
  subproc   SubprocVecEnv with 2 worker processes holding K environments between them,
and the ratio batched / best of the other two. Target: K = 8 batched >= 2x on a 2-core CPU.

Usage: python bench/batched_children.py [--device cpu] [--decisions 30] [--ks 1 2 4 8 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
import torch

from lrctl.config import env_config
from lrctl.data import DatasetSplits
from lrctl.envs.batched import BatchedLRControlVecEnv


def synthetic(shape: tuple[int, ...], n_train: int = 20_000, n_val: int = 2_000, n_test: int = 2_000) -> DatasetSplits:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_val + n_test, *shape, generator=g)
    y = torch.randint(0, 10, (len(x),), generator=g)
    a, b = n_train, n_train + n_val
    return DatasetSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 10)


CHILDREN = {
    # name: (setting, data, env options)
    "digits-mlp": ("digits-mlp", None, {}),
    "mnist-mlp-sized": ("mnist-mlp", (1, 28, 28), {"batch_size": 256, "val_subset_size": 1000}),
}


def _make_single(setting: str, data: DatasetSplits | None, options: dict):
    from lrctl.envs import LRControlEnv

    def thunk():
        if multiprocessing.parent_process() is not None:  # a SubprocVecEnv worker: one thread, as in training
            torch.set_num_threads(1)
        return LRControlEnv(setting, data=data, **options)
    return thunk


def _rate(venv, decisions: int, steps_per_action: int) -> float:
    venv.seed(0)
    venv.reset()
    keep = np.full(venv.num_envs, 2)
    venv.step(keep)  # warm-up
    start = time.perf_counter()
    for _ in range(decisions):
        venv.step(keep)
    elapsed = time.perf_counter() - start
    return venv.num_envs * decisions * steps_per_action / elapsed


def measure(name: str, k: int, decisions: int, device: str) -> dict[str, float]:
    """Child steps per second of K batched children and of K single environments in one process."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    setting, shape, extra = CHILDREN[name]
    data = synthetic(shape) if shape else None
    options = {"device": device, "child_steps": 10_000, **extra}
    cfg = env_config(setting, **options)
    batched = BatchedLRControlVecEnv(cfg, k, data=data)
    single = DummyVecEnv([_make_single(setting, data, options) for _ in range(k)])
    return {"batched": _rate(batched, decisions, cfg.steps_per_action),
            "single": _rate(single, decisions, cfg.steps_per_action)}


def measure_subproc(name: str, decisions: int, device: str) -> float:
    """Child steps per second of SubprocVecEnv with 2 workers (one environment each)."""
    from stable_baselines3.common.vec_env import SubprocVecEnv

    setting, shape, extra = CHILDREN[name]
    data = synthetic(shape) if shape else None
    options = {"device": device, "child_steps": 10_000, **extra}
    sub = SubprocVecEnv([_make_single(setting, data, options) for _ in range(2)])
    rate = _rate(sub, decisions, env_config(setting, **options).steps_per_action)
    sub.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--decisions", type=int, default=30)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    args = parser.parse_args()
    # One process may use every core (batched, and K single environments one after another);
    # SubprocVecEnv workers use one thread each, as in training.
    threads = os.cpu_count() or 1
    print(f"{threads} cores; in-process measurements use {threads} torch threads")
    torch.set_num_threads(threads)
    for name in CHILDREN:
        subproc = measure_subproc(name, args.decisions, args.device)
        print(f"\n{name} ({args.device}; child steps per second; SubprocVecEnv, 2 workers: {subproc:.0f})")
        print(f"{'K':>3} {'batched':>9} {'K single':>9} {'ratio':>7}   (ratio: batched / best of K single and subproc)")
        for k in args.ks:
            r = measure(name, k, args.decisions, args.device)
            print(f"{k:>3} {r['batched']:>9.0f} {r['single']:>9.0f} {r['batched'] / max(r['single'], subproc):>6.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
