"""Gymnasium environments of lrctl.

`LRControlEnv` and the batched VecEnv are imported on first use, so that `import lrctl` (which registers
`lrctl/LRControl-v0`) does not load the environments.
"""

from __future__ import annotations

from typing import Any

from lrctl.envs.registration import ENV_ID, register_envs

__all__ = ["ENV_ID", "LRControlEnv", "register_envs"]


def __getattr__(name: str) -> Any:
    if name == "LRControlEnv":
        from lrctl.envs.lr_control import LRControlEnv

        return LRControlEnv
    raise AttributeError(f"module 'lrctl.envs' has no attribute {name!r}")
