"""Regret of policy files to a per-task tuned oracle on tuning tasks of the training distribution with
budgets of 100 to 250 steps (ablation steps 32 and after).

The oracle of a task is the lowest final validation loss over constant, cosine, linear and OneCycle at
3e-2, 1e-2, 3e-3 and 1e-3 (or the LRs in $GRID) on that task and seed (one seed per task, so it is
slightly optimistic). Prints one JSON line per task, then per policy and initial LR the median and mean
regret, the count within 5%, the 90th percentile and the worst.

usage: STARTS="1e-2 1e-3 1e-4" GRID="3e-2 1e-2 3e-3 1e-3" \
    python docs/results/short-member-cap200/oracle_regret.py FIRST_SEED END_SEED POLICY...
"""

import json
import os
import sys
from dataclasses import replace

import numpy as np

from lrctl.children.child import episode_rng, start_episode
from lrctl.config import load_config
from lrctl.evaluation.methods import ORACLE_SCHEDULES, MethodSpec
from lrctl.evaluation.report import LEARNED
from lrctl.evaluation.runner import Task, run_tasks

GRID = tuple(float(x) for x in os.environ.get("GRID", "3e-2 1e-2 3e-3 1e-3").split())


def short_task_env():
    """The training distribution's tasks with budgets of 100 to 250 steps."""
    cfg = load_config("configs/general.yaml")
    return replace(cfg.env, tasks=replace(cfg.env.tasks, child_steps=(100, 150, 200, 250)))


def main() -> None:
    env = short_task_env()
    seeds = list(range(int(sys.argv[1]), int(sys.argv[2])))
    policies = sys.argv[3:]
    starts = tuple(float(x) for x in os.environ.get("STARTS", "1e-2 1e-3 1e-4").split())
    tasks = [Task(env, replace(LEARNED, params={"path": p}), s, lr) for p in policies for s in seeds for lr in starts]
    tasks += [Task(env, MethodSpec(kind, kind), s, lr) for kind in ORACLE_SCHEDULES for s in seeds for lr in GRID]
    loss = {}
    for task, result in zip(tasks, run_tasks(tasks, workers=2)):
        name = task.method.params["path"] if task.method.params else task.method.name
        finite = result.final and not result.diverged
        loss[(name, task.seed, task.initial_lr)] = result.final["final_val_loss"] if finite else float("inf")
    regrets: dict[tuple[str, float], list[float]] = {}
    for seed in seeds:
        oracle = min((loss[(kind, seed, lr)], kind, lr) for kind in ORACLE_SCHEDULES for lr in GRID)
        row = {"seed": seed, "task": str(start_episode(env, episode_rng(seed), 1e-3)[0]), "oracle": oracle}
        for p in policies:
            row[p] = {lr: loss[(p, seed, lr)] / oracle[0] - 1 for lr in starts}
            for lr in starts:
                regrets.setdefault((p, lr), []).append(row[p][lr])
        print(json.dumps(row), flush=True)
    print_regret_summary(regrets)


def print_regret_summary(regrets: dict[tuple[str, float], list[float]]) -> None:
    """Per (policy, initial LR): the median and mean regret, the count within 5%, the 90th percentile and the
    worst."""
    for (p, lr), values in regrets.items():
        r = np.array(values)
        print(f"{p} {lr:g}: median {100 * np.median(r):+.1f}%, mean {100 * r.mean():+.1f}%, "
              f"within 5% {(r <= 0.05).sum()}/{len(r)}, 90th percentile {100 * np.percentile(r, 90):+.1f}%, "
              f"worst {100 * r.max():+.1f}%")


if __name__ == "__main__":
    main()
