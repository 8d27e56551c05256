"""Ablation step 33: the shipped file against the same file with other `--sgd-lr-offsets`, scored by `lrctl
select` on tuning tasks of the training distribution with every task on SGD (momentum 0.9), with the
training budgets and with budgets of 100 and 150 steps.

usage: python docs/results/sgd-lr-offset-depth/select_offsets.py WORK FIRST_SEED END_SEED NAME=POLICY ...
"""

import subprocess
import sys
from pathlib import Path

import yaml

TASK_SETS = {"training-budgets": [300, 500, 800], "short-budgets": [100, 150]}

work, first, end = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
candidates = dict(arg.split("=", 1) for arg in ["shipped=lrctl/policies/general.pt", *sys.argv[4:]])
for name, budgets in TASK_SETS.items():
    config = yaml.safe_load(Path("configs/general.yaml").read_text())
    config["env"]["tasks"].update(optimizers=["sgd"], child_steps=budgets)
    folders = []
    for candidate, policy in candidates.items():
        folder = work / name / candidate
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "policy.pt").write_bytes(Path(policy).read_bytes())
        (folder / "config.yaml").write_text(yaml.safe_dump({**config, "run_dir": str(folder)}))
        folders.append(str(folder))
    print(f"## {name} ({', '.join(map(str, budgets))} steps)", flush=True)
    subprocess.run(["lrctl", "select", *folders, "--seeds", *map(str, range(first, end)),
                    "--out", str(work / f"{name}.md")], check=True)
