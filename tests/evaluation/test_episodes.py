"""Episodes driven through the environment: one at a time, and many as children of one batched pass."""

import pytest

from lrctl.config import env_config
from lrctl.deploy.actions import keep_action
from lrctl.envs import LRControlEnv
from lrctl.evaluation.episodes import run_episode, run_episodes_batched
from tests.conftest import SMALL_ENV
from tests.policy_helpers import make_policy

EPISODES = [(7, 1e-3), (8, 1e-2), (7, 1e-2)]


@pytest.mark.parametrize("mode", ["discrete", "continuous"])
def test_batched_episodes_equal_single_environment_episodes(digits_like, mode):
    policy = make_policy(mode)  # observes the paper's features
    cfg = env_config("digits-mlp", action_mode=mode, features="paper", **SMALL_ENV)
    env = LRControlEnv("digits-mlp", data=digits_like, action_mode=mode, features="paper", **SMALL_ENV)
    singles = [run_episode(env, policy.act, seed, lr) for seed, lr in EPISODES]
    batched = run_episodes_batched(cfg, policy.act, EPISODES, data=digits_like)
    for a, b in zip(batched, singles):
        assert (a.seed, a.initial_lr) == (b.seed, b.initial_lr)
        assert a.lrs == pytest.approx(b.lrs, rel=1e-9)
        assert len(a.train_losses) == SMALL_ENV["child_steps"]
        assert a.train_losses == pytest.approx(b.train_losses, rel=1e-4)
        assert a.val_steps == b.val_steps
        assert a.val_losses == pytest.approx(b.val_losses, rel=1e-4)
        assert a.total_reward == pytest.approx(b.total_reward, rel=1e-4)
        assert a.final["final_val_loss"] == pytest.approx(b.final["final_val_loss"], rel=1e-4)
    assert len({r.lrs[-1] for r in batched}) > 1  # the episodes differ


def test_a_diverging_batched_episode_ends_alone(digits_like):
    kwargs = {**SMALL_ENV, "optimizer": "sgd", "momentum": 0.0, "lr_max": 1e12}
    cfg = env_config("digits-mlp", **kwargs)
    records = run_episodes_batched(cfg, lambda obs: keep_action("discrete"), [(1, 1e12), (2, 1e-3)],
                                   data=digits_like)
    assert records[0].diverged and not records[0].final and len(records[0].val_losses) == 2
    assert not records[1].diverged and len(records[1].lrs) == SMALL_ENV["child_steps"]
    assert records[1].val_steps == list(range(0, SMALL_ENV["child_steps"] + 1, 5))
