"""A user's own setting, named by import path: it trains and evaluates like a built-in one, and each
way it can be wrong is a one-line error before any compute."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lrctl
from lrctl.cli import main
from lrctl.config import ConfigError, env_config
from lrctl.settings import SettingError, get_setting

REPO = Path(__file__).resolve().parents[1]
_names = itertools.count()

GOOD_DATA = """
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return {"train_x": x[:80], "train_y": y[:80], "val_x": x[80:100], "val_y": y[80:100],
            "test_x": x[100:], "test_y": y[100:]}
"""
GOOD_MODEL = "def model():\n    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))\n"
DEFINE = ('setting = lrctl.define_setting("tiny", data=data, model=model, child_steps=20, batch_size=8, '
          'steps_per_action=5, val_subset_size=16)\n')


def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> str:
    """Write `body` as a fresh module on sys.path; returns the import path of its `setting`."""
    name = f"own_setting_{next(_names)}"
    header = "import torch\nfrom torch import nn\nimport lrctl\n"
    (tmp_path / f"{name}.py").write_text(header + textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:setting"


def test_own_setting_takes_its_defaults(tmp_path, monkeypatch):
    path = write_module(tmp_path, monkeypatch, GOOD_DATA + GOOD_MODEL + DEFINE)
    cfg = env_config(path)
    assert (cfg.setting, cfg.child_steps, cfg.batch_size, cfg.steps_per_action) == (path, 20, 8, 5)
    assert get_setting(path).name == "tiny"


@pytest.mark.parametrize("action_mode", ["discrete", "continuous"])
def test_gymnasium_make_runs_an_own_setting_and_passes_check_env(tmp_path, monkeypatch, action_mode):
    path = write_module(tmp_path, monkeypatch, GOOD_DATA + GOOD_MODEL + DEFINE)
    env = gym.make("lrctl/LRControl-v0", setting=path, action_mode=action_mode)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs, again)
    done, steps = False, 0
    while not done:
        obs, reward, done, _, info = env.step(env.action_space.sample())
        steps += 1
    assert steps == 4 and "final_val_loss" in info


def test_batched_children_train_an_own_setting_as_single_environments_do(tmp_path, monkeypatch):
    from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
    from lrctl.envs.lr_control import LRControlEnv

    path = write_module(tmp_path, monkeypatch, GOOD_DATA + GOOD_MODEL + DEFINE)
    cfg = env_config(path)
    batched = BatchedLRControlVecEnv(cfg, 2)
    batched.seed(7)
    obs = batched.reset()
    single = LRControlEnv(cfg)
    first, _ = single.reset(seed=7)
    np.testing.assert_allclose(obs[0], first, rtol=1e-5, atol=1e-6)
    obs, rewards, _, _ = batched.step(np.array([0, 1]))
    first, reward, *_ = single.step(0)
    np.testing.assert_allclose(obs[0], first, rtol=1e-4, atol=1e-5)
    assert rewards[0] == pytest.approx(reward, rel=1e-4, abs=1e-6)


BAD = {
    "missing module": ("", "no_such_module_xyz:setting", "cannot import 'no_such_module_xyz'"),
    "missing attribute": (GOOD_DATA + GOOD_MODEL + DEFINE, ":other", "has no attribute 'other'"),
    "not a Setting": ("setting = 3\n", None, "is a int, not a Setting"),
    "module raises": ("1 / 0\n", None, "ZeroDivisionError"),
    "data function raises": ("def data():\n    raise OSError('disk gone')\n" + GOOD_MODEL + DEFINE, None,
                             "data function data failed: OSError: disk gone"),
    "labels are floats": (GOOD_DATA.replace(".long()", ".float()") + GOOD_MODEL + DEFINE, None,
                          "train_y must hold integer class labels, got torch.float32"),
    "inputs are integers": (GOOD_DATA.replace("torch.randn(120, 6, generator=g)",
                                              "torch.randint(0, 5, (120, 6), generator=g)") + GOOD_MODEL + DEFINE,
                            None, "train_x must hold floating-point inputs"),
    "labels too short": (GOOD_DATA.replace('"val_y": y[80:100]', '"val_y": y[80:90]') + GOOD_MODEL + DEFINE,
                         None, "val_y must have shape (20,)"),
    "split without its labels": (GOOD_DATA.replace('"test_y": y[100:]', '"tests_y": y[100:]') + GOOD_MODEL + DEFINE,
                                 None, "missing test_y"),
    "samples of another shape": (GOOD_DATA.replace('"val_x": x[80:100]', '"val_x": x[80:100, :4]') + GOOD_MODEL
                                 + DEFINE, None, "val_x has samples of shape (4,)"),
    "factory returns a string": (GOOD_DATA + "def model():\n    return 'mlp'\n" + DEFINE, None,
                                 "returned a str, not a torch.nn.Module"),
    "no output layer": (GOOD_DATA + "def model():\n    return nn.Sequential(nn.Conv1d(1, 2, 1), nn.Flatten())\n"
                        + DEFINE, None, "has no nn.Linear"),
    "wrong number of logits": (GOOD_DATA + "def model():\n    return nn.Linear(6, 5)\n" + DEFINE, None,
                               "must return float logits of shape (batch, num_classes) = (2, 2)"),
    "inputs the model cannot take": (GOOD_DATA + "def model():\n    return nn.Linear(7, 2)\n" + DEFINE, None,
                                     "fails on inputs of shape (2, 6)"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_own_setting_is_one_line_and_exit_2_before_any_run(tmp_path, monkeypatch, capsys, case):
    body, path_override, expected = BAD[case]
    path = write_module(tmp_path, monkeypatch, body)
    if path_override:
        path = path_override if not path_override.startswith(":") else path.split(":")[0] + path_override
    run_dir = tmp_path / "run"
    status = main(["train", "--set", f"env.setting={path}", "--set", "ppo.total_timesteps=64",
                   "--run-dir", str(run_dir), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and err.startswith("lrctl: error:"), err
    assert expected in err
    assert not run_dir.exists()


def test_python_api_raises_setting_errors_as_value_errors(tmp_path, monkeypatch):
    path = write_module(tmp_path, monkeypatch, GOOD_DATA.replace(".long()", ".float()") + GOOD_MODEL + DEFINE)
    with pytest.raises(SettingError, match="integer class labels"):
        gym.make("lrctl/LRControl-v0", setting=path)
    with pytest.raises(ConfigError, match="has no attribute"):
        env_config(path.split(":")[0] + ":absent")


@pytest.mark.parametrize("bad, message", [
    (dict(name="a b"), "without '/', ':' or spaces"),
    (dict(data="digits"), "data must be a DatasetSplits"),
    (dict(model=3), "model must be a function"),
])
def test_define_setting_refuses_bad_arguments(bad, message):
    args = dict(name="ok", data=lambda: None, model=lambda: None, child_steps=10, batch_size=4) | bad
    with pytest.raises(SettingError, match=message):
        lrctl.define_setting(**args)


def test_evaluate_runs_an_own_setting_with_a_run_policy(tmp_path, monkeypatch, capsys):
    path = write_module(tmp_path, monkeypatch, GOOD_DATA + GOOD_MODEL + DEFINE)
    run_dir = tmp_path / "run"
    assert main(["train", "--set", f"env.setting={path}", "--set", "ppo.total_timesteps=16", "--set",
                 "ppo.n_envs=2", "--set", "ppo.n_steps=8", "--set", "ppo.batch_size=16", "--set", "report_seeds=[1]",
                 "--run-dir", str(run_dir), "--no-progress"]) == 0
    out = tmp_path / "eval"
    assert main(["evaluate", "--run-dir", str(run_dir), "--seeds", "5", "--no-peers", "--workers", "1",
                 "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert f"# Evaluation: {path}" in summary and "| learned |" in summary


@pytest.mark.slow
def test_the_own_task_example_trains_end_to_end(tmp_path):
    run_dir = tmp_path / "own-task"
    done = subprocess.run([sys.executable, str(REPO / "examples" / "own_task" / "train.py"), "--timesteps", "40",
                           "--n-envs", "2", "--run-dir", str(run_dir)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (run_dir / "policy.pt").is_file()
    assert "examples.own_task.tasks:breast_cancer_mlp" in (run_dir / "report.md").read_text()
    assert lrctl.load_policy(run_dir / "policy.pt").spec.setting == "examples.own_task.tasks:breast_cancer_mlp"
