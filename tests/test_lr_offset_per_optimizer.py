"""A policy trained on one optimizer driving another's runs may see the LR in its own terms: it adds
`log10_lr_offset` decades to the `log10_lr` it observes (SGD's good LRs lie about ten times above Adam's)."""

import numpy as np
import pytest
import torch

from lrctl.cli import main
from lrctl.deploy.policy import PolicyFileError, load_policy, save_policy
from tests.policy_helpers import make_policy


def _offset(policy, decades):
    return policy.with_spec(log10_lr_offset=decades)


def test_the_offset_is_the_lr_seen_that_many_decades_away():
    policy = make_policy("discrete", features="scale_free_lr", seed=3)
    column = policy.spec.feature_names.index("log10_lr")
    features = np.random.default_rng(0).normal(size=(50, len(policy.spec.feature_names)))
    lower = features.copy()
    lower[:, column] -= 1.0
    shifted = _offset(policy, -1.0)
    assert np.array_equal(shifted.normalize(features), policy.normalize(lower))
    assert [shifted.act(f) for f in features] == [policy.act(f) for f in lower]
    assert [shifted.act(f) for f in features] != [policy.act(f) for f in features]  # it does change actions


def test_the_callers_features_are_not_changed():
    policy = _offset(make_policy("discrete", features="scale_free_lr", seed=3), -1.0)
    features = np.ones(len(policy.spec.feature_names), dtype=np.float32)
    policy.act(features)
    assert np.array_equal(features, np.ones(len(policy.spec.feature_names)))


def test_the_file_records_it_and_refuses_it_where_the_lr_is_not_observed(tmp_path):
    save_policy(_offset(make_policy("discrete", features="scale_free_lr"), -1.0), tmp_path / "p.pt")
    assert load_policy(tmp_path / "p.pt").spec.log10_lr_offset == -1.0
    save_policy(_offset(make_policy("discrete", features="scale_free"), -1.0), tmp_path / "q.pt")
    with pytest.raises(PolicyFileError, match="log10_lr_offset -1.0 needs"):
        load_policy(tmp_path / "q.pt")
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    del data["spec"]["log10_lr_offset"]
    torch.save(data, tmp_path / "older.pt")
    assert load_policy(tmp_path / "older.pt").spec.log10_lr_offset == 0.0


@pytest.fixture
def files(tmp_path):
    paths = [tmp_path / f"{name}.pt" for name in ("low", "high", "sgd")]
    for seed, path in enumerate(paths):
        save_policy(make_policy("discrete", features="scale_free_lr", seed=seed), path)
    return [str(p) for p in paths]


def test_combine_gives_the_sgd_runs_their_offsets(files, tmp_path):
    low, high, sgd = files
    out = tmp_path / "file.pt"
    assert main(["combine", low, high, "--from-lrs", "5e-3", "--sgd-policies", low, sgd, "--sgd-from-lrs", "3e-3",
                 "--sgd-lr-offsets", "-1", "0", "--out", str(out)]) == 0
    combined = load_policy(out)
    assert [m.spec.log10_lr_offset for m in combined.members] == [0.0, 0.0, -1.0, 0.0]
    assert combined.for_initial_lr(1e-3, "sgd").spec.log10_lr_offset == -1.0
    assert combined.for_initial_lr(1e-3, "adam").spec.log10_lr_offset == 0.0


@pytest.mark.parametrize("args, fragment", [
    (["--sgd-policies", "{low}", "--sgd-lr-offsets", "-1", "0"], "give one per --sgd-policies file, got 2 for 1"),
    (["--sgd-lr-offsets", "-1"], "give one per --sgd-policies file, got 1 for 0"),
    (["--sgd-policies", "{low}", "--sgd-lr-offsets", "nan"], "nan is not a finite number of decades"),
])
def test_combine_refuses_bad_offsets_in_one_line_exit_2(files, tmp_path, capsys, args, fragment):
    low, high, _ = files
    out = tmp_path / "file.pt"
    args = [a.format(low=low) for a in args]
    assert main(["combine", low, high, "--from-lrs", "5e-3", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error: --sgd-lr-offsets:") and err.count("\n") == 1 and fragment in err
    assert not out.exists()
