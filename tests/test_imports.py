"""Layering: deploying a policy loads neither stable-baselines3 nor the environments."""

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys\n{code}\nprint('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_policy_scheduler_loads_no_sb3_and_no_environment():
    loaded = _modules_after("import lrctl\nlrctl.PolicyScheduler\nlrctl.load_policy")
    assert "lrctl.scheduler" in loaded
    assert not {m for m in loaded if m.startswith("stable_baselines3")}
    assert not {m for m in loaded if m.startswith(("lrctl.envs.lr_control", "lrctl.envs.core", "lrctl.envs.batched"))}


def test_import_lrctl_registers_the_environment_without_loading_it():
    loaded = _modules_after("import lrctl, gymnasium\nassert 'lrctl/LRControl-v0' in gymnasium.registry")
    assert "lrctl.envs.lr_control" not in loaded and "torch" not in loaded


def test_data_does_not_import_the_environments():
    loaded = _modules_after("import lrctl.data\nfrom lrctl.config import EnvConfig\nlrctl.data.ensure_data(EnvConfig())")
    assert not {m for m in loaded if m.startswith("lrctl.envs")} - {"lrctl.envs", "lrctl.envs.registration"}


def test_the_core_package_imports_no_trainer_integration():
    loaded = _modules_after("import lrctl, lrctl.cli, lrctl.agents.trainer, lrctl.envs.lr_control, lrctl.envs.vector, "
                            "lrctl.evaluation.protocol\nlrctl.PolicyScheduler\nlrctl.define_setting")
    assert not {m for m in loaded if m.split(".")[0] in ("lightning", "pytorch_lightning", "transformers", "ray")}
