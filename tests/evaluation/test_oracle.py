"""The tuned oracle: the best (schedule, LR) of the grid on the tuning seeds, run on the evaluation seeds
like every method, and each method's regret to it in the summary."""

from __future__ import annotations

import math

import pytest

from lrctl.config import env_config
from lrctl.evaluation.methods import (
    CONSTANT_LR_GRID,
    ORACLE,
    ORACLE_SCHEDULES,
    MethodSpec,
)
from lrctl.evaluation.outputs import summary_markdown
from lrctl.evaluation.protocol import evaluate, plan_for
from lrctl.evaluation.runner import Task, run_tasks
from lrctl.evaluation.statistics import regret_interval
from tests.evaluation.conftest import EVAL_ENV


@pytest.fixture(scope="module")
def oracle_result(policy_path):
    env = env_config("digits-mlp", **EVAL_ENV)
    plan = plan_for(env, policy_path, seeds=[11, 12, 13], initial_lrs=[1e-2, 1e-4], workers=1,
                    include_peers=False, baselines=["oracle", "constant"])
    return evaluate(plan)


def test_the_oracle_is_the_best_schedule_and_lr_of_the_grid_on_the_tuning_seeds(oracle_result):
    plan = oracle_result.plan
    candidates = [(kind, lr) for kind in ORACLE_SCHEDULES for lr in CONSTANT_LR_GRID]
    runs = run_tasks([Task(plan.env, MethodSpec(f"{kind}={lr:g}", kind), seed, lr)
                      for kind, lr in candidates for seed in plan.tuning_seeds])
    mean = {c: sum(r.final_val_loss for r in runs if r.method == f"{c[0]}={c[1]:g}") for c in candidates}
    assert oracle_result.oracle == min(candidates, key=mean.__getitem__)


def test_the_oracle_runs_the_same_from_every_initial_lr(oracle_result):
    by_start = {lr0: [r.final_val_loss for r in sorted(oracle_result.runs, key=lambda r: r.seed)
                      if r.method == ORACLE and r.initial_lr == lr0] for lr0 in (1e-2, 1e-4)}
    assert len(by_start[1e-2]) == 3 and by_start[1e-2] == by_start[1e-4]


def test_the_summary_gives_every_methods_regret_to_the_oracle(oracle_result):
    summary = summary_markdown(oracle_result)
    kind, lr = oracle_result.oracle
    assert f"tuned oracle {kind} from {lr:g}" in summary
    assert "| regret to oracle |" in summary
    oracle_rows = [line for line in summary.splitlines() if f"| {ORACLE} |" in line]
    assert len(oracle_rows) == 2 and all(row.endswith("+0.0% [+0.0%, +0.0%] |") for row in oracle_rows)


def test_regret_is_the_ratio_of_mean_losses_less_one_with_a_paired_interval():
    exact = regret_interval([1.1, 2.2, 3.3], [1.0, 2.0, 3.0])
    assert exact.value == pytest.approx(0.1) and exact.low == pytest.approx(0.1) and exact.high == pytest.approx(0.1)
    noisy = regret_interval([1.0, 2.5, 2.9, 4.4], [1.0, 2.0, 3.0, 4.0])
    assert noisy.low <= noisy.value <= noisy.high and noisy.low < noisy.high
    diverged = regret_interval([1.0, math.inf], [1.0, 1.0])
    assert diverged.value == math.inf and math.isnan(diverged.low)
    with pytest.raises(ValueError, match="same seeds"):
        regret_interval([1.0], [1.0, 2.0])
