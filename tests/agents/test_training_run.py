"""A short PPO run end to end writes every file of the run directory, and they load."""

import json

import pytest
import yaml

from lrctl.agents.trainer import train
from lrctl.config import ConfigError, load_config
from lrctl.deploy.policy import load_policy

TINY = [
    "env.child_steps=20", "env.steps_per_action=5", "env.batch_size=16", "env.val_subset_size=32",
    "env.initial_lrs=[0.01, 0.001]", "ppo.total_timesteps=48", "ppo.n_envs=2", "ppo.vec_env=dummy",
    "ppo.n_steps=12", "ppo.batch_size=12", "ppo.n_epochs=1", "checkpoint_every=24",
    "report_seeds=[7]", "progress_bar=false",
]

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    cfg = load_config(None, [*TINY, f"run_dir={tmp_path_factory.mktemp('train') / 'run'}"])
    result = train(cfg, log=lambda *_: None)
    return cfg, result


def test_run_directory_holds_every_artifact(tiny_run):
    cfg, result = tiny_run
    run = result.run_dir
    for name in ("config.yaml", "model.zip", "agent.pt", "vecnormalize.npz", "policy.pt", "report.md",
                 "checkpoints/latest.json"):
        assert (run / name).is_file(), name
    assert result.timesteps >= 48
    assert result.episodes == result.timesteps // 4  # four decisions per episode
    assert load_config(run / "config.yaml") == cfg
    latest = json.loads((run / "checkpoints" / "latest.json").read_text())
    assert (run / "checkpoints" / latest["model"]).is_file()
    events = list((run / "tb").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_tensorboard_has_episode_and_ppo_scalars(tiny_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, result = tiny_run
    folder = next((result.run_dir / "tb").iterdir())
    acc = EventAccumulator(str(folder))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"episode/final_val_loss", "episode/final_lr", "train/value_loss", "train/policy_gradient_loss"} <= tags


def test_report_has_a_row_per_initial_lr(tiny_run):
    _, result = tiny_run
    text = (result.run_dir / "report.md").read_text()
    assert "| 0.01 |" in text and "| 0.001 |" in text
    assert "learned policy" in text and "constant LR" in text and "best baseline" in text
    assert text.rstrip().splitlines()[-1].startswith("**Verdict:** lower mean final validation loss")


def test_policy_file_matches_the_training_config(tiny_run):
    cfg, result = tiny_run
    policy = load_policy(result.run_dir / "policy.pt")
    assert policy.spec.setting == "digits-mlp"
    assert policy.spec.steps_per_action == 5 and policy.spec.child_steps == 20
    assert policy.act([0.0] * len(policy.spec.feature_names)) in (0, 1, 2)


def test_second_run_in_the_same_folder_is_refused(tiny_run):
    cfg, _ = tiny_run
    with pytest.raises(ConfigError, match="--resume"):
        train(cfg, log=lambda *_: None)
    assert yaml.safe_load((tiny_run[1].run_dir / "config.yaml").read_text())["seed"] == cfg.seed


def test_cli_export_writes_a_loadable_policy(tiny_run, tmp_path):
    from lrctl.cli import main

    _, result = tiny_run
    out = tmp_path / "exported.pt"
    assert main(["export", str(result.run_dir), "--out", str(out)]) == 0
    assert load_policy(out).spec == load_policy(result.run_dir / "policy.pt").spec


def test_export_of_an_unfinished_run_is_one_line(tmp_path, capsys):
    from lrctl.cli import main

    assert main(["export", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "agent.pt is missing" in err and "\n" not in err


def test_training_goes_on_through_diverging_children_and_counts_them(tmp_path):
    cfg = load_config(None, [*TINY, "env.optimizer=sgd", "env.momentum=0.0", "env.lr_max=1e12",
                             "env.initial_lrs=[1e12, 0.001]", f"run_dir={tmp_path / 'run'}"])
    result = train(cfg, log=lambda *_: None)
    assert result.timesteps >= 48
    assert result.diverged > 0
    report = (result.run_dir / "report.md").read_text()
    assert f"({result.diverged} diverged)" in report
    assert "| 1e+12 |" in report


def test_cli_prints_lrctl_warnings_as_one_line(tmp_path, capsys, monkeypatch):
    from lrctl.cli import main

    monkeypatch.setattr("lrctl.children.batched.supports_batching", lambda model: False)  # as for ResNet-18
    args = [f"--set={o}" for o in (*TINY, "ppo.vec_env=batched", "ppo.n_envs=1")]
    assert main(["train", *args, "--run-dir", str(tmp_path / "run")]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning" in line.lower()]
    assert lines and all(line.startswith("lrctl: warning: ") for line in lines), lines
