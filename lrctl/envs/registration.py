"""Gymnasium registration of the lrctl environments."""

from __future__ import annotations

import gymnasium as gym

ENV_ID = "lrctl/LRControl-v0"


def register_envs() -> None:
    """Register `lrctl/LRControl-v0` with Gymnasium (idempotent): `gymnasium.make` gives one
    `LRControlEnv`, `gymnasium.make_vec(..., vectorization_mode="vector_entry_point")` the batched
    children as one `LRControlVectorEnv`."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="lrctl.envs.lr_control:LRControlEnv",
                     vector_entry_point="lrctl.envs.vector:LRControlVectorEnv")
