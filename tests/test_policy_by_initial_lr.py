"""Several policies in one file, the initial LR picking the one that drives a run: the file, the choice,
the scheduler and the `lrctl combine` command."""

import copy
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from lrctl.cli import main
from lrctl.deploy.policy import (
    Policy,
    PolicyByInitialLR,
    PolicyFileError,
    load_policy,
    save_policy,
)
from lrctl.deploy.scheduler import PolicyScheduler
from tests.policy_helpers import env_and_child, make_policy, plain_loop

HAND_OVER = 3e-3


def test_the_initial_lr_picks_the_member(members):
    low, high = members
    both = PolicyByInitialLR([low, high], [HAND_OVER])
    assert both.for_initial_lr(1e-3) is low
    assert both.for_initial_lr(HAND_OVER) is high
    assert both.for_initial_lr(1e-2) is high
    assert low.for_initial_lr(1e-2) is low  # a single policy drives every run


def test_round_trip_keeps_the_members_and_their_actions(members, tmp_path):
    save_policy(PolicyByInitialLR(members, [HAND_OVER]), tmp_path / "both.pt")
    loaded = load_policy(tmp_path / "both.pt")
    assert isinstance(loaded, PolicyByInitialLR) and loaded.edges == (HAND_OVER,)
    assert loaded.spec == members[0].spec
    for lr, member in ((1e-3, members[0]), (1e-2, members[1])):
        features = np.random.default_rng(0).normal(size=(20, 8)) + member.obs_mean
        assert [loaded.for_initial_lr(lr).act(f) for f in features] == [member.act(f) for f in features]


def test_members_that_decide_at_other_intervals_are_refused(members):
    other = make_policy("discrete", steps_per_action=10)
    with pytest.raises(ValueError, match="differ in steps_per_action"):
        PolicyByInitialLR([members[0], other], [HAND_OVER])
    with pytest.raises(ValueError, match="not positive and increasing"):
        PolicyByInitialLR([*members, members[0]], [1e-2, 1e-3])
    with pytest.raises(ValueError, match="policy 2 drives no run"):
        PolicyByInitialLR(members, [])


def test_a_member_may_act_continuously_beside_discrete_ones(digits_like, members, tmp_path):
    continuous = make_policy("continuous", seed=2)
    save_policy(PolicyByInitialLR([members[0], continuous], [HAND_OVER]), tmp_path / "mixed.pt")
    mixed = load_policy(tmp_path / "mixed.pt")
    _, _, (model, order, vx, vy) = env_and_child(digits_like, "discrete")
    for lr, member in ((1e-3, members[0]), (1e-2, continuous)):
        expected, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), member, lr)
        lrs, sched, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), mixed, lr)
        assert lrs == expected and sched.policy.spec.action_mode == member.spec.action_mode


def test_a_member_may_observe_other_features_than_the_others(digits_like, members, tmp_path):
    noisy = make_policy("continuous", features="scale_free_lr_noise", seed=2, action_base="linear")
    save_policy(PolicyByInitialLR([members[0], noisy], [HAND_OVER]), tmp_path / "mixed.pt")
    mixed = load_policy(tmp_path / "mixed.pt")
    _, _, (model, order, vx, vy) = env_and_child(digits_like, "discrete")
    for lr, member in ((1e-3, members[0]), (1e-2, noisy)):
        expected, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), member, lr, total_steps=20)
        lrs, sched, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), mixed, lr, total_steps=20)
        assert lrs == expected and sched.tracker.feature_names == member.spec.feature_names


def test_the_scheduler_follows_the_member_of_the_optimizers_initial_lr(digits_like, members):
    both = PolicyByInitialLR(members, [HAND_OVER])
    _, _, (model, order, vx, vy) = env_and_child(digits_like, "discrete")
    for lr, member in ((1e-3, members[0]), (1e-2, members[1])):
        expected, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), member, lr)
        lrs, sched, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), both, lr)
        assert lrs == expected and sched.policy is member
    low_lrs, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), members[1], 1e-3)
    assert low_lrs != plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), members[0], 1e-3)[0]


def test_resuming_keeps_the_member_that_started_the_run(digits_like, members):
    both = PolicyByInitialLR(members, [HAND_OVER])
    _, _, (model, order, vx, vy) = env_and_child(digits_like, "discrete")
    full, _, _ = plain_loop(digits_like, copy.deepcopy(model), order, (vx, vy), both, 1e-2)
    twin = copy.deepcopy(model)
    first, sched, opt = plain_loop(digits_like, twin, order, (vx, vy), both, 1e-2, steps=12)
    state = copy.deepcopy(sched.state_dict())
    opt_state = copy.deepcopy(opt.state_dict())
    for group in opt_state["param_groups"]:
        del group["initial_lr"]  # an optimizer saved without it: the scheduler state still names the member
    rest, resumed, _ = plain_loop(digits_like, twin, order[12:], (vx, vy), both, 1e-4, sched_state=state,
                                  opt_state=opt_state)
    assert resumed.policy is members[1] and first + rest == full


