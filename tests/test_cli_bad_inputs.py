"""Every entry point refuses bad input before any compute: one line naming the value, exit 2, and
nothing written. One row per reproduction of a late crash or a silent wrong answer."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from lrctl.cli import main
from lrctl.config import dump_yaml, load_config
from lrctl.deploy.policy import save_policy
from tests.policy_helpers import make_policy

TINY_TRAIN = ["--set", "ppo.total_timesteps=64", "--set", "env.child_steps=20", "--no-progress"]
TINY_EVAL = ["--set", "env.child_steps=20", "--no-peers", "--workers", "1"]


def _bad_policy(path: Path, change) -> str:
    policy = make_policy()
    change(policy)
    save_policy(policy, path)
    return str(path)


def _nan_weights(policy) -> None:
    with torch.no_grad():
        next(policy.actor.parameters())[0, 0] = float("nan")


def _nan_statistics(policy) -> None:
    policy.obs_var = np.full_like(policy.obs_var, np.nan)


def _negative_bounds(policy) -> None:
    from dataclasses import replace

    policy.spec = replace(policy.spec, lr_min=-3.0, lr_max=-2.0)


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder holding a plain file, bad configs, bad policies, a bad import source and a run whose
    checkpoint pointer leads outside it; the test runs inside it."""
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("not a folder")
    Path("dup.yaml").write_text("env:\n  child_steps: 20\nenv:\n  child_steps: 40\n")
    Path("dup_key.yaml").write_text("seed: 1\nseed: 2\n")
    Path("bomb.yaml").write_text("\n".join(
        ["a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdef", "bcdefg")]
        + ["env:", "  initial_lrs: *g"]))
    Path("policies").mkdir()
    for name, change in (("nan_weights", _nan_weights), ("nan_stats", _nan_statistics),
                         ("negative_lr", _negative_bounds)):
        _bad_policy(Path("policies") / f"{name}.pt", change)
    Path("notidx").mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        with gzip.open(Path("notidx") / f"{stem}.gz", "wb") as handle:
            handle.write(b"hello, not an IDX file")
    imported = Path("data") / "FashionMNIST" / "raw"
    imported.mkdir(parents=True)
    for item in Path("notidx").iterdir():
        (imported / item.name).write_bytes(item.read_bytes())
    run = Path("escaping_run")
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(dump_yaml(load_config(None, ["env.child_steps=20"])))
    (run / "checkpoints" / "latest.json").write_text(json.dumps(
        {"format": 2, "timesteps": 8, "model": "../../afile", "vecnormalize": "v.npz", "counters": {}}))
    return tmp_path


