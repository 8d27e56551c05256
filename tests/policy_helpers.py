"""Small hand-made policies for scheduler and policy-file tests."""

from __future__ import annotations

import numpy as np
import torch

from lrctl.features import FEATURE_NAMES
from lrctl.policy import Policy, PolicySpec, build_actor


def make_policy(action_mode: str = "discrete", steps_per_action: int = 5, child_steps: int = 20,
                seed: int = 0) -> Policy:
    """A seeded random actor with plausible observation statistics: it takes varied actions."""
    torch.manual_seed(seed)
    actor = build_actor([len(FEATURE_NAMES), 32, 32, 3 if action_mode == "discrete" else 1])
    with torch.no_grad():
        for p in actor.parameters():
            p.mul_(3.0)
    spec = PolicySpec(FEATURE_NAMES, action_mode, 0.05, 1e-6, 1.0, steps_per_action, child_steps,
                      "digits-mlp", (1e-2, 1e-3), "test")
    mean = np.array([1.5, 1.5, 0.02, 1e-4, 0.0, 0.01, -3.0, 0.5])
    var = np.array([0.3, 0.3, 1e-4, 1e-8, 1e-6, 1e-5, 0.5, 0.1])
    return Policy(spec, actor, mean, var, 10.0, 1e-8, np.array([-0.5], dtype=np.float32))
