"""Gymnasium environments of lrctl."""

from lrctl.envs.lr_control import LRControlEnv
from lrctl.envs.registration import ENV_ID, register_envs

__all__ = ["ENV_ID", "LRControlEnv", "register_envs"]
