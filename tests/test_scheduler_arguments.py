"""PolicyScheduler names the bad argument: shapes, dtypes, budgets, optimizers, foreign state dicts."""

from dataclasses import replace

import pytest
import torch
from torch import nn

from lrctl.deploy.scheduler import PolicyScheduler
from tests.policy_helpers import make_policy


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def _val(n=8):
    return torch.randn(n, 64), torch.randint(0, 10, (n,))


def _scheduler(policy=None, optimizer=None, model=None, **kwargs):
    model = model or _model()
    optimizer = optimizer or torch.optim.Adam(model.parameters(), lr=1e-3)
    kwargs.setdefault("val_data", _val())
    return PolicyScheduler(optimizer, policy or make_policy(), model=model, **kwargs)


BAD_ARGUMENTS = {
    "labels-of-another-length": (dict(val_data=(torch.randn(8, 64), torch.randint(0, 10, (5,)))), "y_val"),
    "float-labels": (dict(val_data=(torch.randn(8, 64), torch.rand(8))), "integer class labels"),
    "labels-beyond-the-outputs": (dict(val_data=(torch.randn(8, 64), torch.full((8,), 12))), "0..9"),
    "empty-batch": (dict(val_data=(torch.randn(0, 64), torch.zeros(0, dtype=torch.long))), "at least one"),
    "integer-inputs": (dict(val_data=(torch.ones(8, 64, dtype=torch.long), torch.zeros(8, dtype=torch.long))),
                       "floating-point"),
    "not-a-pair": (dict(val_data=torch.randn(8, 64)), "pair of tensors"),
    "nan-total-steps": (dict(total_steps=float("nan")), "total_steps"),
    "zero-total-steps": (dict(total_steps=0), "total_steps"),
    "fractional-steps-per-action": (dict(steps_per_action=2.5), "steps_per_action"),
    "bool-total-steps": (dict(total_steps=True), "total_steps"),
    "inputs-the-model-cannot-take": (dict(val_data=(torch.randn(8, 32), torch.randint(0, 10, (8,)))), "val_data"),
    "output-layer-of-another-model": (dict(output_layer=nn.Linear(16, 10)), "not a module of model"),
}


@pytest.mark.parametrize("name", BAD_ARGUMENTS)
def test_bad_argument_is_named(name):
    kwargs, fragment = BAD_ARGUMENTS[name]
    with pytest.raises((ValueError, TypeError), match=fragment):
        _scheduler(**kwargs)


def test_optimizer_without_parameter_groups_is_named():
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    optimizer.param_groups.clear()
    with pytest.raises(ValueError, match="no parameter groups"):
        _scheduler(optimizer=optimizer, model=model)


def test_optimizer_with_a_non_positive_lr_is_named():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    with pytest.raises(ValueError, match="learning rate"):
        _scheduler(optimizer=optimizer, model=model)


def test_a_policy_trained_with_adam_warns_on_sgd_and_not_on_adamw():
    policy = make_policy()
    policy.spec = replace(policy.spec, optimizers=("adam",))
    model = _model()
    with pytest.warns(UserWarning, match="trained with adam, not SGD"):
        _scheduler(policy, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9), model)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _scheduler(policy, torch.optim.AdamW(model.parameters(), lr=1e-3), model)


def test_foreign_or_broken_state_dict_is_refused_before_anything_changes():
    scheduler = _scheduler()
    before = scheduler.state_dict()
    with pytest.raises(ValueError, match="missing"):
        scheduler.load_state_dict({"last_epoch": 3})
    with pytest.raises(ValueError, match="total_steps"):
        scheduler.load_state_dict({**before, "total_steps": 0})
    assert scheduler.state_dict()["last_epoch"] == before["last_epoch"]
    assert scheduler.total_steps == before["total_steps"]
