"""lrctl: learn learning-rate schedules with reinforcement learning, deploy them as PyTorch schedulers.

Importing lrctl registers `lrctl/LRControl-v0` with Gymnasium when Gymnasium is installed; deploying a
policy needs only torch.
"""

from __future__ import annotations

__version__ = "0.1.0"

try:
    import gymnasium as _gymnasium  # noqa: F401
except ImportError:  # deployment-only installs: the scheduler needs torch alone
    pass
else:
    from lrctl.envs.registration import register_envs as _register_envs

    _register_envs()
