#!/usr/bin/env python
"""Child steps per second: K children batched in one process vs K single environments vs SubprocVecEnv.

For each child size (digits-mlp, and an mnist-mlp-sized child on synthetic 28x28 data) and each K in
1, 2, 4, 8, 16, prints child steps per second of
  batched   BatchedLRControlVecEnv with K children (one process, one batched pass),
  single    K LRControlEnvs stepped one after another in one process (DummyVecEnv),
  subproc   SubprocVecEnv with 2 worker processes, one environment and one torch thread each,
and the ratio batched / best of the other two. Target: K = 8 batched >= 2x on a 2-core CPU.

Shared VMs drift by 10-30% within minutes, so each figure is the median of `--rounds` measurements
taken in turn (batched, single, subproc, batched, ...), and the SubprocVecEnv figure of a child size
is the median over all of its K rows.

Usage: python bench/batched_children.py [--device cpu] [--decisions 30] [--rounds 3] [--ks 1 2 4 8 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
from lrctl.config import env_config
from lrctl.data import DatasetSplits
from lrctl.envs import LRControlEnv

STEPS_PER_ACTION = 10


def synthetic(shape: tuple[int, ...], n_train: int = 20_000, n_val: int = 2_000, n_test: int = 2_000) -> DatasetSplits:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_val + n_test, *shape, generator=g)
    y = torch.randint(0, 10, (len(x),), generator=g)
    a, b = n_train, n_train + n_val
    return DatasetSplits(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], 10)


CHILDREN = {
    # name: (setting, shape of synthetic data or None for the real data, env options)
    "digits-mlp": ("digits-mlp", None, {}),
    "mnist-mlp-sized": ("mnist-mlp", (1, 28, 28), {"batch_size": 256, "val_subset_size": 1000}),
}


def _make_single(setting: str, data: DatasetSplits | None, options: dict) -> Callable[[], LRControlEnv]:
    def thunk() -> LRControlEnv:
        if multiprocessing.parent_process() is not None:  # a SubprocVecEnv worker: one thread, as in training
            torch.set_num_threads(1)
        return LRControlEnv(setting, data=data, **options)
    return thunk


def _rate(venv: VecEnv, decisions: int) -> float:
    """Child steps per second over `decisions` decisions of every environment (after one warm-up)."""
    venv.seed(0)
    venv.reset()
    keep = np.full(venv.num_envs, 2)
    venv.step(keep)  # warm-up
    start = time.perf_counter()
    for _ in range(decisions):
        venv.step(keep)
    elapsed = time.perf_counter() - start
    return venv.num_envs * decisions * STEPS_PER_ACTION / elapsed


def matmul_bound(setting: str, k: int, options: dict, device: str, repeats: int = 20) -> float:
    """Child steps per second of K MLP children if nothing ran but their matrix products.

    Per child step: forward, weight-gradient and input-gradient products of every Linear layer (none
    for the input), plus the validation forward pass spread over the steps between decisions. No
    batched implementation can beat this figure on the same BLAS.
    """
    from lrctl.models import build_model
    from lrctl.settings import get_setting

    cfg = env_config(setting, **options)
    layers = [m for m in build_model(get_setting(setting).model).modules() if isinstance(m, torch.nn.Linear)]
    batch, n_val = cfg.batch_size, cfg.val_subset_size
    dev = torch.device(device)

    def products(rows: int, backward: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
        pairs = []
        for j, layer in enumerate(layers):
            n_in, n_out = layer.in_features, layer.out_features
            pairs.append((torch.randn(k, rows, n_in, device=dev), torch.randn(k, n_in, n_out, device=dev)))
            if backward:
                pairs.append((torch.randn(k, n_in, rows, device=dev), torch.randn(k, rows, n_out, device=dev)))
                if j > 0:
                    pairs.append((torch.randn(k, rows, n_out, device=dev), torch.randn(k, n_out, n_in, device=dev)))
        return pairs

    train_pairs, val_pairs = products(batch, True), products(n_val, False)

    def one_decision() -> None:
        for _ in range(STEPS_PER_ACTION):
            for a, b in train_pairs:
                torch.bmm(a, b)
        for a, b in val_pairs:
            torch.bmm(a, b)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    one_decision()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_decision()
        times.append(time.perf_counter() - start)
    return k * STEPS_PER_ACTION / statistics.median(times)


def bench_child(name: str, ks: list[int], decisions: int, rounds: int, device: str) -> None:
    setting, shape, extra = CHILDREN[name]
    data = synthetic(shape) if shape else None
    # Long enough that no episode ends (and runs its final evaluation) inside a measurement.
    options = {"device": device, "child_steps": STEPS_PER_ACTION * (decisions + 2),
               "steps_per_action": STEPS_PER_ACTION, **extra}
    subproc = SubprocVecEnv([_make_single(setting, data, options) for _ in range(2)])
    subproc_rates: list[float] = []
    rows = []
    for k in ks:
        batched = BatchedLRControlVecEnv(env_config(setting, **options), k, data=data)
        single = DummyVecEnv([_make_single(setting, data, options) for _ in range(k)])
        b_rates, s_rates = [], []
        for _ in range(rounds):
            b_rates.append(_rate(batched, decisions))
            s_rates.append(_rate(single, decisions))
            subproc_rates.append(_rate(subproc, decisions))
        rows.append((k, statistics.median(b_rates), statistics.median(s_rates)))
        del batched, single
    subproc.close()
    sub = statistics.median(subproc_rates)
    print(f"\n{name} ({device}; child steps per second, median of {rounds} rounds; "
          f"SubprocVecEnv, 2 workers: {sub:.0f}, range {min(subproc_rates):.0f}-{max(subproc_rates):.0f})")
    print(f"{'K':>3} {'batched':>9} {'K single':>9} {'ratio':>7}   (ratio: batched / best of K single and subproc)")
    for k, b, s in rows:
        print(f"{k:>3} {b:>9.0f} {s:>9.0f} {b / max(s, sub):>6.2f}x", flush=True)
    if 8 in ks:
        bound = matmul_bound(setting, 8, options, device)
        print(f"K = 8, matrix products alone (an upper bound for batching): {bound:.0f} child steps/s, "
              f"{bound / sub:.2f}x SubprocVecEnv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--decisions", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--children", nargs="+", default=list(CHILDREN), choices=list(CHILDREN))
    args = parser.parse_args()
    # One process may use every core (batched, and K single environments one after another);
    # SubprocVecEnv workers use one thread each, as in training.
    threads = os.cpu_count() or 1
    print(f"{threads} cores; in-process measurements use {threads} torch threads; torch {torch.__version__}")
    torch.set_num_threads(threads)
    for name in args.children:
        bench_child(name, args.ks, args.decisions, args.rounds, args.device)


if __name__ == "__main__":
    main()
