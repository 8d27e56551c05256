"""The batched VecEnv matches K single environments: observations, rewards, dones, infos, resets."""

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from lrctl.agents.batched_vec_env import BatchedLRControlVecEnv
from lrctl.config import ConfigError, env_config
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV, make_splits

K = 4


def _pair(data, **options):
    kwargs = {**SMALL_ENV, "initial_lrs": [1e-2, 1e-3], **options}
    batched = BatchedLRControlVecEnv(env_config("digits-mlp", **kwargs), K, data=data)
    singles = DummyVecEnv([lambda: LRControlEnv("digits-mlp", data=data, **kwargs) for _ in range(K)])
    batched.seed(5)
    singles.seed(5)
    return batched, singles


CUDA = pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"))


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("mode,optimizer,features", [("discrete", "adam", "paper"), ("continuous", "sgd", "both"),
                                                     ("continuous", "adam", "scale_free_lr_noise")])
def test_matches_four_single_environments(digits_like, mode, optimizer, features, device):
    batched, singles = _pair(digits_like, action_mode=mode, optimizer=optimizer, features=features, device=device)
    np.testing.assert_allclose(batched.reset(), singles.reset(), rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(10):  # two and a half episodes: crosses automatic resets
        actions = rng.integers(0, 3, size=K) if mode == "discrete" else rng.uniform(-1, 1, size=(K, 1)).astype(np.float32)
        ob, rb, db, ib = batched.step(actions)
        os_, rs, ds, is_ = singles.step(actions)
        np.testing.assert_allclose(ob, os_, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rb, rs, rtol=1e-4, atol=1e-5)
        assert np.array_equal(db, ds)
        for a, b in zip(ib, is_):
            assert a["lr"] == pytest.approx(b["lr"], rel=1e-12)
            assert a["child_step"] == b["child_step"]
            if "final_val_loss" in b:
                assert a["final_val_loss"] == pytest.approx(b["final_val_loss"], rel=1e-4)
                np.testing.assert_allclose(a["terminal_observation"], b["terminal_observation"], rtol=1e-4, atol=1e-5)


def test_convolutional_children_match_single_environments():
    """LeNet-5: convolutions under vmap, and Linear weights kept transposed in the flat tensor."""
    data = make_splits((1, 28, 28), n_train=32, n_val=16, n_test=16)
    kwargs = {**SMALL_ENV, "device": "cpu", "initial_lrs": [1e-2, 1e-3]}
    batched = BatchedLRControlVecEnv(env_config("fmnist-lenet5", **kwargs), 2, data=data)
    singles = DummyVecEnv([lambda: LRControlEnv("fmnist-lenet5", data=data, **kwargs) for _ in range(2)])
    batched.seed(1)
    singles.seed(1)
    np.testing.assert_allclose(batched.reset(), singles.reset(), rtol=1e-5, atol=1e-6)
    for action in (0, 1, 2):
        ob, rb, _, _ = batched.step(np.full(2, action))
        os_, rs, _, _ = singles.step(np.full(2, action))
        np.testing.assert_allclose(ob, os_, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(rb, rs, rtol=1e-4, atol=1e-5)


def test_same_seed_gives_the_same_episodes_bit_for_bit(digits_like):
    def episode() -> np.ndarray:
        batched, _ = _pair(digits_like)
        observations = [batched.reset()]
        for action in (0, 1, 2, 0, 1, 2):  # crosses an automatic reset
            observations.append(batched.step(np.full(K, action))[0])
        return np.stack(observations)

    assert np.array_equal(episode(), episode())


def test_each_child_has_its_own_seed_and_lr(digits_like):
    batched, _ = _pair(digits_like, features="paper")  # scale-free features start at 0 for every child
    obs = batched.reset()
    assert len({tuple(row) for row in obs}) == K  # different initialisations and validation subsets
    assert len(set(batched.core.lrs.tolist())) > 1


def test_diverging_child_ends_alone_with_penalty(digits_like):
    kwargs = {**SMALL_ENV, "optimizer": "sgd", "momentum": 0.0, "lr_max": 1e12, "initial_lrs": [1e12, 1e-3]}
    batched = BatchedLRControlVecEnv(env_config("digits-mlp", **kwargs), K, data=digits_like)
    batched.seed(0)
    batched.reset()
    big = [i for i in range(K) if batched.core.lrs.tolist()[i] > 1]
    obs, rewards, dones, infos = batched.step(np.full(K, 2))
    assert big and all(dones[i] and infos[i]["diverged"] for i in big)
    assert all(not dones[i] for i in range(K) if i not in big)
    assert np.isfinite(obs).all()
    assert all(rewards[i] == pytest.approx(-5.0 * 4) for i in big)


def test_batchnorm_children_are_refused():
    data = make_splits((3, 32, 32), n_train=8, n_val=8, n_test=8)
    with pytest.raises(ConfigError, match="vec_env: subproc"):
        BatchedLRControlVecEnv(env_config("cifar10-resnet18", device="cpu", **SMALL_ENV), 2, data=data)


def test_ppo_trains_on_the_batched_vec_env(tmp_path):
    from lrctl.agents.trainer import train
    from lrctl.config import load_config
    from tests.agents.test_training_run import TINY

    cfg = load_config(None, [*TINY, "ppo.vec_env=batched", "ppo.n_envs=4", "ppo.n_steps=6",
                             "ppo.batch_size=12", f"run_dir={tmp_path / 'run'}"])
    result = train(cfg, log=lambda *_: None)
    assert result.timesteps == 48 and result.episodes == 12
    assert (result.run_dir / "policy.pt").is_file()
    report = (result.run_dir / "report.md").read_text()  # its held-out episodes ran batched too
    assert "| 0.01 |" in report and "| 0.001 |" in report


def test_initial_lr_from_set_options_and_reset_episodes(digits_like):
    batched, _ = _pair(digits_like)
    batched.set_options({"initial_lr": 3e-3})
    batched.reset()
    assert batched.core.lrs.tolist() == [3e-3] * K
    batched.reset()  # options apply to one reset, as in SB3
    assert set(batched.core.lrs.tolist()) <= {1e-2, 1e-3}
    batched.reset_episodes([1, 2, 3, 4], [1e-4, 2e-4, 3e-4, 4e-4])
    assert batched.core.lrs.tolist() == [1e-4, 2e-4, 3e-4, 4e-4]
    with pytest.raises(ValueError, match="needs 4 seeds"):
        batched.reset_episodes([1, 2], [1e-3, 1e-3])
    with pytest.raises(ValueError, match="initial_lr"):
        batched.reset_episodes([1, 2, 3, 4], [1e-3, 1e-3, 1e-3, 50.0])


@pytest.mark.parametrize("options,twin_key", [({"reward": "log_improvement_vs_constant"}, "constant_val_loss"),
                                               ({"reward": "log_improvement_vs_base", "action_base": "cosine"},
                                                "base_val_loss")])
def test_twin_rewards_match_single_environments(digits_like, options, twin_key):
    batched, singles = _pair(digits_like, **options)
    np.testing.assert_allclose(batched.reset(), singles.reset(), rtol=1e-5, atol=1e-6)
    rng = np.random.default_rng(1)
    for _ in range(6):
        actions = rng.integers(0, 3, size=K)
        _, rb, _, ib = batched.step(actions)
        _, rs, _, is_ = singles.step(actions)
        np.testing.assert_allclose(rb, rs, rtol=1e-4, atol=1e-5)
        assert [a[twin_key] for a in ib] == pytest.approx([b[twin_key] for b in is_], rel=1e-4)
        assert [a["lr"] for a in ib] == pytest.approx([b["lr"] for b in is_], rel=1e-12)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_children_and_twins_in_one_pass_equal_two_passes_bit_for_bit(digits_like, optimizer):
    from lrctl.children.batched import BatchedChildren
    from lrctl.envs.core import EpisodeCore

    cfg = env_config("digits-mlp", **{**SMALL_ENV, "initial_lrs": [1e-2, 1e-3], "optimizer": optimizer,
                                      "reward": "log_improvement_vs_constant"})
    one_pass = BatchedLRControlVecEnv(cfg, K, data=digits_like).core
    assert one_pass.children.pair is one_pass.twins.pair  # the default: one batched pass of 2K
    two_passes = EpisodeCore(cfg, BatchedChildren(digits_like, "digits-mlp", cfg, K),
                             BatchedChildren(digits_like, "digits-mlp", cfg, K))
    starts = [core.start(range(K), seeds=[7, 8, 9, 10]) for core in (one_pass, two_passes)]
    assert np.array_equal(starts[0][0], starts[1][0])
    rng = np.random.default_rng(2)
    active = np.array([True, False, True, True])  # a child held still, as the vector entry point does
    for step in range(cfg.child_steps // cfg.steps_per_action):
        actions = rng.integers(0, 3, size=K)
        mask = active if step == 1 else None
        a, b = (core.step(actions, mask) for core in (one_pass, two_passes))
        assert np.array_equal(a.obs, b.obs) and np.array_equal(a.rewards, b.rewards)
        assert np.array_equal(a.terminated, b.terminated)
        assert [i.get("constant_val_loss") for i in a.infos] == [i.get("constant_val_loss") for i in b.infos]
