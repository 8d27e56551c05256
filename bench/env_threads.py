#!/usr/bin/env python
"""Seconds per decision of one LRControlEnv in this process at 1 and at 2 torch threads, on a quiet
machine and on one where other processes keep every core busy (as in a CleanRL sync or SB3 DummyVecEnv
script that shares the machine).

Usage: python bench/env_threads.py [--setting digits-mlp] [--episodes 3] [--load-processes N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time

import torch

from lrctl.deploy.actions import keep_action
from lrctl.envs import LRControlEnv


def seconds_per_decision(env: LRControlEnv, episodes: int) -> float:
    keep = keep_action(env.config.action_mode)
    decisions, start = 0, time.perf_counter()
    for seed in range(episodes):
        env.reset(seed=seed, options={"initial_lr": 1e-3})
        done = False
        while not done:
            _, _, done, _, _ = env.step(keep)
            decisions += 1
    return (time.perf_counter() - start) / decisions


def _busy() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="digits-mlp")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--load-processes", type=int, default=os.cpu_count() or 1,
                        help="busy processes for the loaded case (default: one per core)")
    args = parser.parse_args()
    if args.episodes < 1 or args.load_processes < 0:
        print("env_threads: --episodes must be >= 1 and --load-processes >= 0", file=sys.stderr)
        return 2
    env = LRControlEnv(args.setting)
    print(f"{args.setting}, {os.cpu_count()} cores; seconds per decision (lower is better)")
    print("| machine | 1 thread | 2 threads |\n| --- | --- | --- |")
    for label, load in (("quiet", 0), (f"{args.load_processes} busy processes", args.load_processes)):
        workers = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(load)]
        for worker in workers:
            worker.start()
        try:
            row = []
            for threads in (1, 2):
                torch.set_num_threads(threads)
                seconds_per_decision(env, 1)  # warm-up
                row.append(seconds_per_decision(env, args.episodes))
        finally:
            for worker in workers:
                worker.kill()
        print(f"| {label} | {row[0]:.4f} | {row[1]:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
