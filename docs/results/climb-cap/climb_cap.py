"""Ablation step 25: score a policy file with a larger cap for climbing than for cutting: up moves capped as
with `cap_decisions` N_UP, down moves as the file says (N = 100), on a tuning task set (a run folder whose
config.yaml holds the tasks and whose policy.pt is the file). A patch of `decision_lrs`, not a product option,
so the runs stay in this process (one worker).

usage: python docs/results/climb-cap/climb_cap.py N_UP RUN_DIR      (about 2 minutes for 20 tasks x 3 starts)
"""

import sys
from dataclasses import replace
from pathlib import Path

import lrctl.deploy.scheduler as scheduler
import lrctl.envs.core as core
from lrctl.config import load_config
from lrctl.deploy import actions
from lrctl.evaluation.selection import render_selection, score_runs

climb_cap_decisions = int(sys.argv[1])
run_dir = Path(sys.argv[2])
decision_lrs = actions.decision_lrs


def climbing_faster(rule, policy_lr, action, steps_done, budget, steps_per_action, initial_lr, noise=0.0):
    if rule.cap_decisions > 0 and actions.action_exponent(action, rule.action_mode) > 0:
        rule = replace(rule, cap_decisions=climb_cap_decisions)
    return decision_lrs(rule, policy_lr, action, steps_done, budget, steps_per_action, initial_lr, noise)


core.decision_lrs = scheduler.decision_lrs = climbing_faster
seeds = list(range(100000, 100020))
print(render_selection(score_runs([(run_dir, load_config(run_dir / "config.yaml"))], seeds, workers=1), seeds,
                       tasks_of=run_dir))
