"""Gymnasium's own vector API: the async mode works as called, and the vector entry point gives the
batched children with the episodes of the sync mode."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import lrctl  # noqa: F401  (registers lrctl/LRControl-v0)
from lrctl.envs.vector import LRControlVectorEnv
from tests.conftest import SMALL_ENV

ENV_ID = "lrctl/LRControl-v0"
ACTIONS = [np.array([0, 1]), np.array([2, 0]), np.array([1, 1]), np.array([0, 2]), np.array([1, 0])]


def rollout(envs, seed: int = 11):
    """Observations, rewards, terminations and final observations over more than one episode."""
    obs, _ = envs.reset(seed=seed)
    trace = [("reset", obs, None, None, None)]
    for actions in ACTIONS:
        obs, rewards, terminated, truncated, infos = envs.step(actions)
        assert not truncated.any()
        trace.append(("step", obs, rewards, terminated, infos.get("final_obs")))
    envs.close()
    return trace


def assert_same_episodes(ours, theirs):
    for (_, obs_a, rew_a, term_a, final_a), (_, obs_b, rew_b, term_b, final_b) in zip(ours, theirs):
        np.testing.assert_allclose(obs_a, obs_b, rtol=1e-4, atol=1e-5)
        if rew_a is not None:
            np.testing.assert_allclose(rew_a, rew_b, rtol=1e-4, atol=1e-5)
            np.testing.assert_array_equal(term_a, term_b)
            assert (final_a is None) == (final_b is None)
            if final_a is not None:
                for i in np.flatnonzero(term_a):
                    np.testing.assert_allclose(final_a[i], final_b[i], rtol=1e-4, atol=1e-5)


def test_async_mode_works_as_called():
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="async", setting="digits-mlp", **SMALL_ENV)
    asynchronous = rollout(envs)
    synchronous = rollout(gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", setting="digits-mlp",
                                       **SMALL_ENV))
    assert_same_episodes(asynchronous, synchronous)


def test_vector_entry_point_gives_the_batched_children_with_the_sync_modes_episodes():
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", setting="digits-mlp",
                        autoreset_mode=AutoresetMode.SAME_STEP, **SMALL_ENV)
    assert isinstance(envs.unwrapped, LRControlVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    batched = rollout(envs)
    sync = rollout(gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", setting="digits-mlp",
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **SMALL_ENV))
    assert_same_episodes(batched, sync)
    assert batched[4][3].all() and batched[4][4] is not None  # four decisions end the episode; it restarts


# Sub-environment 0 ends its episode first (its initial LR diverges), so restarts fall on different steps.
UNEVEN = dict(SMALL_ENV, optimizer="sgd", momentum=0.0, lr_max=1e12, initial_lrs=[1e12, 1e-3])


@pytest.mark.parametrize("options", [SMALL_ENV, UNEVEN], ids=["together", "apart"])
def test_next_step_autoreset_is_gymnasiums_default_and_gives_the_sync_modes_episodes(options):
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", setting="digits-mlp",
                        **options)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    trace = rollout(envs, seed=5)
    sync = rollout(gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", setting="digits-mlp", **options),
                   seed=5)
    assert_same_episodes(trace, sync)
    ends = [step[3] for step in trace[1:]]
    assert any(e.any() for e in ends) and all(step[4] is None for step in trace[1:])  # no final_obs here
    for before, after in zip(ends, trace[2:]):  # the step after an end: reward 0, a fresh episode
        assert (after[2][before] == 0).all() and not after[3][before].any()


def test_gymnasiums_vector_wrappers_work_on_the_vector_entry_point():
    from gymnasium.wrappers.vector import NormalizeObservation, RecordEpisodeStatistics

    envs = RecordEpisodeStatistics(NormalizeObservation(
        gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", **SMALL_ENV)))
    envs.reset(seed=0)
    finished = []
    for _ in range(6):
        _, _, terminated, _, infos = envs.step(envs.action_space.sample())
        if "episode" in infos:
            finished += list(infos["episode"]["l"][infos["_episode"]])
    assert finished and all(length == 4 for length in finished)  # four decisions per episode
    envs.close()


def test_an_autoreset_mode_it_does_not_run_is_named():
    with pytest.raises(ValueError, match="autoreset_mode"):
        LRControlVectorEnv(2, "digits-mlp", autoreset_mode=AutoresetMode.DISABLED, **SMALL_ENV)


def test_vector_entry_point_takes_per_environment_seeds_and_the_initial_lr():
    envs = LRControlVectorEnv(2, "digits-mlp", **SMALL_ENV)
    _, infos = envs.reset(seed=[3, 3], options={"initial_lr": 1e-3})
    np.testing.assert_array_equal(infos["initial_lr"], [1e-3, 1e-3])
    obs, _ = envs.reset(seed=[3, 3])
    np.testing.assert_array_equal(obs[0], obs[1])
    with pytest.raises(ValueError, match="unknown reset option"):
        envs.reset(options={"initial_LR": 1e-3})


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_the_vector_entry_point_draws_one_task_per_round(mode):
    envs = LRControlVectorEnv(2, "digits-mlp", autoreset_mode=mode, **{
        **SMALL_ENV, "tasks": {"datasets": ["digits", "synthetic"], "widths": [8], "depths": [1],
                               "batch_sizes": [8], "child_steps": [20]}})
    envs.reset(seed=3)
    tasks, ends = [envs._episodes.round_task], 0
    for _ in range(15):  # three rounds of four decisions, and the restarts between them
        _, _, terminated, truncated, _ = envs.step(envs.action_space.sample())
        ends += int(terminated.all() or truncated.all())
        if envs._episodes.round_task is not tasks[-1]:
            tasks.append(envs._episodes.round_task)
    assert ends >= 2 and len(tasks) >= 3  # each round ended together and drew its own task
    envs.close()
