"""The policies shipped inside the package: which file each name gives, and that they load and act."""

import pytest

from lrctl.policy import PolicyFileError, TASK_DISTRIBUTION, load_policy, shipped_policy_path


def test_default_is_the_general_policy_trained_on_tasks():
    path = shipped_policy_path()
    assert path.name == "general.pt" and shipped_policy_path("general") == path
    assert load_policy(path).spec.setting == TASK_DISTRIBUTION


def test_a_setting_gets_its_own_policy_where_one_ships_else_the_general_one():
    assert shipped_policy_path("digits-mlp").name == "digits-mlp.pt"
    assert shipped_policy_path("fmnist-mlp") == shipped_policy_path()
    assert shipped_policy_path("fmnist-lenet5") == shipped_policy_path()


def test_unknown_name_lists_the_shipped_policies():
    with pytest.raises(PolicyFileError, match="shipped: digits-mlp, general"):
        shipped_policy_path("imagenet-vit")


@pytest.mark.parametrize("name", ["general", "digits-mlp"])
def test_shipped_policies_act_on_their_features(name):
    policy = load_policy(shipped_policy_path(name))
    assert policy.act([0.0] * len(policy.spec.feature_names)) in (0, 1, 2)


@pytest.mark.parametrize("setting", ["digits-mlp"])
def test_a_setting_policy_fits_its_setting_as_it_now_is(setting):
    from lrctl.config import env_config

    spec, env = load_policy(shipped_policy_path(setting)).spec, env_config(setting)
    assert (spec.child_steps, spec.steps_per_action, spec.optimizers) == (env.child_steps, env.steps_per_action,
                                                                          (env.optimizer,))


def test_shipped_policies_record_their_optimizers():
    for name in ("general", "digits-mlp"):
        assert load_policy(shipped_policy_path(name)).spec.optimizers == ("adam",)


def test_the_general_policy_acts_as_its_config_says():
    from pathlib import Path

    from lrctl.config import load_config
    from lrctl.features import feature_set

    env = load_config(Path(__file__).parents[1] / "configs" / "general.yaml").env
    spec = load_policy(shipped_policy_path()).spec
    assert (spec.action_base, spec.max_change, spec.action_mode) == (env.action_base, env.max_change, env.action_mode)
    assert spec.feature_names == feature_set(env.features)
