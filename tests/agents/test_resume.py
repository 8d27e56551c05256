"""Interrupted training resumes from its last checkpoint: after Ctrl-C and after kill -9."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrctl.agents.checkpoints import CheckpointError
from lrctl.agents.trainer import resume
from lrctl.cli import main

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out

ROOT = Path(__file__).resolve().parents[2]
TOTAL = 120
SLOW_TINY = [
    "env.child_steps=100", "env.steps_per_action=25", "env.batch_size=32", "env.val_subset_size=64",
    f"ppo.total_timesteps={TOTAL}", "ppo.n_envs=2", "ppo.vec_env=dummy", "ppo.n_steps=12",
    "ppo.batch_size=12", "ppo.n_epochs=1", "checkpoint_every=24", "report_seeds=[7]",
    "env.initial_lrs=[0.001]",
]


def _start(run_dir: Path) -> subprocess.Popen:
    args = [sys.executable, str(ROOT / "train_controller.py"), "--no-progress", "--run-dir", str(run_dir)]
    for item in SLOW_TINY:
        args += ["--set", item]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(proc: subprocess.Popen, run_dir: Path, timeout: float = 120.0) -> None:
    latest = run_dir / "checkpoints" / "latest.json"
    deadline = time.monotonic() + timeout
    while not latest.exists():
        assert proc.poll() is None, f"training ended before its first checkpoint: {proc.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.05)


def _finish_by_resume(run_dir: Path) -> None:
    result = resume(run_dir, log=lambda *_: None)
    assert result.timesteps == TOTAL  # the total asked for, not restarted from zero
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert latest["timesteps"] == TOTAL
    assert latest["counters"]["episodes"] == TOTAL // 4  # episodes before the stop are counted too
    for name in ("policy.pt", "report.md", "model.zip", "agent.pt", "vecnormalize.npz"):
        assert (run_dir / name).is_file()


def test_resume_after_kill_minus_nine(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir)
    _wait_for_checkpoint(proc, run_dir)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["timesteps"]
    assert 0 < saved < TOTAL
    # What a kill in the middle of an atomic write leaves behind; the resumed run clears it.
    leftovers = [run_dir / ".agent.pt.x1y2.tmp", run_dir / "checkpoints" / ".latest.json.a1b2.tmp"]
    for path in leftovers:
        path.write_bytes(b"half")
    _finish_by_resume(run_dir)
    assert not any(path.exists() for path in leftovers)


def test_ctrl_c_saves_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    proc = _start(run_dir)
    _wait_for_checkpoint(proc, run_dir)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == 130
    assert "--resume" in err and "Traceback" not in err
    _finish_by_resume(run_dir)


def test_resume_of_a_damaged_checkpoint_is_one_line(tmp_path, capsys):
    from lrctl.config import dump_yaml, load_config

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(dump_yaml(load_config(None, SLOW_TINY)))
    (run_dir / "checkpoints" / "model_000000024.pt").write_bytes(b"PK\x03\x04 truncated")
    (run_dir / "checkpoints" / "vecnormalize_000000024.npz").write_bytes(b"\x80\x04 garbage")
    (run_dir / "checkpoints" / "latest.json").write_text(json.dumps(
        {"format": 2, "timesteps": 24, "model": "model_000000024.pt", "vecnormalize": "vecnormalize_000000024.npz"}))
    with pytest.raises(CheckpointError):
        resume(run_dir, log=lambda *_: None)
    assert main(["train", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "latest.json" in err
    config = (run_dir / "config.yaml").read_text()
    assert main(["train", "--resume", str(run_dir), "--total-timesteps", "500"]) == 2
    assert (run_dir / "config.yaml").read_text() == config  # a resume that failed left the config as it was


@pytest.mark.parametrize("content", ["", "{not json", '{"timesteps": 5}',
                                     '{"format": 2, "timesteps": 5, "model": "../../etc/x.pt", "vecnormalize": "v.npz"}',
                                     '{"format": 2, "timesteps": 5, "model": "m.pt", "vecnormalize": "/tmp/v.npz"}'])
def test_broken_checkpoint_pointer_is_a_clear_error(tmp_path, content):
    from lrctl.agents.checkpoints import latest_checkpoint

    (tmp_path / "latest.json").write_text(content)
    with pytest.raises(CheckpointError, match="latest.json"):
        latest_checkpoint(tmp_path)


def test_resume_of_a_folder_without_a_run(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "config.yaml" in capsys.readouterr().err


def test_a_finished_run_trains_further_to_a_new_total(tmp_path, capsys):
    from lrctl.agents.trainer import train
    from lrctl.config import load_config

    run_dir = tmp_path / "run"
    train(load_config(None, [*SLOW_TINY, f"run_dir={run_dir}", "progress_bar=false"]), log=lambda *_: None)
    first_policy = (run_dir / "policy.pt").read_bytes()
    assert main(["train", "--resume", str(run_dir), "--total-timesteps", str(TOTAL + 48)]) == 0
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
    assert latest["timesteps"] == TOTAL + 48
    assert latest["counters"]["episodes"] == (TOTAL + 48) // 4
    assert load_config(run_dir / "config.yaml").ppo.total_timesteps == TOTAL + 48  # a later --resume agrees
    assert (run_dir / "policy.pt").read_bytes() != first_policy  # exported again after the extra training


@pytest.mark.parametrize("argv", [["--resume", "{run}", "--total-timesteps", "24"],
                                  ["--resume", "{run}", "--total-timesteps", "0"],
                                  ["--total-timesteps", "500"]])
def test_a_total_that_trains_nothing_further_is_one_line(tmp_path, capsys, argv):
    from lrctl.config import dump_yaml, load_config

    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    config = dump_yaml(load_config(None, SLOW_TINY))
    (run_dir / "config.yaml").write_text(config)
    (run_dir / "checkpoints" / "model_000000048.pt").write_bytes(b"never loaded")
    (run_dir / "checkpoints" / "vecnormalize_000000048.npz").write_bytes(b"never loaded")
    (run_dir / "checkpoints" / "latest.json").write_text(json.dumps(
        {"format": 2, "timesteps": 48, "model": "model_000000048.pt", "vecnormalize": "vecnormalize_000000048.npz"}))
    assert main(["train", *[a.format(run=run_dir) for a in argv]]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--total-timesteps" in err
    assert (run_dir / "config.yaml").read_text() == config
