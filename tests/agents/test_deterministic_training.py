"""The same short PPO training on one CPU process gives the same policy weights."""

import pytest
import torch

from lrctl.agents.trainer import train
from lrctl.config import load_config
from tests.agents.test_training_run import TINY

pytestmark = pytest.mark.slow  # `-m "not slow"` leaves it out


def _policy_state(tmp_path, name, extra=()):
    cfg = load_config(None, [*TINY, *extra, f"run_dir={tmp_path / name}"])
    result = train(cfg, log=lambda *_: None)
    return torch.load(result.run_dir / "policy.pt", weights_only=True)


def test_same_seed_same_policy_weights(tmp_path):
    a = _policy_state(tmp_path, "a")
    b = _policy_state(tmp_path, "b")
    for key in a["actor_state"]:
        assert torch.equal(a["actor_state"][key], b["actor_state"][key]), key
    assert torch.equal(a["obs_norm"]["mean"], b["obs_norm"]["mean"])


def test_other_seed_other_policy_weights(tmp_path):
    a = _policy_state(tmp_path, "a")
    c = _policy_state(tmp_path, "c", ["seed=1"])
    assert any(not torch.equal(a["actor_state"][k], c["actor_state"][k]) for k in a["actor_state"])
