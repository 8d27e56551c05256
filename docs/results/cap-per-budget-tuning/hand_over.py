"""Ablation step 20, second part: where the two members, both deployed with the cap per budget, cross.

Each member alone runs the 20 tuning tasks (seeds 100000..100019) of the training distribution
(configs/general.yaml) and of the same distribution with budgets of 100 and 150 steps, from initial LRs
between 3e-3 and 1e-2; the table gives, per start, the mean over tasks of log(L_high / L_low) of the
final validation loss (below 0: the high-start member is ahead).

    python docs/results/cap-per-budget-tuning/hand_over.py lrctl/policies/general.pt --work /tmp/hand-over

`--optimizer sgd` runs the same tasks with every child on SGD with momentum 0.9 (ablation step 22), and
`--starts` other initial LRs.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from pathlib import Path

from lrctl.config import load_config
from lrctl.deploy.policy import load_policy, save_policy
from lrctl.evaluation.report import LEARNED
from lrctl.evaluation.runner import Task, run_tasks

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "general.yaml"
TASK_SETS = {"training budgets": (300, 500, 800), "budgets 100, 150": (100, 150)}
STARTS = (3e-3, 4e-3, 5.5e-3, 7.5e-3, 1e-2)
SEEDS = range(100_000, 100_020)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy", help="a policy file of two members (low-start, high-start)")
    parser.add_argument("--work", required=True, help="a folder for the members' files")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="every task's child optimizer")
    parser.add_argument("--starts", type=float, nargs="+", default=STARTS, help="initial LRs")
    args = parser.parse_args()
    starts = tuple(args.starts)
    if not all(0 < lr < 1 for lr in starts):
        parser.error(f"--starts {list(starts)!r}: give initial LRs between 0 and 1")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, member in zip(("low", "high"), load_policy(args.policy).members):
        save_policy(member, work / f"{name}.pt")
        paths.append(str(work / f"{name}.pt"))
    env = load_config(CONFIG).env
    print("| task set | " + " | ".join(f"{lr:g}" for lr in starts) + " |")
    print("| --- " * (len(starts) + 1) + "|")
    for task_set, budgets in TASK_SETS.items():
        tasks_env = replace(env, tasks=replace(env.tasks, child_steps=budgets, optimizers=(args.optimizer,)))
        tasks = [Task(tasks_env, replace(LEARNED, params={"path": path}), seed, lr)
                 for path in paths for lr in starts for seed in SEEDS]
        results = run_tasks(tasks, workers=args.workers, batched=True)
        half = len(results) // 2
        cells = []
        for i, _ in enumerate(starts):
            block = slice(i * len(SEEDS), (i + 1) * len(SEEDS))
            ratios = [math.log(h.final_val_loss / low.final_val_loss)
                      for low, h in zip(results[:half][block], results[half:][block])]
            cells.append(f"{sum(ratios) / len(ratios):+.4f}")
        print(f"| {task_set} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
