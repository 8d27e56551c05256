"""Each baseline moves the LR as its definition says, on a tiny model."""

import pytest
import torch
from torch import nn

from lrctl.evaluation.methods import Budget, MethodSpec, build_driver, standard_methods

STEPS = 40


def _lrs_and_beta1s(spec, initial_lr=1e-2):
    """Per step, the LR a method gives Adam and Adam's first beta at that step."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    budget = Budget(STEPS, 5, torch.randn(8, 4), torch.randint(0, 3, (8,)))
    optimizer = torch.optim.Adam(model.parameters(), lr=initial_lr)
    driver = build_driver(spec, model, optimizer, initial_lr, budget)
    seen = []
    for step in range(1, STEPS + 1):
        seen.append((driver.lr, driver.optimizer.param_groups[0].get("betas", (None,))[0]))
        loss = nn.functional.cross_entropy(model(torch.randn(8, 4)), torch.randint(0, 3, (8,)))
        driver.optimizer.zero_grad()
        loss.backward()
        driver.optimizer.step()
        driver.after_step(loss.item())
        if step % 5 == 0:
            driver.after_validation(1.0)
    return seen


def _lrs(spec, initial_lr=1e-2):
    return [lr for lr, _ in _lrs_and_beta1s(spec, initial_lr)]


def test_constant_keeps_the_lr():
    assert set(_lrs(MethodSpec("constant", "constant"))) == {1e-2}


def test_step_decay_divides_by_ten_at_half_and_three_quarters():
    lrs = _lrs(MethodSpec("step-decay", "step-decay"))
    assert lrs[19] == pytest.approx(1e-2) and lrs[20] == pytest.approx(1e-3) and lrs[30] == pytest.approx(1e-4)


def test_cosine_and_linear_decay_towards_zero():
    for kind in ("cosine", "linear"):
        lrs = _lrs(MethodSpec(kind, kind))
        assert lrs[0] == pytest.approx(1e-2) and lrs[-1] < 1e-3
        assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_onecycle_peaks_at_the_initial_lr():
    lrs = _lrs(MethodSpec("onecycle", "onecycle"))
    assert max(lrs) == pytest.approx(1e-2, rel=1e-2) and lrs[0] < 1e-3 and lrs[-1] < 1e-4


def test_plateau_halves_when_validation_stalls():
    lrs = _lrs(MethodSpec("plateau", "plateau"))  # validation loss is a constant 1.0
    assert lrs[-1] == pytest.approx(5e-3)


def test_clara_moves_the_lr():
    lrs = _lrs(MethodSpec("clara", "clara", {"damping": 0.1}))
    assert lrs[-1] != lrs[0]


def test_standard_set_has_every_required_baseline():
    names = [m.name for m in standard_methods("p.pt", 1e-3, 1e-3, include_peers=False)]
    assert names == ["learned", "constant", "best-constant", "step-decay", "cosine", "linear", "onecycle",
                     "plateau", "clara-adam"]


def test_d_adaptation_sets_its_own_step_size():
    pytest.importorskip("dadaptation")
    lrs = _lrs(MethodSpec("d-adaptation", "d-adaptation"), initial_lr=1e-2)  # the initial LR plays no part
    assert lrs[0] == pytest.approx(1e-6) and max(lrs) > 1e-4  # from its d0 up, by its own estimate (d x lr=1)


def test_a_tuned_schedule_starts_from_its_own_lr_whatever_the_initial_lr():
    lrs = _lrs(MethodSpec("tuned-oracle", "cosine", {"lr": 3e-3}), initial_lr=1e-4)
    assert lrs[0] == pytest.approx(3e-3) and lrs[-1] < 3e-4