def _tree(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


CASES = [
    # evaluate
    ("eval-out-is-a-file", ["evaluate", *TINY_EVAL, "--out", "afile"], "afile"),
    ("eval-out-under-a-file", ["evaluate", *TINY_EVAL, "--out", "afile/results"], "afile"),
    ("eval-negative-seed", ["evaluate", *TINY_EVAL, "--seeds", "-1"], "-1"),
    ("eval-tuning-seed", ["evaluate", *TINY_EVAL, "--seeds", "300000"], "300000"),
    ("eval-seed-too-large", ["evaluate", *TINY_EVAL, "--seeds", "4294967296"], "4294967296"),
    ("eval-negative-lr", ["evaluate", *TINY_EVAL, "--initial-lrs", "-1"], "-1.0"),
    ("eval-nan-lr", ["evaluate", *TINY_EVAL, "--initial-lrs", "nan"], "nan"),
    ("eval-zero-lr", ["evaluate", *TINY_EVAL, "--initial-lrs", "0"], "0.0"),
    ("eval-no-workers", ["evaluate", *TINY_EVAL[:-1], "0"], "workers"),
    ("eval-unknown-baseline", ["evaluate", *TINY_EVAL, "--baselines", "cosine", "adagrad"], "adagrad"),
    ("eval-peer-baseline-without-peers", ["evaluate", *TINY_EVAL, "--baselines", "prodigy"], "prodigy"),
    ("eval-nan-weights", ["evaluate", *TINY_EVAL, "--policy", "policies/nan_weights.pt"], "weights"),
    ("eval-nan-statistics", ["evaluate", *TINY_EVAL, "--policy", "policies/nan_stats.pt"], "statistics"),
    ("eval-negative-lr-bounds", ["evaluate", *TINY_EVAL, "--policy", "policies/negative_lr.pt"], "-3.0"),
    # train
    ("train-report-seed-negative", ["train", *TINY_TRAIN, "--set", "report_seeds=[-5]", "--run-dir", "r"],
     "report_seeds[0]"),
    ("train-seed-too-large", ["train", *TINY_TRAIN, "--seed", "4294967296", "--run-dir", "r"], "4294967296"),
    ("train-run-dir-is-a-file", ["train", *TINY_TRAIN, "--run-dir", "afile"], "afile"),
    ("train-run-dir-under-a-file", ["train", *TINY_TRAIN, "--run-dir", "afile/run"], "afile"),
    ("train-huge-timesteps-float", ["train", *TINY_TRAIN, "--set", "ppo.total_timesteps=1e38"],
     "ppo.total_timesteps"),
    ("train-huge-timesteps-int", ["train", *TINY_TRAIN, "--set", "ppo.total_timesteps=" + "9" * 30],
     "ppo.total_timesteps"),
    ("train-duplicate-section", ["train", "--config", "dup.yaml"], "duplicate key 'env'"),
    ("train-duplicate-key", ["train", "--config", "dup_key.yaml"], "duplicate key 'seed'"),
    ("train-alias-bomb", ["train", "--config", "bomb.yaml"], "aliases"),
    ("resume-pointer-escapes", ["train", "--resume", "escaping_run"], "../../afile"),
    # a repeated value would count twice; a task key without tasks.datasets would be ignored
    ("eval-repeated-seed", ["evaluate", *TINY_EVAL, "--seeds", "7", "7"], "7 is listed twice"),
    ("eval-repeated-initial-lr", ["evaluate", *TINY_EVAL, "--initial-lrs", "1e-3", "1e-3"], "listed twice"),
    ("train-repeated-report-seed", ["train", *TINY_TRAIN, "--set", "report_seeds=[5, 5]", "--run-dir", "r"],
     "report_seeds"),
    ("train-task-width-without-datasets", ["train", *TINY_TRAIN, "--set", "env.tasks.widths=[-5]", "--run-dir", "r"],
     "env.tasks.datasets"),
    ("train-task-optimizer-without-datasets",
     ["train", *TINY_TRAIN, "--set", "env.tasks.optimizers=[lbfgs]", "--run-dir", "r"], "env.tasks.optimizers"),
    # no command writes over its own inputs
    ("select-out-is-a-run-config", ["select", "escaping_run", "--out", "escaping_run/config.yaml"], "escaping_run"),
    ("select-out-in-a-run-folder", ["select", "escaping_run", "--out", "escaping_run/table.md"], "run folder"),
    ("export-out-is-the-run-config", ["export", "escaping_run", "--out", "escaping_run/config.yaml"], "config.yaml"),
    ("combine-out-is-an-input", ["combine", "policies/nan_weights.pt", "policies/nan_stats.pt", "--from-lrs", "1e-3",
                                 "--out", "policies/nan_weights.pt"], "inputs"),
    ("train-config-in-the-overwritten-run", ["train", "--config", "escaping_run/config.yaml", "--run-dir",
                                             "escaping_run", "--overwrite"], "--overwrite"),
    ("import-into-its-own-source", ["data", "import", "fashion-mnist", "data/FashionMNIST/raw", "--root", "data"],
     "imported into"),
    # output names a file system or a report cannot hold
    ("eval-out-not-utf8", ["evaluate", *TINY_EVAL, "--out", os.fsdecode(b"out\xff")], "UTF-8"),
    ("export-out-name-too-long", ["export", "escaping_run", "--out", "p" * 300 + ".pt"], "255"),
    ("combine-out-name-too-long", ["combine", "policies/nan_weights.pt", "policies/nan_stats.pt", "--from-lrs",
                                   "1e-3", "--out", "p" * 300 + ".pt"], "255"),
    # export
    ("export-out-under-a-file", ["export", "escaping_run", "--out", "afile/policy.pt"], "afile"),
    ("export-unfinished-run", ["export", "escaping_run"], "agent.pt"),
    # data import
    ("import-not-idx", ["data", "import", "fashion-mnist", "notidx", "--root", "data"], "not an IDX file"),
    ("import-root-under-a-file", ["data", "import", "fashion-mnist", "notidx", "--root", "afile/data"], "afile"),
]


@pytest.mark.parametrize("argv,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(workspace, capsys, argv, fragment):
    before = _tree(workspace)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error:") and err.count("\n") == 1, err
    assert fragment in err
    assert _tree(workspace) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
@pytest.mark.parametrize("argv", [["evaluate", *TINY_EVAL, "--out", "ro/out"],
                                  ["train", *TINY_TRAIN, "--run-dir", "ro/run"],
                                  ["export", "escaping_run", "--out", "ro/policy.pt"],
                                  ["data", "import", "fashion-mnist", "notidx", "--root", "ro"]])
def test_read_only_outputs_are_refused_before_compute(workspace, capsys, argv):
    Path("ro").mkdir(mode=0o555)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error:") and "ro" in err and err.count("\n") == 1


def test_a_full_disk_at_the_end_of_an_evaluation_is_one_line_and_leaves_no_partial_folder(workspace, capsys,
                                                                                         monkeypatch):
    import errno

    def disk_full(result, lr0, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("lrctl.evaluation.outputs.plot_initial_lr", disk_full)
    argv = ["evaluate", *TINY_EVAL, "--seeds", "1", "--initial-lrs", "1e-3", "--baselines", "cosine", "--out", "full"]
    assert main(argv) == 2
    last = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
    assert last.startswith("lrctl: error:") and "No space left on device" in last
    assert not Path("full").exists()
