"""vec_env: ray: the same episodes as the other VecEnvs, and a lost actor ends its episodes as truncated."""

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from lrctl.agents.vec_env import build_vec_env
from lrctl.config import ConfigError, PPOConfig, RayConfig, env_config
from tests.conftest import SMALL_ENV

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.usefixtures("local_ray"), pytest.mark.slow]  # `-m "not slow"` leaves Ray out
ENV = env_config("digits-mlp", **SMALL_ENV)
ACTIONS = [np.array([0, 1]), np.array([1, 2]), np.array([2, 0]), np.array([0, 0]), np.array([1, 1]),
           np.array([2, 1])]  # six decisions: across the end of the four-decision episodes


def _roll(ppo: PPOConfig) -> tuple[list, list, list, list]:
    venv = build_vec_env(ENV, ppo, seed=11)
    try:
        obs, rewards, dones, terminal = [venv.reset()], [], [], []
        for actions in ACTIONS:
            o, r, d, infos = venv.step(actions)
            obs.append(o)
            rewards.append(r)
            dones.append(d)
            terminal += [info["terminal_observation"] for info in infos if "terminal_observation" in info]
        return obs, rewards, dones, terminal
    finally:
        venv.close()


@pytest.mark.parametrize("other", ["subproc", "dummy"])
def test_ray_actors_run_the_same_episodes_bit_for_bit(other):
    """Bit for bit at the same thread count: one per actor, per SubprocVecEnv worker, and here for dummy."""
    ray_run = _roll(PPOConfig(vec_env="ray", n_envs=2))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        other_run = _roll(PPOConfig(vec_env=other, n_envs=2))
    finally:
        torch.set_num_threads(threads)
    assert any(d.any() for d in ray_run[2])  # an episode ended and the next one started
    for mine, theirs in zip(ray_run, other_run):
        assert len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            np.testing.assert_array_equal(a, b)


def test_batched_groups_in_one_actor_match_the_batched_vec_env():
    ppo = PPOConfig(vec_env="ray", n_envs=2, ray=RayConfig(envs_per_actor=2))
    ray_run = _roll(ppo)
    batched_run = _roll(replace(ppo, vec_env="batched"))
    for mine, theirs in zip(ray_run, batched_run):
        for a, b in zip(mine, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def _wait_until_restarted(ray_env, index: int, old_pid: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if ray_env.actor_pids()[index] != old_pid:
                return
        except ray.exceptions.RayActorError:  # still restarting
            pass
        time.sleep(0.1)
    raise AssertionError("Ray did not restart the killed actor within 120 s")


@pytest.mark.parametrize("next_step", ["at once", "after Ray restarted the actor"])
def test_a_killed_actor_is_restarted_and_its_episode_ends_truncated(next_step):
    """Killed between two steps: the next step finds it restarting, or already restarted (fresh, never reset)."""
    venv = build_vec_env(ENV, PPOConfig(vec_env="ray", n_envs=2), seed=5)
    ray_env = venv.venv
    try:
        venv.reset()
        before, _, _, _ = venv.step(np.array([0, 0]))
        pid = ray_env.actor_pids()[1]
        os.kill(pid, signal.SIGKILL)
        if next_step != "at once":
            _wait_until_restarted(ray_env, 1, pid)
        with pytest.warns(RuntimeWarning, match=r"actor of environments 1\.\.1 was lost.*truncated"):
            obs, rewards, dones, infos = venv.step(np.array([0, 0]))
        assert dones.tolist() == [False, True] and rewards[1] == 0.0
        assert infos[1]["TimeLimit.truncated"] and infos[1]["actor_restarted"]
        np.testing.assert_array_equal(infos[1]["terminal_observation"], before[1])
        assert "episode" in infos[1]  # VecMonitor closed the cut-short episode
        assert np.isfinite(obs).all() and ray_env.restarts == 1
        ended = np.zeros(2, dtype=int)
        for _ in range(3):  # training goes on: both environments keep stepping
            obs, _, dones, _ = venv.step(np.array([2, 2]))
            ended += dones
        assert ended.tolist() == [1, 0]  # env 0 finished its four decisions; env 1 is three into its new episode
    finally:
        venv.close()


def test_more_cpus_than_the_cluster_has_is_a_config_error():
    with pytest.raises(ConfigError, match=r"reserves 4 CPUs but the Ray cluster has 2; lower ppo.n_envs"):
        build_vec_env(ENV, PPOConfig(vec_env="ray", n_envs=4), seed=0)
