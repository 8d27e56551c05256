"""Ablation step 24: members for SGD runs against the shipped file (whose SGD runs its low-start member drives),
scored by `lrctl select` on tuning seeds 100000..100019 of the training distribution with every task on SGD,
with the training budgets and with budgets of 100 and 150 steps. Each candidate drives every SGD run alone,
with cap_decisions 100; a file of several policies (`lrctl combine ... --cap-decisions 100`) plays as combined.
Ablation step 33 scored other files on other tuning seeds with `--seeds FIRST END` (END excluded).

usage: python docs/results/sgd-only-member/select_sgd.py WORK NAME=POLICY ... [--seeds FIRST END]
       (about 4 minutes per task set)
"""

import argparse
import subprocess
from pathlib import Path

import yaml

from lrctl.deploy.policy import Policy, load_policy, save_policy, with_cap_decisions

TASK_SETS = {"training-budgets": [300, 500, 800], "short-budgets": [100, 150]}

parser = argparse.ArgumentParser()
parser.add_argument("work", type=Path)
parser.add_argument("candidates", nargs="*", metavar="NAME=POLICY")
parser.add_argument("--seeds", nargs=2, type=int, default=[100000, 100020], metavar=("FIRST", "END"))
args = parser.parse_intermixed_args()
work, (first, end) = args.work, args.seeds
candidates = dict(arg.split("=", 1) for arg in ["shipped=lrctl/policies/general.pt", *args.candidates])
for name, budgets in TASK_SETS.items():
    config = yaml.safe_load(Path("configs/general.yaml").read_text())
    config["env"]["tasks"].update(optimizers=["sgd"], child_steps=budgets)
    folders = []
    for candidate, policy in candidates.items():
        folder = work / name / candidate
        folder.mkdir(parents=True, exist_ok=True)
        loaded = load_policy(policy)
        save_policy(with_cap_decisions(loaded, 100) if isinstance(loaded, Policy) else loaded, folder / "policy.pt")
        (folder / "config.yaml").write_text(yaml.safe_dump({**config, "run_dir": str(folder)}))
        folders.append(str(folder))
    print(f"## {name} ({', '.join(map(str, budgets))} steps)", flush=True)
    subprocess.run(["lrctl", "select", *folders, "--seeds", *map(str, range(first, end)),
                    "--out", str(work / f"{name}.md")], check=True)
