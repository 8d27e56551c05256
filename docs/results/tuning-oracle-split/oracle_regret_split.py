"""Regret of policy files to a per-task tuned oracle chosen on one episode and scored on others (ablation
step 52 and after), on tuning tasks of the training distribution with budgets of 100 to 250 steps.

`short-member-cap200/oracle_regret.py` chooses each task's oracle (the best of constant, cosine, linear
and OneCycle at each LR of $GRID) on the one episode it then scores, the best of 16 runs there: an
optimistic oracle, and one episode per task. Here the oracle is chosen on the task's own episode (seed
s) and scored, with the policies, on $EPISODES other episodes of the same task (`Task.task_seed`; their
children and batches from seeds 10 * s + 1, 10 * s + 2, ...). A task's regret is the mean final
validation loss over those episodes divided by the oracle's mean over the same episodes, minus 1. Prints
one JSON line per task, then per policy and initial LR the median and mean regret, the count within 5%,
the 90th percentile and the worst, and each later policy's paired difference to the first (the sum over
starts of the mean over tasks of log(policy / first)) with a 95% bootstrap interval over tasks.

usage: STARTS="1e-2 1e-3 1e-4" GRID="3e-2 1e-2 3e-3 1e-3" EPISODES=2 \
    python docs/results/tuning-oracle-split/oracle_regret_split.py FIRST_SEED END_SEED POLICY...
"""

import json
import os
import runpy
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from lrctl.children.child import episode_rng, start_episode
from lrctl.evaluation.methods import ORACLE_SCHEDULES, MethodSpec
from lrctl.evaluation.report import LEARNED
from lrctl.evaluation.runner import Task, run_tasks
from lrctl.evaluation.statistics import mean_interval

GRID = tuple(float(x) for x in os.environ.get("GRID", "3e-2 1e-2 3e-3 1e-3").split())
STARTS = tuple(float(x) for x in os.environ.get("STARTS", "1e-2 1e-3 1e-4").split())
EPISODES = int(os.environ.get("EPISODES", "2"))


# `short-member-cap200/oracle_regret.py`: its summary lines and its tasks
_ONE_EPISODE = runpy.run_path(str(Path(__file__).parents[1] / "short-member-cap200" / "oracle_regret.py"))
print_regret_summary, short_task_env = _ONE_EPISODE["print_regret_summary"], _ONE_EPISODE["short_task_env"]


def final_loss(result) -> float:
    return result.final["final_val_loss"] if result.final and not result.diverged else float("inf")


def held_out_regrets(env, seeds: list[int], methods: dict[str, MethodSpec]) -> dict[tuple[str, float], list[float]]:
    """Each task's oracle chosen on its own episode; it and `methods` (by label) from every start in STARTS
    scored on EPISODES held-out episodes. Prints one JSON line per task; returns the regrets per (label,
    initial LR), in the order of `seeds`."""
    held_out = {s: [10 * s + k for k in range(1, EPISODES + 1)] for s in seeds}
    grid = [Task(env, MethodSpec(kind, kind), s, lr) for kind in ORACLE_SCHEDULES for s in seeds for lr in GRID]
    chosen: dict[int, tuple[float, str, float]] = {}
    for task, result in zip(grid, run_tasks(grid, workers=2)):
        candidate = (final_loss(result), task.method.kind, task.initial_lr)
        chosen[task.seed] = min(chosen.get(task.seed, candidate), candidate)

    runs = [("oracle", Task(env, MethodSpec(chosen[s][1], chosen[s][1]), e, chosen[s][2], task_seed=s))
            for s in seeds for e in held_out[s]]
    runs += [(label, Task(env, spec, e, lr, task_seed=s))
             for label, spec in methods.items() for s in seeds for e in held_out[s] for lr in STARTS]
    loss: dict[tuple[str, int, float], list[float]] = {}
    for (label, task), result in zip(runs, run_tasks([task for _, task in runs], workers=2)):
        lr = 0.0 if label == "oracle" else task.initial_lr
        loss.setdefault((label, task.task_seed, lr), []).append(final_loss(result))

    regrets: dict[tuple[str, float], list[float]] = {}
    for s in seeds:
        oracle = float(np.mean(loss[("oracle", s, 0.0)]))
        row = {"seed": s, "task": str(start_episode(env, episode_rng(s), 1e-3)[0]),
               "oracle": [chosen[s][1], chosen[s][2], oracle]}
        for label in methods:
            row[label] = {lr: float(np.mean(loss[(label, s, lr)])) / oracle - 1 for lr in STARTS}
            for lr in STARTS:
                regrets.setdefault((label, lr), []).append(row[label][lr])
        print(json.dumps(row), flush=True)
    return regrets


def print_paired_differences(regrets: dict[tuple[str, float], list[float]], reference: str, labels: list[str]) -> None:
    """Per label, its paired difference to `reference` (the sum over starts of the mean over tasks of
    log(label / reference)) with a 95% percentile-bootstrap interval over tasks."""
    for label in labels:
        per_task = sum(np.log1p(np.array(regrets[(label, lr)])) - np.log1p(np.array(regrets[(reference, lr)]))
                       for lr in STARTS)
        difference = mean_interval(per_task)
        print(f"{label} - {reference}: {difference.value:+.3f} [{difference.low:+.3f}, {difference.high:+.3f}] "
              f"over {len(per_task)} tasks")


def main() -> None:
    seeds = list(range(int(sys.argv[1]), int(sys.argv[2])))
    methods = {p: replace(LEARNED, params={"path": p}) for p in sys.argv[3:]}
    regrets = held_out_regrets(short_task_env(), seeds, methods)
    print_regret_summary(regrets)
    print_paired_differences(regrets, sys.argv[3], sys.argv[4:])


if __name__ == "__main__":
    main()
