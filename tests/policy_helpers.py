"""Small hand-made policies for scheduler and policy-file tests."""

from __future__ import annotations

import numpy as np
import torch

from lrctl.features import FEATURE_NAMES, feature_set
from lrctl.policy import Policy, PolicySpec, build_actor


_SCALE_FREE_STATS = {"log_val_ratio": (-0.3, 0.1), "log_train_ratio": (-0.3, 0.1), "log_lr_ratio": (0.0, 0.05),
                     "val_train_gap": (0.0, 0.01), "log_val_trend": (-0.02, 1e-3), "log_decisions_left": (1.0, 0.5)}


def make_policy(action_mode: str = "discrete", steps_per_action: int = 5, child_steps: int = 20,
                seed: int = 0, features: str = "paper", action_base: str = "constant") -> Policy:
    """A seeded random actor with plausible observation statistics: it takes varied actions."""
    names = feature_set(features)
    torch.manual_seed(seed)
    actor = build_actor([len(names), 32, 32, 3 if action_mode == "discrete" else 1])
    with torch.no_grad():
        for p in actor.parameters():
            p.mul_(3.0)
    spec = PolicySpec(names, action_mode, 0.05, 1e-6, 1.0, steps_per_action, child_steps,
                      "digits-mlp", (1e-2, 1e-3), "test", action_base=action_base)
    paper = dict(zip(FEATURE_NAMES, zip([1.5, 1.5, 0.02, 1e-4, 0.0, 0.01, -3.0, 0.5],
                                        [0.3, 0.3, 1e-4, 1e-8, 1e-6, 1e-5, 0.5, 0.1])))
    stats = {**paper, **_SCALE_FREE_STATS}
    mean = np.array([stats[n][0] for n in names])
    var = np.array([stats[n][1] for n in names])
    return Policy(spec, actor, mean, var, 10.0, 1e-8, np.array([-0.5], dtype=np.float32))
