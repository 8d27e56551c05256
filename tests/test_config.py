"""Configs: YAML into typed dataclasses; every bad key or value is a one-line error naming the key."""

import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrctl.cli import main
from lrctl.config import (
    ConfigError,
    EnvConfig,
    TrainConfig,
    config_from_dict,
    dump_yaml,
    load_config,
)

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_default_config_is_the_digits_setting():
    cfg = load_config(None)
    assert isinstance(cfg, TrainConfig) and isinstance(cfg.env, EnvConfig)
    assert cfg.env.setting == "digits-mlp"
    assert cfg.env.child_steps == 500  # the setting's default over the dataclass default


@pytest.mark.parametrize("name", ["digits_mlp", "mnist_mlp", "fmnist_lenet5", "cifar10_resnet18"])
def test_shipped_configs_load(name):
    cfg = load_config(ROOT / "configs" / f"{name}.yaml")
    assert cfg.env.setting == name.replace("_", "-").replace("fmnist-lenet5", "fmnist-lenet5")


EXPERIMENT_CONFIGS = sorted((ROOT / "configs" / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENT_CONFIGS, ids=lambda p: p.stem)
def test_experiment_configs_load_into_their_own_run_dir(path):
    """docs/results/ablation.md cites these; each must load and write to a run folder of its own."""
    cfg = load_config(path)
    assert yaml.safe_load(path.read_text())["run_dir"] == cfg.run_dir
    assert cfg.run_dir.startswith("runs/")


def test_experiment_run_dirs_are_distinct():
    run_dirs = [load_config(p).run_dir for p in EXPERIMENT_CONFIGS]
    assert len(set(run_dirs)) == len(run_dirs)


def test_yaml_round_trip(tmp_path):
    cfg = load_config(None, ["env.initial_lrs=[0.1, 0.01]", "ppo.n_envs=1"])
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(cfg))
    assert load_config(path) == cfg


def test_overrides_take_precedence_and_parse_yaml_values():
    cfg = load_config(ROOT / "configs" / "digits_mlp.yaml", ["env.child_steps=200", "env.lr_min=1e-7"])
    assert cfg.env.child_steps == 200 and cfg.env.lr_min == 1e-7


