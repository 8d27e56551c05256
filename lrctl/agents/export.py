"""Export a trained controller as a policy file: the SB3 actor and the frozen VecNormalize statistics."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrctl import __version__
from lrctl.atomic import unwritable_reason
from lrctl.config import EnvConfig, load_config
from lrctl.features import feature_set
from lrctl.policy import TASK_DISTRIBUTION, Policy, PolicyFileError, PolicySpec, build_actor, save_policy
from lrctl.tasks import draws_tasks


def policy_spec(env: EnvConfig) -> PolicySpec:
    """What a policy trained on `env` was trained for, and the features it observes."""
    return PolicySpec(
        feature_names=feature_set(env.features), action_mode=env.action_mode, action_base=env.action_base,
        max_change=env.max_change, max_lr_ratio=env.max_lr_ratio,
        lr_min=env.lr_min, lr_max=env.lr_max, steps_per_action=env.steps_per_action,
        child_steps=env.child_steps, setting=TASK_DISTRIBUTION if draws_tasks(env) else env.setting,
        initial_lrs=tuple(env.initial_lrs),
        lrctl_version=__version__,
        optimizers=tuple(env.tasks.optimizers) if draws_tasks(env) else (env.optimizer,),
    )


def policy_from_sb3(model: Any, vecnormalize: Any, spec: PolicySpec) -> Policy:
    """The deterministic policy of an SB3 PPO `MlpPolicy` model with its VecNormalize statistics."""
    sb3 = model.policy
    actor = build_actor(
        [sb3.observation_space.shape[0]]
        + [m.out_features for m in sb3.mlp_extractor.policy_net if isinstance(m, nn.Linear)]
        + [sb3.action_net.out_features]
    )
    source = [m for m in list(sb3.mlp_extractor.policy_net) + [sb3.action_net] if isinstance(m, nn.Linear)]
    target = [m for m in actor if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for src, dst in zip(source, target):
            dst.weight.copy_(src.weight.cpu())
            dst.bias.copy_(src.bias.cpu())
    rms = vecnormalize.obs_rms
    log_std = getattr(sb3, "log_std", None)
    return Policy(spec, actor, rms.mean, rms.var, vecnormalize.clip_obs, vecnormalize.epsilon,
                  None if log_std is None else log_std.detach().cpu().numpy())


def export_policy(model: Any, vecnormalize: Any, env: EnvConfig, out: str | os.PathLike[str]) -> Path:
    """Write the policy file of an in-memory SB3 model and VecNormalize trained on `env`."""
    return save_policy(policy_from_sb3(model, vecnormalize, policy_spec(env)), out)


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write `policy.pt` for the finished run in `run_dir` from its model.zip, vecnormalize.pkl and config.

    `out`: the policy file to write (default RUN_DIR/policy.pt); an existing folder gets OUT/policy.pt.
    """
    from stable_baselines3 import PPO

    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "policy.pt"
    if target.is_dir():
        target = target / "policy.pt"
    problem = unwritable_reason(target, folder=False)
    if problem:
        raise PolicyFileError(f"cannot write the policy to {str(target)!r} ({problem}); choose another --out")
    for name in ("model.zip", "vecnormalize.pkl", "config.yaml"):
        if not (run_dir / name).is_file():
            raise PolicyFileError(f"cannot export {run_dir}: {name} is missing; has training finished there?")
    env = load_config(run_dir / "config.yaml").env
    try:
        model = PPO.load(str(run_dir / "model.zip"), device="cpu")
        with open(run_dir / "vecnormalize.pkl", "rb") as handle:
            vecnormalize = pickle.load(handle)
    except Exception as err:  # damaged zip or pickle
        detail = (str(err).strip().splitlines() or [""])[0]
        raise PolicyFileError(f"cannot read the model in {run_dir}: {type(err).__name__}: {detail}") from None
    return export_policy(model, vecnormalize, env, target)
