"""Connecting to Ray (an optional extra): a named cluster, or a local Ray started for one run.

The cluster is named by an address (`--ray-address`, `evaluate.py --ray ADDRESS`) or by RAY_ADDRESS;
with neither, a local Ray is started for the run and stopped after it. Where this process is already
connected (`ray.init()` in a notebook or a test), that connection is used as it is, and stays up.
"""

from __future__ import annotations

import importlib.util
import math
import os
import socket
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lrctl.checks import check_positive
from lrctl.error_text import first_line
from lrctl.errors import ConfigError
from lrctl.strict_yaml import excerpt

if TYPE_CHECKING:
    from lrctl.config import PPOConfig

INSTALL_HINT = 'pip install "lrctl[ray]"'


def ray_installed() -> bool:
    """Whether the `ray` package can be imported."""
    return importlib.util.find_spec("ray") is not None


def require_ray(what: str) -> None:
    """A ConfigError naming `what` and how to install Ray, unless Ray is installed."""
    if not ray_installed():
        raise ConfigError(f"{what} needs Ray, which is not installed; install it with: {INSTALL_HINT}")


def check_ray_options(ppo: PPOConfig) -> None:
    """The `ppo.ray` values, checked whichever vec_env runs; Ray itself only where it is the vec_env."""
    if ppo.vec_env == "ray":
        require_ray("ppo.vec_env: ray")
    ray = ppo.ray
    check_positive("ppo.ray.num_cpus_per_env", ray.num_cpus_per_env)
    check_positive("ppo.ray.envs_per_actor", ray.envs_per_actor)
    for key in ("num_gpus_per_env", "max_restarts"):
        if getattr(ray, key) < 0:
            raise ConfigError(f"ppo.ray.{key}: must be >= 0, got {excerpt(getattr(ray, key))}")
    if ppo.vec_env == "ray" and ppo.n_envs % ray.envs_per_actor:
        raise ConfigError(f"ppo.ray.envs_per_actor: {ray.envs_per_actor} does not divide ppo.n_envs "
                          f"({ppo.n_envs}); choose a divisor")


def cluster_address(address: str | None) -> str | None:
    """The cluster to join: `address`, else RAY_ADDRESS, else None (start a local Ray)."""
    return address or os.environ.get("RAY_ADDRESS") or None


def unreachable_reason(address: str, timeout_s: float = 5.0) -> str | None:
    """Why nothing answers at `address` ("host:port" or "ray://host:port"), or None when something does
    (or the address is Ray's "auto"). Ray itself retries a dead address for minutes; this asks once."""
    if address in ("auto", "local"):
        return None
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return "not host:port"
    if not host or port is None:
        return "not host:port"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as err:
        return err.strerror or type(err).__name__


class RaySession:
    """A connection to Ray for one run, as a context manager; `close()` stops a Ray it started.

    `cpus_needed` and `gpus_needed` are what the run reserves at once: a local Ray is started with at
    least that many CPUs (like SubprocVecEnv, it may oversubscribe the cores), and a named cluster that
    has fewer is a ConfigError before anything runs.
    """

    def __init__(self, address: str | None = None, cpus_needed: float = 1.0, gpus_needed: float = 0.0) -> None:
        require_ray("Ray")
        import ray

        self.address = cluster_address(address)
        self.started = False
        if self.address:
            problem = unreachable_reason(self.address)
            if problem:
                raise ConfigError(
                    f"no Ray cluster answers at {self.address!r} ({problem}); start one with "
                    "`ray start --head` or fix the address (--ray-address, --ray or RAY_ADDRESS)")
        if ray.is_initialized():
            self.address = None  # the connection this process already has is the one used
        else:
            if self.address:
                try:
                    ray.init(address=self.address, log_to_driver=False)
                except Exception as err:  # Ray raises ConnectionError, ValueError, RuntimeError here
                    auth = ("" if os.environ.get("RAY_AUTH_MODE") == "token" else
                            "; if the cluster uses token authentication (the default of `ray start --head`), "
                            "set RAY_AUTH_MODE=token here and give this machine its token")
                    raise ConfigError(
                        f"cannot join the Ray cluster at {self.address!r} ({first_line(err)}){auth}") from None
            else:
                ray.init(address="local", num_cpus=max(os.cpu_count() or 1, math.ceil(cpus_needed)),
                         include_dashboard=False, log_to_driver=False)
            self.started = True
        self._check_resources(cpus_needed, gpus_needed)

    def _check_resources(self, cpus: float, gpus: float) -> None:
        import ray

        have = ray.cluster_resources()
        where = f"the Ray cluster at {self.address}" if self.address else "the Ray cluster"
        for name, need in (("CPU", cpus), ("GPU", gpus)):
            if need > have.get(name, 0.0) + 1e-9:
                self.close()
                raise ConfigError(
                    f"the run reserves {need:g} {name}s but {where} has {have.get(name, 0.0):g}; lower "
                    f"ppo.n_envs or ppo.ray.num_{name.lower()}s_per_env, or add nodes")

    def close(self) -> None:
        """Stop the Ray this session started; a Ray started elsewhere stays up."""
        if self.started:
            import ray

            ray.shutdown()
            self.started = False

    def __enter__(self) -> "RaySession":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
