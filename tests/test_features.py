"""Every observation feature against a hand computation on a tiny model."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from lrctl.config import FEATURE_SET_NAMES
from lrctl.deploy.features import (
    FEATURE_NAMES,
    FEATURE_SETS,
    TREND_WINDOW,
    FeatureTracker,
    check_feature_names,
    feature_set,
    forward_in_eval_mode,
    mean_train_loss,
)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = nn.Linear(3, 4)
    x = torch.randn(5, 3)
    y = torch.tensor([0, 1, 2, 3, 1])
    return model, x, y


def _by_hand(model, x, y):
    w = model.weight.detach().double().numpy()
    b = model.bias.detach().double().numpy()
    p = _softmax(x.double().numpy() @ w.T + b)
    loss = -np.mean(np.log(p[np.arange(len(y)), y.numpy()]))
    return p, loss, w


def _observe(tracker, model, layer, x, y, train_loss, lr, fraction):
    """One model's observation, as the scheduler makes it (K = 1)."""
    obs, val = tracker.observe(forward_in_eval_mode(model, x).unsqueeze(0), y.unsqueeze(0),
                               layer.weight.detach().unsqueeze(0),
                               None if train_loss is None else train_loss.reshape(1), np.array([lr]),
                               np.array([fraction * 10]), np.array([10]), 1,  # steps done of a budget of 10
                               starting=[0] if train_loss is None else None)
    return obs[0], float(val[0])


def test_first_observation_matches_hand_computation(tiny):
    model, x, y = tiny
    tracker = FeatureTracker(1)
    obs, val_loss = _observe(tracker, model, model, x, y, None, 2e-3, 0.0)
    p, loss, w = _by_hand(model, x, y)
    expected = dict(train_loss=loss, val_loss=loss, pred_var=np.var(p), pred_change_var=0.0,
                    output_weight_mean=w.mean(), output_weight_var=np.var(w), log10_lr=math.log10(2e-3),
                    budget_fraction=0.0)
    assert obs.dtype == np.float32
    assert list(tracker.feature_names) == list(FEATURE_NAMES)
    for name, value in zip(FEATURE_NAMES, obs):
        assert value == pytest.approx(expected[name], rel=1e-5, abs=1e-7), name
    assert val_loss == pytest.approx(loss, rel=1e-6)


def test_change_variance_and_train_loss_after_an_update(tiny):
    model, x, y = tiny
    tracker = FeatureTracker(1)
    _observe(tracker, model, model, x, y, None, 1e-3, 0.0)
    p1, _, _ = _by_hand(model, x, y)
    with torch.no_grad():
        model.weight.add_(0.3)
    losses = torch.tensor([1.0, 2.0, 4.0])
    obs, _ = _observe(tracker, model, model, x, y, mean_train_loss(losses), 1e-3, 0.5)
    p2, loss2, _ = _by_hand(model, x, y)
    named = dict(zip(FEATURE_NAMES, obs))
    assert named["pred_change_var"] == pytest.approx(np.var(p2 - p1), rel=1e-5)
    assert named["pred_change_var"] > 0
    assert named["train_loss"] == pytest.approx(7 / 3, rel=1e-6)
    assert named["val_loss"] == pytest.approx(loss2, rel=1e-5)
    assert named["budget_fraction"] == 0.5


def test_feature_subset_is_returned_in_the_asked_order(tiny):
    model, x, y = tiny
    tracker = FeatureTracker(1, feature_names=("log10_lr", "val_loss"))
    obs, val_loss = _observe(tracker, model, model, x, y, None, 1e-2, 0.1)
    assert obs[0] == pytest.approx(-2.0)
    assert obs[1] == pytest.approx(val_loss, rel=1e-6)


def test_unknown_feature_is_rejected_by_name():
    with pytest.raises(ValueError, match="gradient_norm"):
        check_feature_names(["val_loss", "gradient_norm"])


def test_validation_pass_leaves_batchnorm_statistics_and_mode_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    model.train()
    bn = model[1]
    before = (bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked))
    _observe(FeatureTracker(1), model, model[3], torch.randn(16, 3) * 5 + 3, torch.zeros(16, dtype=torch.long),
             None, 1e-3, 0.0)
    assert torch.equal(bn.running_mean, before[0])
    assert torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == before[2]
    assert model.training


def test_starting_one_child_keeps_the_others_previous_predictions():
    torch.manual_seed(0)
    first, later = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    labels = torch.randint(0, 4, (2, 5))
    weight = torch.randn(2, 4, 3)
    ones = np.ones(2)
    tracker = FeatureTracker(2)
    tracker.observe(first, labels, weight, None, ones * 1e-3, ones * 0, ones * 4, 1, starting=[0, 1])
    tracker.observe(later, labels, weight, None, ones * 1e-3, ones * 0, ones * 4, 1, starting=[1])  # child 1 restarts
    obs, _ = tracker.observe(later, labels, weight, torch.ones(2, dtype=torch.float64), ones * 1e-3, ones * 2,
                             ones * 4, 1)
    change = dict(zip(FEATURE_NAMES, obs.T))["pred_change_var"]
    p_first, p_later = first[0].softmax(1), later[0].softmax(1)
    assert change[0] == pytest.approx(float((p_later - p_first).var(correction=0)), rel=1e-5)  # since its start
    assert change[1] == 0.0  # since its restart