def test_combine_writes_a_file_the_scheduler_reads(members, tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    for member, path in zip(members, paths):
        save_policy(member, path)
    out = tmp_path / "both.pt"
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--out", str(out)]) == 0
    loaded = load_policy(out)
    assert isinstance(loaded, PolicyByInitialLR) and loaded.edges == (HAND_OVER,)
    assert all(isinstance(m, Policy) for m in loaded.members)
    assert f"from {HAND_OVER:g}: {paths[1]}" in capsys.readouterr().out


def test_combine_may_deploy_every_member_trained_per_decision_with_a_cap_per_budget(members, tmp_path):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    for member, path in zip(members, paths):
        save_policy(member, path)
    out = tmp_path / "both.pt"
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--cap-decisions", "100",
                 "--out", str(out)]) == 0
    loaded = load_policy(out)
    assert [m.spec.cap_decisions for m in loaded.members] == [100, 100]
    for member, original in zip(loaded.members, members):
        assert replace(member.spec, cap_decisions=0) == original.spec
        assert member.act(np.zeros(len(member.spec.feature_names))) == \
            original.act(np.zeros(len(original.spec.feature_names)))


def test_combine_leaves_a_policy_trained_with_a_cap_per_budget_at_its_own_pace(members, tmp_path):
    low = members[0]
    short = make_policy("discrete", seed=2, cap_decisions=200)
    paths = [tmp_path / "low.pt", tmp_path / "short.pt"]
    for member, path in zip((low, short), paths):
        save_policy(member, path)
    out = tmp_path / "both.pt"
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--cap-decisions", "100",
                 "--out", str(out)]) == 0
    assert [m.spec.cap_decisions for m in load_policy(out).members] == [100, 200]


@pytest.mark.parametrize("problem,fragment", [("from_lrs", "2 POLICY files take 1 initial LR"),
                                              ("interval", "differ in"),
                                              ("nested", "already holds several policies")])
def test_combine_refuses_what_cannot_be_combined_in_one_line_exit_2(members, tmp_path, capsys, problem, fragment):
    low, high = members
    if problem == "interval":
        high = make_policy("discrete", steps_per_action=10)
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    save_policy(low, paths[0])
    save_policy(PolicyByInitialLR(members, [HAND_OVER]) if problem == "nested" else high, paths[1])
    from_lrs = [str(HAND_OVER)] * (2 if problem == "from_lrs" else 1)
    assert main(["combine", *map(str, paths), "--from-lrs", *from_lrs, "--out", str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error:") and err.count("\n") == 1 and fragment in err
    assert not (tmp_path / "out.pt").exists()


def test_combine_refuses_a_cap_decisions_below_one_before_reading_a_policy(tmp_path, capsys):
    assert main(["combine", "missing-low.pt", "missing-high.pt", "--from-lrs", "5e-3", "--cap-decisions", "0",
                 "--out", str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err == "lrctl: error: --cap-decisions: must be > 0, got 0\n"


def test_a_damaged_file_of_several_policies_is_a_one_line_error(members, tmp_path):
    import torch

    data = PolicyByInitialLR(members, [HAND_OVER]).to_file_dict()
    data["edges"] = [-1e-3]
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(PolicyFileError, match="not positive and increasing") as err:
        load_policy(tmp_path / "bad.pt")
    assert "\n" not in str(err.value)
    del data["members"]
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(PolicyFileError, match="damaged"):
        load_policy(tmp_path / "bad.pt")


def test_the_scheduler_asks_for_the_budget_when_the_member_driving_the_run_has_a_base(digits_like):
    plain = make_policy("discrete", features="scale_free_lr", seed=0)
    residual = make_policy("discrete", features="scale_free_lr", seed=1, action_base="linear")
    both = PolicyByInitialLR([plain, residual], [HAND_OVER])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    val = (digits_like.val_x[:8], digits_like.val_y[:8])
    with pytest.warns(UserWarning, match="linear base schedule over total_steps"):
        PolicyScheduler(torch.optim.Adam(model.parameters(), lr=1e-2), both, model=model, val_data=val)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PolicyScheduler(torch.optim.Adam(model.parameters(), lr=1e-3), both, model=model, val_data=val)
