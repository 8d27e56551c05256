"""One writer per run folder: a second writer is refused with the holder's process id, and a lock whose
holder was killed with -9 does not block the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lrctl.run_lock import LOCK_FILE, RunFolderBusy, run_folder_lock

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from lrctl.run_lock import run_folder_lock
with run_folder_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_is_refused_with_the_holders_pid(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(RunFolderBusy, match=f"process {proc.pid}"):
            with run_folder_lock(tmp_path):
                pass
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_whose_holder_was_killed_does_not_block(tmp_path):
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_folder_lock(tmp_path):
        pass
    assert not (tmp_path / LOCK_FILE).exists()  # released locks leave nothing in the run folder


@pytest.mark.slow
def test_two_trainings_started_together_in_one_folder_one_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    tiny = ["--set", "env.child_steps=40", "--set", "env.val_subset_size=64", "--set", "ppo.total_timesteps=64",
            "--set", "ppo.n_envs=2", "--set", "ppo.vec_env=dummy", "--set", "ppo.n_steps=16",
            "--set", "ppo.batch_size=16", "--set", "report_seeds=[7]"]
    argv = [sys.executable, str(ROOT / "train_controller.py"), "--no-progress", "--run-dir", str(run_dir), *tiny]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outcomes = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in outcomes) == [0, 2], outcomes
    refused = next(err for code, err in outcomes if code == 2)
    assert refused.count("\n") == 1 and ("in use by process" in refused or "already holds a run" in refused)
    assert (run_dir / "policy.pt").is_file() and not (run_dir / LOCK_FILE).exists()
