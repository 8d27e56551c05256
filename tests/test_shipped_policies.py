"""The policies shipped inside the package: which file each name gives, and that they load and act."""

from pathlib import Path

import pytest

from lrctl.config import load_config
from lrctl.deploy.features import feature_set
from lrctl.deploy.policy import (
    TASK_DISTRIBUTION,
    PolicyByInitialLR,
    PolicyFileError,
    load_policy,
    shipped_policy_path,
)

CONFIGS = Path(__file__).parents[1] / "configs"
MEMBER_CONFIGS = ("general.yaml", "experiments/general_bounded.yaml", "general.yaml", "experiments/general_sgd.yaml",
                  "experiments/general_short_continuous.yaml")
"""The config of each member: the low-start one is held twice, as it drives Adam runs and SGD runs."""


def test_default_is_the_general_policy_trained_on_tasks():
    path = shipped_policy_path()
    assert path.name == "general.pt" and shipped_policy_path("general") == path
    assert load_policy(path).spec.setting == TASK_DISTRIBUTION


@pytest.mark.parametrize("setting", ["digits-mlp", "fmnist-mlp", "fmnist-lenet5"])
def test_every_setting_gets_the_general_policy(setting):
    assert shipped_policy_path(setting) == shipped_policy_path()


def test_unknown_name_lists_the_shipped_policies():
    with pytest.raises(PolicyFileError, match="shipped: general"):
        shipped_policy_path("imagenet-vit")


def test_the_general_policy_hands_high_starts_to_its_bounded_member():
    general = load_policy(shipped_policy_path())
    assert isinstance(general, PolicyByInitialLR) and len(general.members) == 5
    (hand_over,) = general.edges
    low, high, _, _, _ = general.members
    assert 1e-3 < hand_over <= 1e-2  # inside the training range of initial LRs, above the middle start
    assert general.for_initial_lr(1e-3) is low and general.for_initial_lr(1e-2) is high
    for member in general.members:  # members may observe different features
        action = member.act([0.0] * len(member.spec.feature_names))
        assert action in (0, 1, 2) if member.spec.action_mode == "discrete" else -1 <= action.item() <= 1


def test_the_general_policy_hands_high_sgd_starts_to_its_member_trained_on_sgd():
    general = load_policy(shipped_policy_path())
    _, high, low, sgd, _ = general.members
    assert sgd.spec.optimizers == ("adam", "sgd") and low.spec.optimizers == high.spec.optimizers == ("adam",)
    (hand_over,) = general.hand_over_by_optimizer["sgd"].edges
    assert 1e-3 < hand_over < 1e-2
    assert general.for_initial_lr(1e-3, "sgd") is low and general.for_initial_lr(1e-2, "sgd") is sgd
    assert high not in [general.for_initial_lr(lr, "sgd") for lr in (1e-4, 1e-3, 1e-2, 1e-1)]


def test_the_general_policy_deploys_its_members_with_the_cap_per_budget_of_its_model_card():
    members = load_policy(shipped_policy_path()).members
    assert [m.spec.cap_decisions for m in members] == [100, 100, 100, 100, 200]
    assert [load_config(CONFIGS / c).env.cap_decisions for c in MEMBER_CONFIGS] == [0, 0, 0, 0, 200]


def test_on_adam_runs_the_low_start_member_cuts_at_twice_the_cap_and_on_sgd_runs_as_it_climbs():
    general = load_policy(shipped_policy_path())
    adam_low, _, sgd_low, _, _ = general.members
    assert [m.spec.cut_cap_decisions for m in general.members] == [200, 0, 0, 0, 400]
    assert general.for_initial_lr(1e-3, "adam") is adam_low and general.for_initial_lr(1e-3, "sgd") is sgd_low
    assert all(a.equal(b) for a, b in zip(adam_low.actor.state_dict().values(), sgd_low.actor.state_dict().values()))
    assert [load_config(CONFIGS / c).env.cut_cap_decisions for c in MEMBER_CONFIGS] == [0, 0, 0, 0, 400]


def test_each_member_of_the_general_policy_acts_as_its_config_says():
    members = load_policy(shipped_policy_path()).members
    for member, config in zip(members, MEMBER_CONFIGS, strict=True):
        spec, env = member.spec, load_config(CONFIGS / config).env
        assert (spec.action_base, spec.max_change, spec.action_mode, spec.max_lr_ratio) == \
            (env.action_base, env.max_change, env.action_mode, env.max_lr_ratio)
        assert spec.feature_names == feature_set(env.features)
        assert spec.optimizers == tuple(env.tasks.optimizers)


def test_on_sgd_runs_the_low_start_member_sees_the_lr_one_decade_lower():
    general = load_policy(shipped_policy_path())
    assert [m.spec.log10_lr_offset for m in general.members] == [0.0, 0.0, -1.0, 0.0, 0.0]
    assert general.for_initial_lr(1e-3, "sgd").spec.log10_lr_offset == -1.0


def test_adam_runs_of_short_budgets_go_to_the_member_trained_on_them_from_every_start():
    general = load_policy(shipped_policy_path())
    low, high, _, _, short = general.members
    assert general.short_budgets.steps == 300 and short.spec.optimizers == ("adam",)
    assert general.for_initial_lr(1e-3, "adam", 200) is short and general.for_initial_lr(1e-3, "adam", 300) is low
    assert general.for_initial_lr(1e-2, "adam", 200) is short and general.for_initial_lr(1e-2, "adam", 300) is high
    assert general.for_initial_lr(1e-3, "sgd", 200) is general.members[2]
