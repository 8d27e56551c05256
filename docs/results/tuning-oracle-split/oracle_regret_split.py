"""Regret of policy files to a per-task tuned oracle chosen on one episode and scored on others (ablation
step 52 and after), on tuning tasks of the training distribution with budgets of 100 to 250 steps.

`short-member-cap200/oracle_regret.py` chooses each task's oracle (the best of constant, cosine, linear
and OneCycle at each LR of $GRID) on the one episode it then scores, the best of 16 runs there: an
optimistic oracle, and one episode per task. Here the oracle is chosen on the task's own episode (seed
s) and scored, with the policies, on $EPISODES other episodes of the same task (`Task.task_seed`; their
children and batches from seeds 10 * s + 1, 10 * s + 2, ...). A task's regret is the mean final
validation loss over those episodes divided by the oracle's mean over the same episodes, minus 1. Prints
one JSON line per task, then per policy and initial LR the median and mean regret, the count within 5%,
the 90th percentile and the worst.

usage: STARTS="1e-2 1e-3 1e-4" GRID="3e-2 1e-2 3e-3 1e-3" EPISODES=2 \
    python docs/results/tuning-oracle-split/oracle_regret_split.py FIRST_SEED END_SEED POLICY...
"""

import importlib.util
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from lrctl.children.child import episode_rng, start_episode
from lrctl.config import load_config
from lrctl.evaluation.methods import ORACLE_SCHEDULES, MethodSpec
from lrctl.evaluation.report import LEARNED
from lrctl.evaluation.runner import Task, run_tasks

GRID = tuple(float(x) for x in os.environ.get("GRID", "3e-2 1e-2 3e-3 1e-3").split())
STARTS = tuple(float(x) for x in os.environ.get("STARTS", "1e-2 1e-3 1e-4").split())
EPISODES = int(os.environ.get("EPISODES", "2"))


def _one_episode_script():
    """`short-member-cap200/oracle_regret.py`, whose summary lines this script prints too."""
    spec = importlib.util.spec_from_file_location(
        "oracle_regret", Path(__file__).parents[1] / "short-member-cap200" / "oracle_regret.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


print_regret_summary = _one_episode_script().print_regret_summary


def final_loss(result) -> float:
    return result.final["final_val_loss"] if result.final and not result.diverged else float("inf")


def main() -> None:
    cfg = load_config("configs/general.yaml")
    env = replace(cfg.env, tasks=replace(cfg.env.tasks, child_steps=(100, 150, 200, 250)))
    seeds = list(range(int(sys.argv[1]), int(sys.argv[2])))
    policies = sys.argv[3:]
    held_out = {s: [10 * s + k for k in range(1, EPISODES + 1)] for s in seeds}

    grid = [Task(env, MethodSpec(kind, kind), s, lr) for kind in ORACLE_SCHEDULES for s in seeds for lr in GRID]
    chosen: dict[int, tuple[float, str, float]] = {}
    for task, result in zip(grid, run_tasks(grid, workers=2)):
        candidate = (final_loss(result), task.method.kind, task.initial_lr)
        chosen[task.seed] = min(chosen.get(task.seed, candidate), candidate)

    runs = [Task(env, MethodSpec(chosen[s][1], chosen[s][1]), e, chosen[s][2], task_seed=s)
            for s in seeds for e in held_out[s]]
    runs += [Task(env, replace(LEARNED, params={"path": p}), e, lr, task_seed=s)
             for p in policies for s in seeds for e in held_out[s] for lr in STARTS]
    loss: dict[tuple[str, int, float], list[float]] = {}
    for task, result in zip(runs, run_tasks(runs, workers=2)):
        name = task.method.params["path"] if task.method.params else "oracle"
        lr = task.initial_lr if task.method.params else 0.0
        loss.setdefault((name, task.task_seed, lr), []).append(final_loss(result))

    regrets: dict[tuple[str, float], list[float]] = {}
    for s in seeds:
        oracle = float(np.mean(loss[("oracle", s, 0.0)]))
        row = {"seed": s, "task": str(start_episode(env, episode_rng(s), 1e-3)[0]),
               "oracle": [chosen[s][1], chosen[s][2], oracle]}
        for p in policies:
            row[p] = {lr: float(np.mean(loss[(p, s, lr)])) / oracle - 1 for lr in STARTS}
            for lr in STARTS:
                regrets.setdefault((p, lr), []).append(row[p][lr])
        print(json.dumps(row), flush=True)
    print_regret_summary(regrets)

if __name__ == "__main__":
    main()
