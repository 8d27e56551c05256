"""What an evaluation runs on: environment resolution and the `env.KEY=VALUE` grammar shared with training."""

import pytest

from lrctl.cli import main
from lrctl.config import ConfigError
from lrctl.deploy.policy import shipped_policy_path
from lrctl.evaluation.setup import resolve_environment


def test_default_is_digits_with_the_shipped_policy_and_its_budget():
    env, policy = resolve_environment()
    assert env.setting == "digits-mlp" and policy == str(shipped_policy_path("digits-mlp"))
    assert env.child_steps == 500


def test_overrides_use_the_training_names():
    env, _ = resolve_environment(overrides=["env.child_steps=100", "env.optimizer=sgd"])
    assert (env.child_steps, env.optimizer) == (100, "sgd")


def test_naming_another_setting_starts_from_its_defaults():
    env, _ = resolve_environment(policy=str(shipped_policy_path("digits-mlp")), overrides=["env.setting=fmnist-mlp"])
    assert env.setting == "fmnist-mlp" and env.batch_size == 256 and env.val_subset_size == 1000


@pytest.mark.parametrize("bad", ["child_steps=100", "ppo.n_envs=2", "env.child_stepz=100"])
def test_other_keys_are_refused_by_name(bad):
    with pytest.raises(ConfigError, match=bad.split("=")[0].split(".")[-1]):
        resolve_environment(overrides=[bad])


def test_cli_refuses_a_bare_key_with_one_line(capsys):
    assert main(["evaluate", "--set", "child_steps=5"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "env.KEY=VALUE" in err


@pytest.mark.parametrize("args,named", [
    (["--seeds", "-1"], "-1"), (["--seeds", "300000"], "tuning seeds"), (["--initial-lrs", "nan"], "nan"),
    (["--initial-lrs", "0"], "initial_lrs[0]: 0.0 must lie"), (["--workers", "0"], "workers"),
])
def test_bad_evaluation_arguments_stop_before_any_run(args, named, capsys, tmp_path):
    assert main(["evaluate", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err
    assert not (tmp_path / "out" / "results.csv").exists()


def test_an_output_path_that_is_a_file_stops_before_any_run(capsys, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["evaluate", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "keep me"
