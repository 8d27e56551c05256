"""Export a trained controller as a policy file: the SB3 actor and the frozen VecNormalize statistics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrctl.agents.state import (
    AGENT_FILE,
    NORMALIZATION_FILE,
    StateFileError,
    load_agent,
    load_normalization,
    normalization_arrays,
    pickled_run,
)
from lrctl.atomic import is_within, output_name_problem, unwritable_reason
from lrctl.config import EnvConfig, load_config
from lrctl.deploy.policy import (
    Policy,
    PolicyFileError,
    PolicySpec,
    build_actor,
    save_policy,
)
from lrctl.deploy.spec_mapping import spec_of
from lrctl.run_lock import run_folder_lock


def policy_from_state(policy_state: dict[str, torch.Tensor], normalization: dict[str, np.ndarray],
                      spec: PolicySpec) -> Policy:
    """The deterministic policy of an SB3 PPO `MlpPolicy`'s weights (its ``state_dict``) and its
    VecNormalize statistics (`lrctl.agents.state.normalization_arrays`)."""
    hidden = sorted(int(key.split(".")[2]) for key in policy_state
                    if key.startswith("mlp_extractor.policy_net.") and key.endswith(".weight"))
    names = [f"mlp_extractor.policy_net.{i}" for i in hidden] + ["action_net"]
    try:
        weights = [(policy_state[f"{n}.weight"], policy_state[f"{n}.bias"]) for n in names]
    except KeyError as err:
        raise PolicyFileError(f"the agent state lacks {err.args[0]}; it is not an SB3 MlpPolicy's") from None
    actor = build_actor([int(weights[0][0].shape[1])] + [int(w.shape[0]) for w, _ in weights])
    with torch.no_grad():
        for dst, (weight, bias) in zip((m for m in actor if isinstance(m, nn.Linear)), weights):
            dst.weight.copy_(weight.cpu())
            dst.bias.copy_(bias.cpu())
    log_std = policy_state.get("log_std")
    return Policy(spec, actor, normalization["obs_mean"], normalization["obs_var"],
                  float(normalization["clip_obs"]), float(normalization["epsilon"]),
                  None if log_std is None else log_std.detach().cpu().numpy())


def export_policy(model: Any, vecnormalize: Any, env: EnvConfig, out: str | os.PathLike[str]) -> Path:
    """Write the policy file of an in-memory SB3 model and VecNormalize trained on `env`."""
    return save_policy(policy_from_state(model.policy.state_dict(), normalization_arrays(vecnormalize),
                                         spec_of(env)), out)


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write `policy.pt` for the finished run in `run_dir` from its agent state, statistics and config.

    Nothing read can run code (`lrctl.agents.state`). `out`: the policy file to write (default
    RUN_DIR/policy.pt); an existing folder gets OUT/policy.pt. It may not name another file of the run.
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "policy.pt"
    problem = output_name_problem(target)
    if problem:
        raise PolicyFileError(f"cannot write the policy to {str(target)!r} ({problem}); choose another --out")
    if target.is_dir():
        target = target / "policy.pt"
    problem = unwritable_reason(target, folder=False)
    if problem:
        raise PolicyFileError(f"cannot write the policy to {str(target)!r} ({problem}); choose another --out")
    if is_within(target, run_dir) and target.resolve() != (run_dir / "policy.pt").resolve():
        raise PolicyFileError(f"--out {str(target)!r} lies in the run folder it exports, where only policy.pt "
                              "may be written; choose a path outside it")
    if (run_dir / "vecnormalize.pkl").is_file() and not (run_dir / NORMALIZATION_FILE).is_file():
        raise PolicyFileError(pickled_run(run_dir))
    for name in (AGENT_FILE, NORMALIZATION_FILE, "config.yaml"):
        if not (run_dir / name).is_file():
            raise PolicyFileError(f"cannot export {run_dir}: {name} is missing; has training finished there?")
    env = load_config(run_dir / "config.yaml").env
    try:
        agent, statistics = load_agent(run_dir / AGENT_FILE), load_normalization(run_dir / NORMALIZATION_FILE)
    except StateFileError as err:
        raise PolicyFileError(f"cannot read the model in {run_dir}: {err}") from None
    policy = policy_from_state(agent["policy"], statistics, spec_of(env))
    if not is_within(target, run_dir):
        return save_policy(policy, target)
    with run_folder_lock(run_dir):
        return save_policy(policy, target)
