"""Policy files: round trip, and one-line errors for anything that is not a good policy file."""

import numpy as np
import pytest
import torch

from lrctl.deploy.policy import PolicyByInitialLR, PolicyFileError, load_policy, save_policy
from tests.policy_helpers import make_policy


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "policy.pt"
    policy = make_policy("continuous")
    save_policy(policy, path)
    return policy, path


def test_round_trip_keeps_actions_and_spec(saved):
    policy, path = saved
    loaded = load_policy(path)
    assert loaded.spec == policy.spec
    for seed in range(5):
        features = np.random.default_rng(seed).normal(size=8) + policy.obs_mean
        assert np.array_equal(loaded.act(features), policy.act(features))
    assert path.stat().st_size < 20_000  # a few KB


def _assert_one_line(err, *fragments):
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path):
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "nope.pt")
    _assert_one_line(err, "not found")


def test_empty_file(tmp_path):
    (tmp_path / "p.pt").write_bytes(b"")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "p.pt")
    _assert_one_line(err, "empty")


def test_truncated_file(saved, tmp_path):
    _, path = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PolicyFileError) as err:
        load_policy(cut)
    _assert_one_line(err, "truncated or corrupt")


def test_text_file_is_not_a_policy(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "notes.pt")
    _assert_one_line(err, "not a readable lrctl policy")


def test_foreign_torch_file(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "model.pt")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "model.pt")
    _assert_one_line(err, "not an lrctl policy file")


def _load_tampered(saved, tmp_path, tamper):
    """Load a copy of the saved policy file after `tamper(data)` changed its contents in place."""
    _, path = saved
    data = torch.load(path, weights_only=True)
    tamper(data)
    torch.save(data, tmp_path / "tampered.pt")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "tampered.pt")
    return err


def test_feature_this_lrctl_cannot_compute(saved, tmp_path):
    def tamper(data):
        data["spec"]["feature_names"][2] = "hessian_trace"
    err = _load_tampered(saved, tmp_path, tamper)
    _assert_one_line(err, "hessian_trace", "upgrade lrctl")


def test_newer_format_version(saved, tmp_path):
    def tamper(data):
        data["format_version"] = 99
    err = _load_tampered(saved, tmp_path, tamper)
    _assert_one_line(err, "version 99")


def test_damaged_weights(saved, tmp_path):
    def tamper(data):
        del data["actor_state"]["0.weight"]
    err = _load_tampered(saved, tmp_path, tamper)
    _assert_one_line(err, "damaged")


UNUSABLE = {
    "nan-weight": (lambda d: d["actor_state"]["0.weight"].view(-1).__setitem__(0, float("nan")), "weights"),
    "inf-bias": (lambda d: d["actor_state"]["4.bias"].fill_(float("inf")), "weights"),
    "nan-mean": (lambda d: d["obs_norm"]["mean"].fill_(float("nan")), "statistics"),
    "negative-variance": (lambda d: d["obs_norm"]["var"].fill_(-1.0), "statistics"),
    "short-statistics": (lambda d: d["obs_norm"].__setitem__("mean", d["obs_norm"]["mean"][:3]), "statistics"),
    "negative-lr-bounds": (lambda d: d["spec"].update(lr_min=-3.0, lr_max=-2.0), "-3.0"),
    "inverted-lr-bounds": (lambda d: d["spec"].update(lr_min=1.0, lr_max=0.1), "lr_min < lr_max"),
    "nan-lr-max": (lambda d: d["spec"].update(lr_max=float("nan")), "nan"),
    "zero-clip": (lambda d: d["obs_norm"].update(clip=0.0), "clip"),
    "no-decisions": (lambda d: d["spec"].update(steps_per_action=0), "decision"),
    "nan-log-std": (lambda d: d["log_std"].fill_(float("nan")), "log_std"),
    "unknown-optimizer": (lambda d: d["spec"].update(optimizers=["lbfgs"]), "lbfgs"),
    "unknown-action-base": (lambda d: d["spec"].update(action_base="exponential"), "exponential"),
    "negative-cap-decisions": (lambda d: d["spec"].update(cap_decisions=-5), "cap_decisions -5"),
    "wrong-output-size": (lambda d: d["spec"].update(action_mode="discrete"), "outputs"),
}


@pytest.mark.parametrize("name", UNUSABLE)
def test_unusable_contents_are_refused_on_load(saved, tmp_path, name):
    tamper, fragment = UNUSABLE[name]
    err = _load_tampered(saved, tmp_path, tamper)
    _assert_one_line(err, "unusable policy", fragment)


@pytest.mark.parametrize("key", ["action_base", "max_lr_ratio", "optimizers"])
def test_a_pre_release_file_without_a_spec_key_says_to_export_again(saved, tmp_path, key):
    _, path = saved
    data = torch.load(path, weights_only=True)
    del data["spec"][key]
    torch.save(data, tmp_path / "older.pt")
    with pytest.raises(PolicyFileError, match=f"lacks {key}: it was written by a pre-release lrctl"):
        load_policy(tmp_path / "older.pt")


def test_a_pre_release_file_is_named_once_not_called_damaged(saved, tmp_path):
    _, path = saved
    data = torch.load(path, weights_only=True)
    del data["spec"]["optimizers"]
    torch.save(data, tmp_path / "older.pt")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "older.pt")
    assert "damaged" not in str(err.value) and str(err.value).count("older.pt") == 1


@pytest.mark.parametrize("several", [False, True])
def test_a_file_of_a_newer_lrctl_says_to_upgrade(saved, tmp_path, several):
    policy, path = saved
    data = (PolicyByInitialLR([policy, policy], [1e-3]) if several else policy).to_file_dict()
    for spec in [m["spec"] for m in data["members"]] if several else [data["spec"]]:
        spec["a_later_option"] = 1.0
    torch.save(data, tmp_path / "newer.pt")
    with pytest.raises(PolicyFileError) as err:
        load_policy(tmp_path / "newer.pt")
    message = str(err.value)
    assert "sets a_later_option" in message and "upgrade lrctl" in message and "damaged" not in message
    assert message.count("newer.pt") == 1 and "\n" not in message
