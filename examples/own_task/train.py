#!/usr/bin/env python
"""Train a controller on an own setting (examples/own_task/tasks.py) through the Python API.

Run from the repository root: python examples/own_task/train.py [--timesteps 20000] [--run-dir runs/own-task]
It writes the run folder (policy.pt, report.md, TensorBoard logs) as `train_controller.py` does; the
report compares the learned policy with the constant LR and five schedules on held-out seeds.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: examples.own_task imports

from lrctl.agents.trainer import train  # noqa: E402
from lrctl.config import load_config  # noqa: E402

SETTING = "examples.own_task.tasks:breast_cancer_mlp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=20_000, help="controller decisions to train for")
    parser.add_argument("--run-dir", default="runs/own-task")
    parser.add_argument("--n-envs", type=int, default=4)
    args = parser.parse_args()
    n_steps = max(1, min(250, args.timesteps // args.n_envs))
    cfg = load_config(None, [
        f"env.setting={SETTING}", f"run_dir={args.run_dir}", f"ppo.total_timesteps={args.timesteps}",
        f"ppo.n_envs={args.n_envs}", f"ppo.n_steps={n_steps}", f"ppo.batch_size={min(100, n_steps * args.n_envs)}",
        "progress_bar=false",
    ])
    result = train(cfg, overwrite=True)
    print(f"trained {result.timesteps} decisions in {result.wall_time_s:.0f} s; policy and report in {result.run_dir}")


if __name__ == "__main__":
    main()
