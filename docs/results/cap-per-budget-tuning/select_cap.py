"""Ablation step 20: the general policy's members deployed with their cap set per budget
(`cap_decisions` N), scored by `lrctl select` on tuning tasks only.

Two task sets, tuning seeds 100000..100019: the training distribution (configs/general.yaml, budgets of
300, 500 and 800 steps) and the same distribution with budgets of 100 and 150 steps. Each candidate is
the two members, unchanged, with N = 0 (as trained: 10% per decision), 60 or 100 on the low-start member
only, or 100, 150 or 200 on both.

    python docs/results/cap-per-budget-tuning/select_cap.py runs/general-seed4/policy.pt \
        runs/general-bounded-seed5/policy.pt --work /tmp/cap-per-budget
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import yaml

from lrctl.deploy.policy import PolicyByInitialLR, load_policy, save_policy, with_cap_decisions
from lrctl.evaluation.selection import load_candidates, render_selection, score_runs

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "general.yaml"
TASK_SETS = {"training-budgets": [300, 500, 800], "short-budgets": [100, 150]}
CANDIDATES = {"as-trained": (0, 0), "low-60": (60, 0), "low-100": (100, 0), "both-100": (100, 100),
              "both-150": (150, 150), "both-200": (200, 200)}
SEEDS = list(range(100_000, 100_020))
HAND_OVER = 5.5e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("low", help="the low-start member's policy file")
    parser.add_argument("high", help="the high-start member's policy file")
    parser.add_argument("--work", required=True, help="a folder for the candidates' run folders")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    low, high = load_policy(args.low), load_policy(args.high)
    config = yaml.safe_load(CONFIG.read_text())
    for task_set, budgets in TASK_SETS.items():
        run_dirs = []
        for name, (low_cap, high_cap) in CANDIDATES.items():
            run_dir = Path(args.work) / task_set / name
            run_dir.mkdir(parents=True, exist_ok=True)
            members = [with_cap_decisions(low, low_cap), with_cap_decisions(high, high_cap)]
            save_policy(PolicyByInitialLR(members, [HAND_OVER]), run_dir / "policy.pt")
            tasks = copy.deepcopy(config)
            tasks["env"]["tasks"]["child_steps"] = budgets
            tasks["run_dir"] = str(run_dir)
            (run_dir / "config.yaml").write_text(yaml.safe_dump(tasks))
            run_dirs.append(run_dir)
        runs, seeds = load_candidates(run_dirs, SEEDS)
        print(f"## {task_set} ({', '.join(map(str, budgets))} steps)\n")
        print(render_selection(score_runs(runs, seeds, workers=args.workers), seeds, tasks_of=run_dirs[0]))


if __name__ == "__main__":
    main()
