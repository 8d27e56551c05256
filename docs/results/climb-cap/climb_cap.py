"""Ablation step 25: score a policy file with other caps for climbing and for cutting: up moves capped as with
`cap_decisions` N_UP, down moves as with N_DOWN (the file says N = 100 for both), on a tuning task set (a run
folder whose config.yaml holds the tasks and whose policy.pt is the file). A patch of `decision_lrs`, not a
product option, so the runs stay in this process (one worker).

usage: python docs/results/climb-cap/climb_cap.py N_UP N_DOWN RUN_DIR [--low-only] [--seeds S ...]
(about 2 minutes for 20 tasks x 3 starts on short budgets, 4 on the training ones)
"""

import argparse
from dataclasses import replace
from pathlib import Path

import lrctl.deploy.scheduler as scheduler
import lrctl.envs.core as core
from lrctl.config import load_config
from lrctl.deploy import actions
from lrctl.evaluation.selection import render_selection, score_runs

parser = argparse.ArgumentParser()
parser.add_argument("up_cap_decisions", type=int)
parser.add_argument("down_cap_decisions", type=int)
parser.add_argument("run_dir", type=Path)
parser.add_argument("--low-only", action="store_true", help="only the member over the linear base (the low-start one)")
parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100000, 100020)))
args = parser.parse_args()
decision_lrs = actions.decision_lrs


def capped_apart(rule, policy_lr, action, steps_done, budget, steps_per_action, initial_lr, noise=0.0):
    if rule.cap_decisions > 0 and (not args.low_only or rule.action_base == "linear"):
        up = actions.action_exponent(action, rule.action_mode) > 0
        rule = replace(rule, cap_decisions=args.up_cap_decisions if up else args.down_cap_decisions)
    return decision_lrs(rule, policy_lr, action, steps_done, budget, steps_per_action, initial_lr, noise)


core.decision_lrs = scheduler.decision_lrs = capped_apart
print(render_selection(score_runs([(args.run_dir, load_config(args.run_dir / "config.yaml"))], args.seeds, workers=1),
                       args.seeds, tasks_of=args.run_dir))
