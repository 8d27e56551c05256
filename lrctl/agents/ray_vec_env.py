"""`vec_env: ray`: environments as Ray actors behind one stable-baselines3 VecEnv.

Each actor holds a group of `ppo.ray.envs_per_actor` environments as a VecEnv of its own (one
`LRControlEnv`, several in a DummyVecEnv, or batched children), builds them once, and so loads the data
once per actor; a step sends each actor its actions and gathers what the groups return. Seeds reach the
groups as SB3's seed, seed + 1, ... would reach the environments of a DummyVecEnv or SubprocVecEnv, and
each actor trains with the thread count of one SubprocVecEnv worker per CPU it reserves, so the
episodes are theirs.

An actor that is lost mid-episode (its process killed, its node gone, during a step or between two)
is restarted by Ray; its environments' episodes end there as truncated (`TimeLimit.truncated`, the
last observation as the terminal one, reward 0, `actor_restarted` in the info), with a warning, and
training goes on.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from lrctl.config import EnvConfig, PPOConfig
from lrctl.ray_cluster import RaySession

RESTART_SEED_STRIDE = 7919
"""A restarted group starts from seed + restarts * stride: new episodes, still determined by the seed."""
RESTART_TIMEOUT_S = 300.0
"""How long to wait for Ray to bring a lost actor back (a new node may have to join)."""


class ActorRestartedError(RuntimeError):
    """A step reached an actor that Ray restarted since the last step: its episodes are gone."""


class EnvGroup:
    """The body of one Ray actor: a VecEnv of `n` environments of `env_cfg`.

    A restarted actor runs this constructor again and refuses to step until it is reset, so that a
    loss between two steps is seen as one (`ActorRestartedError`), not as a step of a fresh environment.
    """

    def __init__(self, env_cfg: EnvConfig, n: int, threads: int) -> None:
        import torch

        from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
        from lrctl.agents.env_factory import env_thunk
        from lrctl.children.batched import batchable

        torch.set_num_threads(threads)
        if n > 1 and batchable(env_cfg, otherwise="each actor steps its environments one after another"):
            self.venv: VecEnv = BatchedLRControlVecEnv(env_cfg, n)
        else:
            self.venv = DummyVecEnv([env_thunk(env_cfg) for _ in range(n)])
        self._started = False

    def spaces(self) -> tuple[Any, Any]:
        return self.venv.observation_space, self.venv.action_space

    def reset(self, seed: int | None, options: list[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        if seed is not None:
            self.venv.seed(seed)
        self.venv.set_options(options)
        obs = self.venv.reset()
        self._started = True
        return obs, list(self.venv.reset_infos)

    def step(self, actions: np.ndarray) -> VecEnvStepReturn:
        if not self._started:
            raise ActorRestartedError("this actor was restarted since the last step; reset it")
        return self.venv.step(actions)

    def get_attr(self, name: str, indices: list[int]) -> list[Any]:
        return self.venv.get_attr(name, indices)

    def set_attr(self, name: str, value: Any, indices: list[int]) -> None:
        self.venv.set_attr(name, value, indices)

    def env_method(self, name: str, args: tuple, kwargs: dict[str, Any], indices: list[int]) -> list[Any]:
        return self.venv.env_method(name, *args, indices=indices, **kwargs)

    def env_is_wrapped(self, wrapper_class: type, indices: list[int]) -> list[bool]:
        return self.venv.env_is_wrapped(wrapper_class, indices)

    def pid(self) -> int:
        import os

        return os.getpid()


class RayVecEnv(VecEnv):
    """`ppo.n_envs` environments in Ray actors of `ppo.ray.envs_per_actor` each (see the module doc).

    Joins the cluster at `address` (or RAY_ADDRESS), or starts a local Ray that `close()` stops.
    `restarts` counts the actors lost and restarted so far.
    """

    def __init__(self, env_cfg: EnvConfig, ppo: PPOConfig, address: str | None = None) -> None:
        import ray

        opts = ppo.ray
        per_actor = opts.envs_per_actor
        n_actors = ppo.n_envs // per_actor
        self._session = RaySession(address, cpus_needed=ppo.n_envs * opts.num_cpus_per_env,
                                   gpus_needed=ppo.n_envs * opts.num_gpus_per_env)
        actor_class = ray.remote(EnvGroup).options(
            num_cpus=opts.num_cpus_per_env * per_actor, num_gpus=opts.num_gpus_per_env * per_actor,
            max_restarts=opts.max_restarts, max_task_retries=0)
        threads = max(1, math.floor(opts.num_cpus_per_env * per_actor))
        self._actors = [actor_class.remote(env_cfg, per_actor, threads) for _ in range(n_actors)]
        self._per_actor = per_actor
        self._group_seeds: list[int | None] = [None] * n_actors
        self.restarts = 0
        try:
            observation_space, action_space = ray.get(self._actors[0].spaces.remote())
        except ray.exceptions.RayError as err:
            self.close()
            raise RuntimeError(f"the Ray actors could not build their environments: {err}") from None
        super().__init__(ppo.n_envs, observation_space, action_space)
        self._last_obs = np.zeros((ppo.n_envs, *observation_space.shape), dtype=observation_space.dtype)
        self._pending: list[Any] = []

    def _slice(self, j: int) -> slice:
        return slice(j * self._per_actor, (j + 1) * self._per_actor)

    def reset(self) -> VecEnvObs:
        """Reset every environment; seeds from `seed()` and options from `set_options()` apply once."""
        import ray

        seeds = self._seeds
        futures = []
        for j, actor in enumerate(self._actors):
            part = self._slice(j)
            self._group_seeds[j] = seeds[part.start] if seeds[part.start] is not None else self._group_seeds[j]
            futures.append(actor.reset.remote(seeds[part.start], self._options[part]))
        replies = ray.get(futures)
        obs = np.concatenate([o for o, _ in replies])
        self.reset_infos = [info for _, infos in replies for info in infos]
        self._reset_seeds()
        self._reset_options()
        self._last_obs = obs.copy()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = [actor.step.remote(actions[self._slice(j)]) for j, actor in enumerate(self._actors)]

    def step_wait(self) -> VecEnvStepReturn:
        import ray

        try:
            replies = ray.get(self._pending)  # one wait for all actors: the common case
        except (ray.exceptions.RayActorError, ActorRestartedError):
            replies = [self._reply_or_restart(j, future) for j, future in enumerate(self._pending)]
        obs, rewards, dones, infos = [], [], [], []
        for o, r, d, i in replies:
            obs.append(o)
            rewards.append(r)
            dones.append(d)
            infos.extend(i)
        self._pending = []
        stacked = np.concatenate(obs)
        self._last_obs = stacked.copy()
        return stacked, np.concatenate(rewards).astype(np.float32), np.concatenate(dones), infos

    def _reply_or_restart(self, j: int, future: Any) -> VecEnvStepReturn:
        import ray

        try:
            return ray.get(future)
        except (ray.exceptions.RayActorError, ActorRestartedError) as err:  # lost during the step, or before it
            return self._restart(j, err)

    def _restart(self, j: int, err: Exception) -> VecEnvStepReturn:
        """Actor `j` was lost: wait for Ray's restart, start its environments afresh, and end their
        episodes as truncated at their last observation."""
        import ray

        part = self._slice(j)
        self.restarts += 1
        base = self._group_seeds[j]
        seed = None if base is None else (base + RESTART_SEED_STRIDE * self.restarts) % 2**31
        deadline = time.monotonic() + RESTART_TIMEOUT_S
        while True:
            try:
                fresh, _ = ray.get(self._actors[j].reset.remote(seed, [{}] * self._per_actor))
                break
            except ray.exceptions.ActorUnavailableError:  # still restarting
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Ray actor of environments {part.start}..{part.stop - 1} was lost and "
                                       f"not back within {RESTART_TIMEOUT_S:.0f} s") from None
                time.sleep(0.2)
            except ray.exceptions.RayActorError:
                raise RuntimeError(f"the Ray actor of environments {part.start}..{part.stop - 1} was lost and "
                                   f"cannot be restarted (ppo.ray.max_restarts reached, or no node can host it): "
                                   f"{type(err).__name__}") from None
        warnings.warn(f"the Ray actor of environments {part.start}..{part.stop - 1} was lost "
                      f"({type(err).__name__}); Ray restarted it and its episodes end as truncated "
                      f"({self.restarts} restart(s) in this run)", RuntimeWarning, stacklevel=3)
        infos = [{"terminal_observation": self._last_obs[i].copy(), "TimeLimit.truncated": True,
                  "actor_restarted": True} for i in range(part.start, part.stop)]
        n = self._per_actor
        return fresh, np.zeros(n, dtype=np.float32), np.ones(n, dtype=bool), infos

    def _by_actor(self, indices: Any) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for i in self._get_indices(indices):
            groups.setdefault(i // self._per_actor, []).append(i % self._per_actor)
        return groups

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        import ray

        return [v for j, local in self._by_actor(indices).items()
                for v in ray.get(self._actors[j].get_attr.remote(attr_name, local))]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        import ray

        ray.get([self._actors[j].set_attr.remote(attr_name, value, local)
                 for j, local in self._by_actor(indices).items()])

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        import ray

        return [v for j, local in self._by_actor(indices).items()
                for v in ray.get(self._actors[j].env_method.remote(method_name, method_args, method_kwargs, local))]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        import ray

        return [v for j, local in self._by_actor(indices).items()
                for v in ray.get(self._actors[j].env_is_wrapped.remote(wrapper_class, local))]

    def actor_pids(self) -> list[int]:
        """The process id of each actor (tests kill one)."""
        import ray

        return ray.get([actor.pid.remote() for actor in self._actors])

    def close(self) -> None:
        import ray

        for actor in getattr(self, "_actors", []):
            ray.kill(actor, no_restart=True)
        self._actors = []
        self._session.close()
