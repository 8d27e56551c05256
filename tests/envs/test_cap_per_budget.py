"""A cap set per budget rather than per decision (`env.cap_decisions`): the LR can move as far over a
short budget as over a long one."""

import copy
import math
from dataclasses import asdict, replace

import pytest
import torch
from torch import nn

from lrctl.config import ConfigError, env_config
from lrctl.deploy.actions import DISCRETE_DOWN, DISCRETE_UP, decision_cap, decision_lrs
from lrctl.deploy.policy import PolicyByInitialLR, load_policy, save_policy
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.deploy.spec_mapping import spec_of
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV
from tests.policy_helpers import env_and_child, episode_lrs, make_policy, plain_loop

STEPS, EVERY = SMALL_ENV["child_steps"], SMALL_ENV["steps_per_action"]


def _climb(cap_decisions: int, budget: int, action: int = DISCRETE_UP, every: int = 5) -> float:
    """The policy's LR after every decision of `budget` steps took `action`, from 1."""
    rule = replace(env_config("digits-mlp", max_change=0.1, cap_decisions=cap_decisions), lr_min=1e-30, lr_max=1e30)
    lr = 1.0
    for steps_done in range(0, budget, every):
        lr = decision_lrs(rule, lr, action, steps_done, budget, every, 1.0)[0]
    return lr


def test_without_it_every_decision_is_capped_at_max_change():
    rule = env_config("digits-mlp", max_change=0.1)
    assert decision_cap(rule, 200, 5) == decision_cap(rule, 4000, 5) == 0.1
    assert _climb(0, 200) == pytest.approx(1.1 ** 40) and _climb(0, 800) == pytest.approx(1.1 ** 160)


@pytest.mark.parametrize("budget", [100, 200, 500, 800, 3000])
def test_with_it_the_whole_budget_climbs_or_falls_as_far_as_cap_decisions_decisions_at_max_change(budget):
    assert _climb(100, budget) == pytest.approx(1.1 ** 100, rel=1e-9)
    assert _climb(100, budget, DISCRETE_DOWN) == pytest.approx(1.1 ** -100, rel=1e-9)


def test_at_cap_decisions_decisions_the_cap_is_max_change_shorter_budgets_get_more():
    rule = env_config("digits-mlp", max_change=0.1, cap_decisions=100)
    assert decision_cap(rule, 500, 5) == pytest.approx(0.1)
    assert decision_cap(rule, 200, 5) == pytest.approx(1.1 ** 2.5 - 1) and decision_cap(rule, 1000, 5) < 0.1
    assert decision_cap(rule, 12, 5) == pytest.approx(1.1 ** (100 / 3) - 1)  # a last, shorter interval counts


@pytest.mark.parametrize("bad", [-1, 2.5, True, "100"])
def test_a_cap_decisions_that_is_not_a_count_is_a_config_error(bad):
    with pytest.raises(ConfigError, match=f"cap_decisions: .* got {bad!r}"):
        env_config("digits-mlp", cap_decisions=bad)


def test_the_environment_moves_the_lr_by_the_cap_of_its_budget(digits_like):
    env = LRControlEnv("digits-mlp", data=digits_like, max_change=0.05, cap_decisions=2, **SMALL_ENV)
    env.reset(seed=2, options={"initial_lr": 1e-3})
    lrs = [env.step(DISCRETE_UP)[4]["lr"] for _ in range(env.n_decisions)]
    assert lrs == pytest.approx([1e-3 * 1.05 ** (2 * (d + 1) / 4) for d in range(4)], rel=1e-12)


def test_the_policy_file_records_it_and_a_file_without_it_caps_every_decision(tmp_path):
    assert spec_of(env_config("digits-mlp", cap_decisions=60)).cap_decisions == 60
    save_policy(make_policy(cap_decisions=60), tmp_path / "p.pt")
    assert load_policy(tmp_path / "p.pt").spec.cap_decisions == 60
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    del data["spec"]["cap_decisions"]
    torch.save(data, tmp_path / "older.pt")
    assert load_policy(tmp_path / "older.pt").spec.cap_decisions == 0


def test_policy_scheduler_caps_exactly_as_the_environment(digits_like):
    policy = make_policy("discrete", features="scale_free_lr", seed=1, action_base="linear", cap_decisions=2)
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, "discrete", features="scale_free_lr",
                                                     action_base="linear", cap_decisions=2)
    env_lrs = episode_lrs(env, obs, policy)
    lrs, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), policy, 1e-3, total_steps=STEPS)
    assert lrs == env_lrs
    per_decision = make_policy("discrete", features="scale_free_lr", seed=1, action_base="linear")
    other_lrs, _, _ = plain_loop(digits_like, model, order, (vx, vy), per_decision, 1e-3, total_steps=STEPS)
    assert other_lrs != lrs


def test_policy_scheduler_without_total_steps_warns_that_the_cap_comes_from_the_default_budget():
    model = nn.Sequential(nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.warns(UserWarning, match="sets its cap per decision from total_steps, which defaults to 20"):
        PolicyScheduler(optimizer, make_policy(features="scale_free_lr", cap_decisions=100), model=model,
                        val_data=(torch.randn(16, 64), torch.randint(0, 10, (16,))))


def test_members_may_differ_in_it_and_each_run_keeps_its_own():
    low, high = make_policy(seed=1, cap_decisions=100), make_policy(seed=2)
    both = PolicyByInitialLR([low, high], [5e-3])
    assert both.for_initial_lr(1e-3).spec.cap_decisions == 100 and both.for_initial_lr(1e-2).spec.cap_decisions == 0
    assert {k for k, v in asdict(low.spec).items() if asdict(high.spec)[k] != v} == {"cap_decisions"}
    assert math.isclose(decision_cap(both.for_initial_lr(1e-3).spec, 20, 5), 1.05 ** 25 - 1)