def test_config_names_every_feature_set():
    assert FEATURE_SET_NAMES == tuple(FEATURE_SETS)


def test_scale_free_features_by_hand():
    """log ratios to the first validation loss and the initial LR, gap, trend over the window."""
    torch.manual_seed(0)
    labels = torch.randint(0, 4, (1, 6))
    weight = torch.randn(1, 4, 3)
    tracker = FeatureTracker(1, feature_set("scale_free"))
    logits = [torch.randn(1, 6, 4) * (1 + t) for t in range(TREND_WINDOW + 3)]
    val = [float(nn.functional.cross_entropy(z[0], labels[0])) for z in logits]
    first, _ = tracker.observe(logits[0], labels, weight, None, np.array([1e-3]), np.array([0]), np.array([10]), 1,
                               starting=[0])
    assert first[0] == pytest.approx([0, 0, 0, 0, 0, 0], abs=1e-6)  # the episode's own reference point
    for t in range(1, len(logits)):
        train = torch.tensor([0.5 * t], dtype=torch.float64)
        obs, _ = tracker.observe(logits[t], labels, weight, train, np.array([2e-3]), np.array([t]), np.array([10]), 1)
        named = dict(zip(feature_set("scale_free"), obs[0]))
        assert named["log_val_ratio"] == pytest.approx(math.log(val[t] / val[0]), rel=1e-5, abs=1e-6)
        assert named["log_train_ratio"] == pytest.approx(math.log(0.5 * t / val[0]), rel=1e-5)
        assert named["log_lr_ratio"] == pytest.approx(math.log(2.0), rel=1e-6)
        assert named["val_train_gap"] == pytest.approx(math.log(val[t]) - math.log(0.5 * t), rel=1e-5, abs=1e-6)
        back = val[max(0, t - TREND_WINDOW)]
        assert named["log_val_trend"] == pytest.approx((math.log(val[t]) - math.log(back)) / TREND_WINDOW,
                                                       rel=1e-5, abs=1e-6)
        assert named["budget_fraction"] == pytest.approx(t / 10)


def test_scale_free_features_do_not_change_with_the_scale_of_the_learning_rate():
    """The same curve from another initial LR, moved by the same factors, gives the same observations."""
    ratios = []
    for scale in (1.0, 7.0):
        tracker = FeatureTracker(1, feature_set("scale_free"))
        logits = torch.zeros(1, 4, 3)
        labels = torch.zeros(1, 4, dtype=torch.long)
        weight = torch.zeros(1, 3, 2)
        tracker.observe(logits, labels, weight, None, np.array([1e-2 * scale]), np.zeros(1), np.full(1, 10), 1,
                        starting=[0])
        shifted = logits.clone()
        shifted[..., 0] += 1.0
        obs, val = tracker.observe(shifted, labels, weight, torch.tensor([float(val_at(shifted)) * 1.2],
                                   dtype=torch.float64), np.array([1.1e-2 * scale]), np.full(1, 5),
                                   np.full(1, 10), 1)
        ratios.append(obs[0])
    np.testing.assert_allclose(ratios[0], ratios[1], rtol=1e-6)


def test_the_lr_set_adds_log10_of_the_lr_so_initial_lrs_are_told_apart_from_the_start():
    assert feature_set("scale_free_lr")[:-1] == feature_set("scale_free")
    tracker = FeatureTracker(2, feature_set("scale_free_lr"))
    logits = torch.randn(1, 4, 3).expand(2, 4, 3).clone()  # two children at the same point of training
    labels, weight = torch.zeros(2, 4, dtype=torch.long), torch.zeros(2, 3, 2)
    lrs = np.array([1e-2, 1e-4])
    obs, _ = tracker.observe(logits, labels, weight, None, lrs, np.zeros(2), np.full(2, 10), 1, starting=[0, 1])
    assert obs[:, -1] == pytest.approx([-2.0, -4.0], rel=1e-6)
    assert obs[0, :-1] == pytest.approx(obs[1, :-1], rel=1e-6)  # the scale-free part cannot tell them apart
    obs, _ = tracker.observe(logits, labels, weight, torch.ones(2, dtype=torch.float64), lrs * 1.05, np.ones(2),
                             np.full(2, 10), 1)
    assert obs[:, -1] == pytest.approx(np.log10(lrs * 1.05), rel=1e-6)


def val_at(logits):
    return nn.functional.cross_entropy(logits[0], torch.zeros(logits.shape[1], dtype=torch.long))


def test_feature_set_name_reads_a_policy_files_names_back():
    from lrctl.deploy.features import FEATURE_SETS, feature_set_name

    assert all(feature_set_name(names) == name for name, names in FEATURE_SETS.items())
    with pytest.raises(ValueError, match="none of the sets"):
        feature_set_name(["val_loss", "log_lr"])
