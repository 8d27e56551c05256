"""A cap for cuts apart from the cap for climbs (`env.cut_cap_decisions`): with the cap set per budget,
decisions that lower the LR may move it by more than those that raise it."""

import copy
from dataclasses import replace

import pytest
import torch

from lrctl.cli import main
from lrctl.config import ConfigError, env_config
from lrctl.deploy.actions import DISCRETE_DOWN, DISCRETE_KEEP, DISCRETE_UP, decision_cap, decision_lrs
from lrctl.deploy.policy import load_policy, save_policy, with_cap_decisions
from lrctl.deploy.spec_mapping import spec_of
from tests.conftest import SMALL_ENV
from tests.policy_helpers import env_and_child, episode_lrs, make_policy, plain_loop

RULE = env_config("digits-mlp", max_change=0.1, cap_decisions=100, cut_cap_decisions=200)


def _after_every_decision(action: int, budget: int = 500, every: int = 5) -> float:
    rule = replace(RULE, lr_min=1e-30, lr_max=1e30)
    lr = 1.0
    for steps_done in range(0, budget, every):
        lr = decision_lrs(rule, lr, action, steps_done, budget, every, 1.0)[0]
    return lr


def test_cuts_move_as_far_as_cut_cap_decisions_decisions_climbs_as_cap_decisions():
    assert decision_cap(RULE, 500, 5) == pytest.approx(0.1)
    assert decision_cap(RULE, 500, 5, cutting=True) == pytest.approx(1.1 ** 2 - 1)
    assert _after_every_decision(DISCRETE_UP) == pytest.approx(1.1 ** 100, rel=1e-9)
    assert _after_every_decision(DISCRETE_DOWN) == pytest.approx(1.1 ** -200, rel=1e-9)
    assert _after_every_decision(DISCRETE_KEEP) == 1.0


def test_without_it_cuts_are_capped_as_climbs():
    rule = env_config("digits-mlp", max_change=0.1, cap_decisions=100)
    assert decision_cap(rule, 200, 5, cutting=True) == decision_cap(rule, 200, 5)


@pytest.mark.parametrize("options", [{"cut_cap_decisions": -1, "cap_decisions": 100}, {"cut_cap_decisions": 200}])
def test_a_cut_cap_that_is_not_a_count_or_has_no_cap_per_budget_is_a_config_error(options):
    with pytest.raises(ConfigError, match="cut_cap_decisions: must be 0 .* got"):
        env_config("digits-mlp", **options)


def test_the_policy_file_records_it_and_a_file_without_it_cuts_as_it_climbs(tmp_path):
    assert spec_of(RULE).cut_cap_decisions == 200
    save_policy(with_cap_decisions(make_policy(), 100, 200), tmp_path / "p.pt")
    assert load_policy(tmp_path / "p.pt").spec.cut_cap_decisions == 200
    data = torch.load(tmp_path / "p.pt", weights_only=True)
    del data["spec"]["cut_cap_decisions"]
    torch.save(data, tmp_path / "older.pt")
    assert load_policy(tmp_path / "older.pt").spec.cut_cap_decisions == 0


def test_policy_scheduler_cuts_exactly_as_the_environment(digits_like):
    policy = with_cap_decisions(make_policy("discrete", features="scale_free_lr", seed=4, action_base="linear"), 2, 6)
    env, obs, (model, order, vx, vy) = env_and_child(digits_like, "discrete", features="scale_free_lr",
                                                     action_base="linear", cap_decisions=2, cut_cap_decisions=6)
    env_lrs = episode_lrs(env, obs, policy)
    lrs, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), policy, 1e-3,
                           total_steps=SMALL_ENV["child_steps"])
    assert lrs == env_lrs
    same_caps = with_cap_decisions(policy, 2, 0)
    other_lrs, _, _ = plain_loop(digits_like, model, order, (vx, vy), same_caps, 1e-3,
                                 total_steps=SMALL_ENV["child_steps"])
    assert other_lrs != lrs


@pytest.fixture
def member_files(tmp_path):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt", tmp_path / "sgd.pt"]
    for seed, path in enumerate(paths):
        save_policy(with_cap_decisions(make_policy("discrete", seed=seed), 100), path)
    return [str(p) for p in paths]


def test_combine_gives_each_policy_its_cut_cap_and_the_sgd_runs_the_member_as_trained(member_files, tmp_path):
    low, high, sgd = member_files
    out = tmp_path / "file.pt"
    assert main(["combine", low, high, "--from-lrs", "5e-3", "--sgd-policies", low, sgd, "--sgd-from-lrs", "3e-3",
                 "--cut-cap-decisions", "200", "0", "--out", str(out)]) == 0
    combined = load_policy(out)
    assert [m.spec.cut_cap_decisions for m in combined.members] == [200, 0, 0, 0]
    assert combined.for_initial_lr(1e-3, "adam").spec.cut_cap_decisions == 200
    sgd_low = combined.for_initial_lr(1e-3, "sgd")
    assert sgd_low.spec.cut_cap_decisions == 0
    assert torch.equal(sgd_low.actor[0].weight, combined.for_initial_lr(1e-3, "adam").actor[0].weight)
    assert combined.for_initial_lr(1e-2, "sgd") is combined.members[3]


def test_combine_holds_a_member_once_where_the_cut_caps_agree(member_files, tmp_path):
    low, high, sgd = member_files
    out = tmp_path / "file.pt"
    assert main(["combine", low, high, "--from-lrs", "5e-3", "--sgd-policies", low, sgd, "--sgd-from-lrs", "3e-3",
                 "--cut-cap-decisions", "0", "0", "--out", str(out)]) == 0
    assert len(load_policy(out).members) == 3


@pytest.mark.parametrize("values, fragment", [
    (["200"], "2 POLICY files take 2 value(s), got 1"),
    (["200", "-1"], "-1 is negative"),
])
def test_combine_refuses_bad_cut_caps_in_one_line_exit_2(member_files, tmp_path, capsys, values, fragment):
    low, high, _ = member_files
    out = tmp_path / "file.pt"
    assert main(["combine", low, high, "--from-lrs", "5e-3", "--cut-cap-decisions", *values, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error: --cut-cap-decisions:") and err.count("\n") == 1 and fragment in err
    assert not out.exists()


def test_combine_refuses_a_cut_cap_for_a_policy_without_a_cap_per_budget(tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    for seed, path in enumerate(paths):
        save_policy(make_policy("discrete", seed=seed), path)
    out = tmp_path / "file.pt"
    assert main(["combine", *map(str, paths), "--from-lrs", "5e-3", "--cut-cap-decisions", "200", "0",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cut_cap_decisions 200" in err and err.count("\n") == 1 and not out.exists()
