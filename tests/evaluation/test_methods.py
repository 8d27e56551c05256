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


def test_onecycle_lr_only_plays_onecycles_lrs_and_leaves_adams_betas_alone():
    (lr_only,) = standard_methods(None, None, None, baselines=["onecycle-lr-only"])
    cycled = _lrs_and_beta1s(MethodSpec("onecycle", "onecycle"))
    kept = _lrs_and_beta1s(lr_only)
    assert [lr for lr, _ in kept] == [lr for lr, _ in cycled]
    assert {beta for _, beta in kept} == {0.9} and len({beta for _, beta in cycled}) > 2


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


def test_capped_schedules_change_only_at_decisions_and_by_at_most_the_cap():
    for shape in ("cosine", "linear"):
        lrs = _lrs(MethodSpec(f"{shape}-capped", "capped", {"shape": shape, "max_change": 0.05}))
        changes = [(i, b / a) for i, (a, b) in enumerate(zip(lrs, lrs[1:]), start=1) if b != a]
        assert changes and all(i % 5 == 0 for i, _ in changes)
        assert all(1 / 1.05 - 1e-12 <= ratio <= 1.0 for _, ratio in changes)


def test_capped_linear_follows_linear_where_the_cap_allows_and_falls_at_the_cap_near_the_end():
    from lrctl.evaluation.methods import capped_multipliers

    m = capped_multipliers("linear", steps=500, steps_per_action=5, max_change=0.05)
    assert m[0] == 1.0 and m[4] == 1.0 and m[5] == pytest.approx(0.99)
    assert m[250] == pytest.approx(0.5)  # 1% of the start per decision: under the cap
    assert m[500] == pytest.approx(m[495] / 1.05) and m[500] > 0.005  # the cap binds at the end


def test_capped_baselines_run_only_when_named():
    default = [m.name for m in standard_methods("p.pt", None, None, include_peers=False)]
    named = [m.name for m in standard_methods("p.pt", None, None, include_peers=False, baselines=["capped"],
                                              max_change=0.1)]
    assert "linear-capped" not in default
    assert named == ["learned", "cosine-capped", "linear-capped"]
    assert all(m.params["max_change"] == 0.1 for m in standard_methods(
        None, None, None, include_peers=False, baselines=["capped"], max_change=0.1))
