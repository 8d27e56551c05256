"""Gymnasium registration of the lrctl environments."""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "lrctl/LRControl-v0"


def register_envs() -> None:
    """Register `lrctl/LRControl-v0` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="lrctl.envs.lr_control:LRControlEnv")
