"""Probe: the low-start member on SGD runs, observing log10 of the LR shifted by SHIFT decades (SGD's good LRs
lie about ten times above Adam's). A patch of FeatureTracker.observe, in this process (one worker).
usage: python docs/results/sgd-lr-feature/lr_shift.py SHIFT RUN_DIR [--seeds S ...]"""
import argparse
from pathlib import Path

import lrctl.deploy.features as features
from lrctl.config import load_config
from lrctl.evaluation.records import selection_score
from lrctl.evaluation.selection import render_selection, score_runs

parser = argparse.ArgumentParser()
parser.add_argument("shift", type=float)
parser.add_argument("run_dir", type=Path)
parser.add_argument("--seeds", type=int, nargs="+", default=list(range(100000, 100020)))
args = parser.parse_args()
observe = features.FeatureTracker.observe


def shifted(self, *a, **k):
    obs, val = observe(self, *a, **k)
    if "log10_lr" in self.feature_names:
        obs[:, list(self.feature_names).index("log10_lr")] += args.shift
    return obs, val


features.FeatureTracker.observe = shifted
candidates = score_runs([(args.run_dir, load_config(args.run_dir / "config.yaml"))], args.seeds, workers=1)
print(render_selection(candidates, args.seeds, tasks_of=args.run_dir))
for lr, runs in candidates[0].policy_runs.items():  # the mean log(policy / constant LR) per start
    print(f"start {lr:g}: {selection_score({lr: runs}, {lr: candidates[0].constant_runs[lr]}):+.4f}")
