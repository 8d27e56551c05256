"""PolicyScheduler among torch's schedulers: a warm-up is one argument, and the composers that call
`step()` without the loss the policy needs refuse it with a line that says what to do."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ExponentialLR,
    LinearLR,
    SequentialLR,
)

from lrctl.deploy.scheduler import PolicyScheduler
from tests.policy_helpers import make_policy

STEPS, WARMUP = 30, 8


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    batches = [(torch.randn(16, 64, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(STEPS)]
    val = (torch.randn(32, 64, generator=g), torch.randint(0, 10, (32,), generator=g))
    return model, optimizer, batches, val


def _train(model, optimizer, batch) -> float:
    loss = F.cross_entropy(model(batch[0]), batch[1])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def test_a_warm_up_is_linear_lr_then_the_policy_as_if_started_after_it():
    policy = make_policy(child_steps=STEPS)
    model, optimizer, batches, val = _setup()
    scheduler = PolicyScheduler(optimizer, policy, model=model, val_data=val, total_steps=STEPS,
                                warmup_steps=WARMUP, warmup_start_factor=0.1)
    reference_model, reference_opt, _, _ = _setup()
    linear = LinearLR(reference_opt, start_factor=0.1, total_iters=WARMUP)
    lrs, expected = [], []
    for batch in batches[:WARMUP]:
        lrs.append(optimizer.param_groups[0]["lr"])
        expected.append(reference_opt.param_groups[0]["lr"])
        loss = _train(model, optimizer, batch)
        _train(reference_model, reference_opt, batch)
        linear.step()
        if len(lrs) == WARMUP:  # the warm-up's last step taken: what a policy started now would find
            reference_model, reference_opt = copy.deepcopy((model, optimizer))  # the optimizer on the copy
            for group in reference_opt.param_groups:
                del group["initial_lr"]
                group["lr"] = 1e-2
        scheduler.step(loss)
    assert lrs == pytest.approx(expected, rel=1e-12)
    # From here on: the policy's run, as a PolicyScheduler built after the warm-up over the steps left drives it.
    with pytest.warns(UserWarning, match="total_steps"):
        started_now = PolicyScheduler(reference_opt, policy, model=reference_model, val_data=val,
                                      total_steps=STEPS - WARMUP)
    ours, theirs = [], []
    for batch in batches[WARMUP:]:
        ours.append(optimizer.param_groups[0]["lr"])
        theirs.append(reference_opt.param_groups[0]["lr"])
        scheduler.step(_train(model, optimizer, batch))
        started_now.step(_train(reference_model, reference_opt, batch))
    assert ours == theirs and len(set(ours)) > 1


def test_a_warm_up_resumes_from_its_state_with_the_same_lrs():
    policy = make_policy(child_steps=STEPS)
    model, optimizer, batches, val = _setup()
    scheduler = PolicyScheduler(optimizer, policy, model=model, val_data=val, total_steps=STEPS, warmup_steps=WARMUP)
    whole = []
    for i, batch in enumerate(batches):
        if i == WARMUP // 2:
            saved = (copy.deepcopy(model), copy.deepcopy(optimizer.state_dict()), scheduler.state_dict())
        whole.append(optimizer.param_groups[0]["lr"])
        scheduler.step(_train(model, optimizer, batch))
    model, optimizer_state, scheduler_state = saved
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    resumed = PolicyScheduler(optimizer, policy, model=model, val_data=val, total_steps=STEPS, warmup_steps=WARMUP)
    optimizer.load_state_dict(optimizer_state)  # as every torch scheduler resumes: build, then load both
    resumed.load_state_dict(scheduler_state)
    later = []
    for batch in batches[WARMUP // 2:]:
        later.append(optimizer.param_groups[0]["lr"])
        resumed.step(_train(model, optimizer, batch))
    assert later == whole[WARMUP // 2:]


@pytest.mark.parametrize("policy_first", [False, True], ids=["warm-up first", "policy first"])
def test_sequential_lr_refuses_the_policy_at_construction(policy_first):
    model, optimizer, _, val = _setup()
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    policy = PolicyScheduler(optimizer, make_policy(child_steps=STEPS), model=model, val_data=val,
                             total_steps=STEPS)
    with pytest.raises(ValueError, match="warmup_steps"):
        SequentialLR(optimizer, [policy, warmup] if policy_first else [warmup, policy], milestones=[5])


def test_chained_scheduler_is_refused_at_its_first_step():
    model, optimizer, batches, val = _setup()
    policy = PolicyScheduler(optimizer, make_policy(child_steps=STEPS), model=model, val_data=val,
                             total_steps=STEPS)
    chained = ChainedScheduler([policy, ExponentialLR(optimizer, gamma=0.99)])
    _train(model, optimizer, batches[0])
    with pytest.raises(ValueError, match="ChainedScheduler call it without one"):
        chained.step()


@pytest.mark.parametrize("kwargs,fragment", [(dict(warmup_steps=STEPS), "leaves none"),
                                             (dict(warmup_steps=-1), "warmup_steps"),
                                             (dict(warmup_steps=2.5), "warmup_steps"),
                                             (dict(warmup_steps=4, warmup_start_factor=0.0), "warmup_start_factor")])
def test_a_warm_up_that_cannot_run_is_named(kwargs, fragment):
    model, optimizer, _, val = _setup()
    with pytest.raises(ValueError, match=fragment):
        PolicyScheduler(optimizer, make_policy(child_steps=STEPS), model=model, val_data=val, total_steps=STEPS,
                        **kwargs)