BAD = [
    ({"env": {"child_stepz": 10}}, "env.child_stepz"),
    ({"bogus": 1}, "bogus"),
    ({"ppo": {"learning_rat": 0.1}}, "ppo.learning_rat"),
    ({"env": {"child_steps": "many"}}, "env.child_steps"),
    ({"env": {"child_steps": 10.5}}, "env.child_steps"),
    ({"env": {"child_steps": True}}, "env.child_steps"),
    ({"env": {"lr_min": "tiny"}}, "env.lr_min"),
    ({"env": {"lr_min": -1e-3}}, "env.lr_min"),
    ({"env": {"lr_max": 0}}, "env.lr_max"),
    ({"env": {"lr_min": 0.1, "lr_max": 0.01}}, "env.lr_min"),
    ({"env": {"lr_min": 0.1, "lr_max": 0.1}}, "env.lr_min"),
    ({"env": {"max_change": 0}}, "env.max_change"),
    ({"env": {"max_change": 1.0}}, "env.max_change"),
    ({"env": {"max_change": 1.5}}, "env.max_change"),
    ({"env": {"steps_per_action": 7}}, "env.steps_per_action"),
    ({"env": {"steps_per_action": 1000, "child_steps": 500}}, "env.steps_per_action"),
    ({"env": {"steps_per_action": 0}}, "env.steps_per_action"),
    ({"env": {"setting": "imagenet-vit"}}, "env.setting"),
    ({"env": {"action_mode": "sideways"}}, "env.action_mode"),
    ({"env": {"initial_lrs": []}}, "env.initial_lrs"),
    ({"env": {"initial_lrs": [0.0]}}, "env.initial_lrs[0]"),
    ({"env": {"initial_lrs": [1e-3, -1.0]}}, "env.initial_lrs[1]"),
    ({"env": {"initial_lrs": "fast"}}, "env.initial_lrs"),
    ({"env": {"optimizer": "lbfgs"}}, "env.optimizer"),
    ({"env": {"device": "tpu"}}, "env.device"),
    ({"env": {"lr_noise_std": -0.1}}, "env.lr_noise_std"),
    ({"env": {"batch_size": 0}}, "env.batch_size"),
    ({"env": ["not", "a", "mapping"]}, "env"),
    ({"ppo": {"vec_env": "threads"}}, "ppo.vec_env"),
    ({"ppo": {"total_timesteps": -5}}, "ppo.total_timesteps"),
    ({"ppo": {"gamma": 1.5}}, "ppo.gamma"),
    ({"ppo": {"batch_size": 10_000}}, "ppo.batch_size"),
    ({"ppo": {"log_std_init": -1.0}}, "ppo.log_std_init"),  # the default discrete actions have no std
    ({"env": {"action_mode": "continuous"}, "ppo": {"log_std_init": 3.0}}, "ppo.log_std_init"),
    ({"env": {"download": "yes"}}, "env.download"),
    ({"report_seeds": []}, "report_seeds"),
    ({"report_seeds": [-5]}, "report_seeds[0]"),
    ({"report_seeds": [100, 2**31]}, "report_seeds[1]"),
    ({"seed": -1}, "seed"),
    ({"seed": 4294967296}, "seed"),
    ({"ppo": {"total_timesteps": 10**23}}, "ppo.total_timesteps"),
    ({"ppo": {"total_timesteps": 1e38}}, "ppo.total_timesteps"),
    ({"ppo": {"n_envs": 100_000}}, "ppo.n_envs"),
    ({"env": {"child_steps": 10**9}}, "env.child_steps"),
    ({"env": {"val_subset_size": 10**12}}, "env.val_subset_size"),
    ({"env": {"tasks": {"datasets": ["digits"], "widths": [10**9]}}}, "env.tasks.widths[0]"),
]


@pytest.mark.parametrize("data,key", BAD, ids=[k for _, k in BAD])
def test_bad_value_names_its_key_in_one_line(data, key):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    message = str(err.value)
    assert key in message
    assert "\n" not in message


def test_unknown_key_suggests_the_close_one():
    with pytest.raises(ConfigError, match="did you mean env.child_steps"):
        config_from_dict({"env": {"child_stepz": 10}})


def test_cli_bad_key_exits_2_with_one_line(capsys):
    assert main(["train", "--set", "env.max_change=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "env.max_change" in err and err.startswith("lrctl: error:")


def test_missing_config_file_exits_2(capsys, tmp_path):
    assert main(["train", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml" in capsys.readouterr().err


def test_invalid_yaml_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: {child_steps: [1,\n")
    assert main(["train", "--config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_script_prints_no_traceback_on_bad_input():
    proc = subprocess.run([sys.executable, str(ROOT / "train_controller.py"), "--set", "env.setting=nope"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "env.setting" in proc.stderr and "digits-mlp" in proc.stderr


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10, 10_000), st.floats(allow_nan=True),
                  st.text(max_size=8), st.lists(st.floats(-1, 1), max_size=3))
_keys = st.sampled_from(["seed", "run_dir", "bogus", "env", "ppo", "report_seeds", "checkpoint_every"])
_env_keys = st.sampled_from([*EnvConfig.__dataclass_fields__, "typo"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, st.one_of(_leaf, st.dictionaries(_env_keys, _leaf, max_size=4)), max_size=4))
def test_random_yaml_gives_a_valid_config_or_a_clean_error(data):
    text = yaml.safe_dump(data)
    try:
        cfg = config_from_dict(yaml.safe_load(text))
    except ConfigError as err:
        assert "\n" not in str(err) and str(err)
    else:
        assert cfg.env.lr_min < cfg.env.lr_max
        assert cfg.env.child_steps % cfg.env.steps_per_action == 0
