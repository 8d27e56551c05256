"""A ceiling on the policy's LR relative to the run's initial LR (`env.max_lr_ratio`)."""

import copy
from dataclasses import asdict, replace

import pytest

from lrctl.config import ConfigError, env_config
from lrctl.deploy.actions import BASE_SHAPES, DISCRETE_DOWN, DISCRETE_UP, decision_lrs
from lrctl.deploy.policy import PolicyByInitialLR, load_policy, save_policy
from lrctl.deploy.spec_mapping import spec_of
from lrctl.envs import LRControlEnv
from tests.conftest import SMALL_ENV
from tests.policy_helpers import env_and_child, episode_lrs, make_policy, plain_loop

STEPS, EVERY = SMALL_ENV["child_steps"], SMALL_ENV["steps_per_action"]


def _policy_lrs(ratio: float, action: int, decisions: int = 6, initial_lr: float = 1e-3) -> list[float]:
    rule = env_config("digits-mlp", max_lr_ratio=ratio)
    lrs = [initial_lr]
    for d in range(decisions):
        lrs.append(decision_lrs(rule, lrs[-1], action, d * 5, 30, 5, initial_lr)[0])
    return lrs[1:]


def test_raising_stops_at_the_ceiling_and_without_one_goes_on():
    assert _policy_lrs(1.1, DISCRETE_UP) == pytest.approx([1.05e-3, 1.1e-3, 1.1e-3, 1.1e-3, 1.1e-3, 1.1e-3])
    assert _policy_lrs(0.0, DISCRETE_UP) == pytest.approx([1e-3 * 1.05 ** d for d in range(1, 7)])


def test_the_ceiling_never_stops_a_cut():
    assert _policy_lrs(1.0, DISCRETE_DOWN) == _policy_lrs(0.0, DISCRETE_DOWN)


def test_lr_max_still_binds_below_the_ceiling():
    rule = replace(env_config("digits-mlp", max_lr_ratio=10.0), lr_max=1.02e-3)
    assert decision_lrs(rule, 1e-3, DISCRETE_UP, 0, 30, 5, 1e-3)[0] == 1.02e-3


@pytest.mark.parametrize("bad,fragment", [(0.5, "must be 0 .off. or at least 1"), (-1.0, "must be 0 .off. or at least 1"),
                                          (float("nan"), "finite number"), (float("inf"), "finite number")])
def test_a_ceiling_below_the_initial_lr_or_not_a_number_is_a_config_error(bad, fragment):
    with pytest.raises(ConfigError, match=f"max_lr_ratio: .*{fragment}"):
        env_config("digits-mlp", max_lr_ratio=bad)


def test_with_ratio_one_over_a_decaying_base_raising_is_the_base_and_cutting_goes_below(digits_like):
    def applied(action):
        env = LRControlEnv("digits-mlp", data=digits_like, action_base="linear", max_lr_ratio=1.0, **SMALL_ENV)
        env.reset(seed=2, options={"initial_lr": 1e-2})
        return [env.step(action)[4]["lr"] for _ in range(env.n_decisions)]

    base = [1e-2 * BASE_SHAPES["linear"]((s + EVERY / 2) / STEPS) for s in range(0, STEPS, EVERY)]
    assert applied(DISCRETE_UP) == pytest.approx(base, rel=1e-12)
    assert all(c < b for c, b in zip(applied(DISCRETE_DOWN), base))


def test_the_policy_file_records_the_ceiling(tmp_path):
    assert spec_of(env_config("digits-mlp", max_lr_ratio=2.0)).max_lr_ratio == 2.0
    policy = make_policy(max_lr_ratio=1.5)
    save_policy(policy, tmp_path / "p.pt")
    assert load_policy(tmp_path / "p.pt").spec.max_lr_ratio == 1.5


def test_policy_scheduler_keeps_the_ceiling_exactly_as_the_environment(digits_like):
    policy = make_policy("discrete", features="scale_free_lr", seed=1, action_base="linear", max_lr_ratio=1.0)
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, "discrete", features="scale_free_lr",
                                                     action_base="linear", max_lr_ratio=1.0)
    env_lrs = episode_lrs(env, obs, policy)
    lrs, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), policy, 1e-3, total_steps=STEPS)
    assert lrs == env_lrs
    unbounded = make_policy("discrete", features="scale_free_lr", seed=1, action_base="linear")
    free_lrs, _, _ = plain_loop(digits_like, model, order, (vx, vy), unbounded, 1e-3, total_steps=STEPS)
    assert free_lrs != lrs and max(f / c for f, c in zip(free_lrs, lrs)) > 1  # it did bind here


def test_members_may_differ_in_their_ceilings_and_each_run_keeps_its_own():
    low, high = make_policy(seed=1), make_policy(seed=2, max_lr_ratio=1.0)
    both = PolicyByInitialLR([low, high], [5e-3])
    assert both.for_initial_lr(1e-2).spec.max_lr_ratio == 1.0 and both.for_initial_lr(1e-3).spec.max_lr_ratio == 0
    assert {k for k, v in asdict(low.spec).items() if asdict(high.spec)[k] != v} == {"max_lr_ratio"}
