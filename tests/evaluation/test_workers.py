"""Evaluation workers end with their parent: a killed `evaluate` leaves nothing computing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes: `-m "not slow"` leaves it out
ROOT = Path(__file__).resolve().parents[2]
PARENT = """
import multiprocessing, os, time
from lrctl.evaluation.runner import init_pool_worker

def compute_forever(_):
    while True:
        time.sleep(0.1)

if __name__ == "__main__":
    pool = multiprocessing.get_context("spawn").Pool(2, initializer=init_pool_worker, initargs=(os.getpid(),))
    pool.map_async(compute_forever, range(2))
    time.sleep(1.0)
    print(" ".join(str(p.pid) for p in pool._pool), flush=True)
    time.sleep(120)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # an ended worker that no init has reaped yet computes nothing


def test_workers_end_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(workers) == 2 and all(_running(pid) for pid in workers)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers)
