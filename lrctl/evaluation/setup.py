"""What an evaluation runs on: the environment config and the policy, from a run, a setting or a file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lrctl.config import (
    EnvConfig,
    config_from_dict,
    env_config,
    env_with_overrides,
    load_config,
)
from lrctl.deploy.policy import load_policy, shipped_policy_path


def resolve_environment(setting: str | None = None, run_dir: str | None = None, policy: str | None = None,
                        overrides: Sequence[str] = ()) -> tuple[EnvConfig, str]:
    """The environment config and policy file an evaluation uses.

    - `run_dir`: the run's config and its `policy.pt` (another `setting` evaluates the run's policy there,
      with that setting's defaults);
    - otherwise `setting` (default digits-mlp) and `policy` (default: the one shipped for the setting); the
      policy brings its decision interval (where it divides the budget), and its budget when it was trained
      on that setting.

    `overrides` are `env.KEY=VALUE`, as for training. The policy file is loaded here, so a bad one is a
    one-line error before any run starts.
    """
    if run_dir:
        env = load_config(Path(run_dir) / "config.yaml").env
        if setting and setting != env.setting:
            env = env_config(setting)
        policy_path = policy or str(Path(run_dir) / "policy.pt")
    else:
        setting = setting or "digits-mlp"
        policy_path = policy or str(shipped_policy_path(setting))
        spec = load_policy(policy_path).spec
        budget = {"child_steps": spec.child_steps} if spec.setting == setting else {}
        env = config_from_dict({"env": {"setting": setting, **budget}}).env
        if env.child_steps % spec.steps_per_action == 0:  # the policy acts at the cadence it learned
            env = env_with_overrides(env, [f"env.steps_per_action={spec.steps_per_action}"])
    load_policy(policy_path)
    return env_with_overrides(env, overrides), policy_path
