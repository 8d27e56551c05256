"""CLARA: the Adam reference value, its behaviour on noise, consistent and oscillating gradients."""

import copy

import pytest
import torch

from lrctl.baselines.clara import (
    ClaraAdam,
    ClaraSGD,
    adam_reference,
    adam_reference_closed_form,
    sgd_reference,
)

# The authors' published Monte Carlo values (c = 0.2, betas (0.9, 0.999)): D, mu_A, sigma_A.
PUBLISHED = [(2, 0.5958, 0.2553), (15, 0.6729, 0.0814), (650, 0.6827, 0.0119),
             (235_146, 0.6825, 0.0006), (2_193_226, 0.6825, 0.0002)]


@pytest.mark.parametrize("size,mu,sigma", PUBLISHED)
def test_adam_reference_matches_the_published_table(size, mu, sigma):
    assert abs(adam_reference(size) - mu) <= sigma


def test_closed_form_value_and_sgd_reference():
    assert adam_reference_closed_form(0.2, 0.9) == pytest.approx(0.6825, abs=5e-5)
    assert sgd_reference(0.2) == pytest.approx(0.2 / 1.8)


def _run(opt_cls, grads, lr=1e-2, **kwargs):
    p = torch.nn.Parameter(torch.zeros(grads[0].shape))
    opt = opt_cls([p], lr=lr, **kwargs)
    lrs = []
    for g in grads:
        p.grad = g.clone()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def test_pure_noise_keeps_corrected_adam_level_while_the_original_rule_grows():
    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(2000, generator=g) for _ in range(1000)]
    corrected = _run(ClaraAdam, noise, damping=1e-2)
    original = _run(ClaraAdam, noise, damping=1e-2, corrected=False)
    assert 0.5 < corrected[-1] / 1e-2 < 2.0
    assert original[-1] / 1e-2 > 100.0


@pytest.mark.parametrize("opt_cls", [ClaraSGD, ClaraAdam])
def test_consistent_gradients_grow_the_lr(opt_cls):
    grads = [torch.ones(50) + 0.01 * torch.randn(50, generator=torch.Generator().manual_seed(i)) for i in range(200)]
    lrs = _run(opt_cls, grads, damping=1e-2)
    assert lrs[-1] > 2 * 1e-2


@pytest.mark.parametrize("opt_cls", [ClaraSGD, ClaraAdam])
def test_oscillating_gradients_shrink_the_lr(opt_cls):
    base = torch.randn(50, generator=torch.Generator().manual_seed(0))
    grads = [base * (-1) ** i for i in range(200)]
    lrs = _run(opt_cls, grads, damping=1e-2)
    assert lrs[-1] < 0.5 * 1e-2


def test_unit_step_moves_each_tensor_by_lr_and_plain_step_by_the_gradient():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = ClaraSGD([p], lr=0.1, damping=1e-3)
    p.grad = torch.tensor([3.0, 4.0, 0.0])
    opt.step()
    assert float(p.detach().norm()) == pytest.approx(0.1)
    q = torch.nn.Parameter(torch.zeros(3))
    plain = ClaraSGD([q], lr=0.1, unit_step=False)
    q.grad = torch.tensor([3.0, 4.0, 0.0])
    plain.step()
    assert torch.allclose(q.detach(), torch.tensor([-0.3, -0.4, 0.0]))


def test_clamp_bounds_the_lr():
    grads = [torch.ones(20) for _ in range(300)]
    lrs = _run(ClaraSGD, grads, damping=0.1, lr_max=0.05)
    assert max(lrs) == 0.05


@pytest.mark.parametrize("opt_cls", [ClaraSGD, ClaraAdam])
def test_state_dict_round_trip_continues_identically(opt_cls):
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    data = [(torch.randn(8, 5), torch.randn(8, 3)) for _ in range(20)]

    def train(m, opt, batches):
        for x, y in batches:
            opt.zero_grad()
            torch.nn.functional.mse_loss(m(x), y).backward()
            opt.step()

    opt = opt_cls(model.parameters(), lr=1e-2, damping=1e-2)
    train(model, opt, data[:10])
    twin = copy.deepcopy(model)
    twin_opt = opt_cls(twin.parameters(), lr=1.0)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    train(model, opt, data[10:])
    train(twin, twin_opt, data[10:])
    assert torch.equal(model.weight, twin.weight)
    assert opt.param_groups[0]["lr"] == twin_opt.param_groups[0]["lr"]


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="damping"):
        ClaraSGD([torch.nn.Parameter(torch.zeros(1))], damping=0)
    with pytest.raises(ValueError, match="c must"):
        ClaraAdam([torch.nn.Parameter(torch.zeros(1))], c=1.5)
