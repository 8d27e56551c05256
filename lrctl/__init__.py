"""lrctl: learn learning-rate schedules with reinforcement learning, deploy them as PyTorch schedulers.

Importing lrctl registers `lrctl/LRControl-v0` with Gymnasium when Gymnasium is installed; deploying a
policy needs only torch.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["PolicyScheduler", "Setting", "define_setting", "load_policy", "shipped_policy_path", "__version__"]


def __getattr__(name: str):  # lazy: `import lrctl` stays light for the Gymnasium registration
    if name == "PolicyScheduler":
        from lrctl.deploy.scheduler import PolicyScheduler

        return PolicyScheduler
    if name in ("Setting", "define_setting"):
        from lrctl import settings

        return getattr(settings, name)
    if name == "load_policy":
        from lrctl.deploy.policy import load_policy

        return load_policy
    if name == "shipped_policy_path":
        from lrctl.deploy.policy import shipped_policy_path

        return shipped_policy_path
    raise AttributeError(f"module 'lrctl' has no attribute {name!r}")

try:
    import gymnasium as _gymnasium  # noqa: F401
except ImportError:  # deployment-only installs: the scheduler needs torch alone
    pass
else:
    from lrctl.envs.registration import register_envs as _register_envs

    _register_envs()
