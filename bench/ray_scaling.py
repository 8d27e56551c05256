#!/usr/bin/env python
"""Child steps per second of `vec_env: ray` against `subproc` on one machine, and from 1 to 2 Ray nodes.

1. Overhead on one machine: digits-mlp, the same number of environments (--envs, default 2) under
   SubprocVecEnv (one process and one torch thread each), under Ray actors on a local Ray (one CPU and
   one thread each), and under one Ray actor holding them all as batched children (as many threads as
   environments), with decisions of 5 and 20 child steps. Each figure is the median of --rounds measurements taken in turn (subproc,
   ray, subproc, ...); a measurement steps every environment --decisions times after a warm-up, and
   building the VecEnv (and starting Ray) is timed apart. Target: Ray at most 10% slower.
2. Scaling: a head node started by `ray start` with --cpus-per-node CPUs, the same run with one
   environment per CPU, then a second node started by `ray start` on other ports, and the run again
   with twice the environments. Both nodes run on this machine, so they share its cores: with one CPU
   per node on a 2-core machine, the second node adds the second core.

The second part runs `ray stop`, which stops every Ray on this machine.

Usage: python bench/ray_scaling.py [--envs 2] [--decisions 200] [--rounds 3] [--steps-per-action 5 20]
                                   [--cpus-per-node 1] [--skip-nodes]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from dataclasses import replace

import numpy as np

from lrctl.agents.vec_env import build_vec_env
from lrctl.config import PPOConfig, RayConfig, env_config

HEAD_PORT = 6390
SECOND_NODE = ["--node-manager-port=6391", "--object-manager-port=6392", "--min-worker-port=20000",
               "--max-worker-port=20999", "--metrics-export-port=6393", "--dashboard-agent-listen-port=6394",
               "--dashboard-agent-grpc-port=6395", "--runtime-env-agent-port=6396"]


def child_steps_per_second(ppo: PPOConfig, decisions: int, address: str | None = None,
                           steps_per_action: int = 5) -> tuple[float, float]:
    """(child steps per second while stepping, seconds to build the VecEnv) for `ppo` on digits-mlp."""
    env = env_config("digits-mlp", steps_per_action=steps_per_action, child_steps=100 * steps_per_action)
    start = time.perf_counter()
    venv = build_vec_env(env, ppo, seed=0, ray_address=address)
    built = time.perf_counter() - start
    rng = np.random.default_rng(0)
    try:
        venv.reset()
        for _ in range(10):  # warm-up: imports, first allocations
            venv.step(rng.integers(0, 3, ppo.n_envs))
        start = time.perf_counter()
        for _ in range(decisions):
            venv.step(rng.integers(0, 3, ppo.n_envs))
        elapsed = time.perf_counter() - start
    finally:
        venv.close()
    return ppo.n_envs * decisions * env.steps_per_action / elapsed, built


def overhead(envs: int, decisions: int, rounds: int, steps_per_action: tuple[int, ...]) -> None:
    subproc = PPOConfig(vec_env="subproc", n_envs=envs)
    configs = {"subproc": subproc,
               "ray, 1 env per actor": replace(subproc, vec_env="ray", ray=RayConfig(num_cpus_per_env=1)),
               f"ray, {envs} envs per actor (batched)":
                   replace(subproc, vec_env="ray", ray=RayConfig(num_cpus_per_env=1, envs_per_actor=envs))}
    print(f"## 1. one machine: digits-mlp, {envs} environments, {decisions} decisions, median of {rounds}")
    print("| steps per decision | vec_env | child steps/s (median) | all rounds | build s (median) | vs subproc |")
    print("| --- | --- | --- | --- | --- | --- |")
    for spa in steps_per_action:
        rates: dict[str, list[float]] = {name: [] for name in configs}
        builds: dict[str, list[float]] = {name: [] for name in configs}
        for _ in range(rounds):
            for name, ppo in configs.items():
                rate, built = child_steps_per_second(ppo, decisions, steps_per_action=spa)
                rates[name].append(rate)
                builds[name].append(built)
        base = statistics.median(rates["subproc"])
        for name in configs:
            rate = statistics.median(rates[name])
            print(f"| {spa} | {name} | {rate:.0f} | {', '.join(f'{r:.0f}' for r in rates[name])} | "
                  f"{statistics.median(builds[name]):.1f} | {100 * (base / rate - 1):+.0f}% time |", flush=True)
    print("(time: how much longer the same child steps take than under subproc; target <= +10%)\n")


def _ray(*args: str) -> None:
    subprocess.run(["ray", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "RAY_AUTH_MODE": "token"})  # as `ray start --head` sets up


def nodes(cpus_per_node: int, decisions: int, rounds: int) -> None:
    address = f"127.0.0.1:{HEAD_PORT}"
    os.environ["RAY_AUTH_MODE"] = "token"  # this process joins the cluster too
    _ray("stop", "--force")
    rows = []
    try:
        _ray("start", "--head", f"--port={HEAD_PORT}", f"--num-cpus={cpus_per_node}")
        for n_nodes in (1, 2):
            if n_nodes == 2:
                _ray("start", f"--address={address}", f"--num-cpus={cpus_per_node}", *SECOND_NODE)
                time.sleep(2)
            ppo = PPOConfig(vec_env="ray", n_envs=n_nodes * cpus_per_node, ray=RayConfig(num_cpus_per_env=1))
            rates = [child_steps_per_second(ppo, decisions, address)[0] for _ in range(rounds)]
            rows.append((n_nodes, ppo.n_envs, statistics.median(rates), rates))
    finally:
        _ray("stop", "--force")
    print(f"## 2. nodes started by `ray start` on this machine, {cpus_per_node} CPU(s) each, one environment per "
          f"CPU, median of {rounds}")
    print("| nodes | environments | child steps/s (median) | all rounds | vs 1 node |")
    print("| --- | --- | --- | --- | --- |")
    for n_nodes, envs, rate, rates in rows:
        print(f"| {n_nodes} | {envs} | {rate:.0f} | {', '.join(f'{r:.0f}' for r in rates)} | "
              f"{rate / rows[0][2]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=2)
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cpus-per-node", type=int, default=1)
    parser.add_argument("--steps-per-action", type=int, nargs="+", default=[5, 20],
                        help="child steps per decision (digits-mlp's default is 5)")
    parser.add_argument("--skip-nodes", action="store_true", help="only part 1")
    args = parser.parse_args()
    overhead(args.envs, args.decisions, args.rounds, tuple(args.steps_per_action))
    if not args.skip_nodes:
        nodes(args.cpus_per_node, args.decisions, args.rounds)


if __name__ == "__main__":
    main()
