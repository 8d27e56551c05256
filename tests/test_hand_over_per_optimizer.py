"""A hand-over set per optimizer family: with SGD the same initial LR may pick another member than with
Adam, or a member of its own, in the file, the scheduler and `lrctl combine`."""

import pytest
import torch

from lrctl.cli import main
from lrctl.deploy.policy import HandOver, PolicyByInitialLR, load_policy, save_policy
from lrctl.deploy.scheduler import PolicyScheduler, optimizer_family
from tests.policy_helpers import make_policy

HAND_OVER = 3e-3


def test_the_optimizer_family_picks_its_own_hand_over(members):
    low, high = members
    both = PolicyByInitialLR([low, high], [HAND_OVER], {"sgd": HandOver((0, 1), (3e-2,))})
    assert both.for_initial_lr(1e-2) is high
    assert both.for_initial_lr(1e-2, "adam") is high
    assert both.for_initial_lr(1e-2, "sgd") is low
    assert both.for_initial_lr(3e-2, "sgd") is high
    assert both.for_initial_lr(1e-2, None) is high  # an optimizer of no family: the default hand-over


def test_one_member_may_drive_every_run_of_a_family(members):
    both = PolicyByInitialLR(members, [HAND_OVER], {"sgd": HandOver((0,))})
    assert both.for_initial_lr(0.5, "sgd") is members[0]


def test_a_member_of_its_own_drives_a_family_and_no_other_run(members):
    sgd = make_policy("discrete", seed=2)
    three = PolicyByInitialLR([*members, sgd], [HAND_OVER], {"sgd": HandOver((2,))})
    assert [three.for_initial_lr(lr, "sgd") for lr in (1e-4, 1e-2)] == [sgd, sgd]
    assert [three.for_initial_lr(lr, opt) for lr in (1e-4, 1e-2) for opt in ("adam", None)] == [
        members[0], members[0], members[1], members[1]]


def test_the_file_keeps_the_hand_overs_and_older_files_load(members, tmp_path):
    save_policy(PolicyByInitialLR(members, [HAND_OVER], {"sgd": HandOver((0,))}), tmp_path / "both.pt")
    assert load_policy(tmp_path / "both.pt").hand_over_by_optimizer == {"sgd": HandOver((0,))}
    without = PolicyByInitialLR(members, [HAND_OVER]).to_file_dict()
    del without["hand_over_by_optimizer"]
    torch.save(without, tmp_path / "without.pt")
    assert load_policy(tmp_path / "without.pt").hand_over_by_optimizer == {}
    torch.save({**without, "edges_by_optimizer": {"sgd": []}}, tmp_path / "edges-only.pt")
    assert load_policy(tmp_path / "edges-only.pt").hand_over_by_optimizer == {"sgd": HandOver((0,))}


@pytest.mark.parametrize("edges, by_optimizer, fragment", [
    ([HAND_OVER], {"rmsprop": HandOver((0,))}, "allowed optimizers are adam, sgd"),
    ([HAND_OVER], {"sgd": HandOver((0, 1), (1e-2, 1e-1))}, "one fewer than its 2 policies"),
    ([HAND_OVER], {"sgd": HandOver((0, 1), (-1.0,))}, "must be positive"),
    ([HAND_OVER], {"sgd": HandOver((0, 2))}, r"names members \[0, 2\]; there are 2"),
    ([], {"sgd": HandOver((0,))}, "policy 2 drives no run"),
])
def test_unusable_hand_overs_are_refused(members, edges, by_optimizer, fragment):
    with pytest.raises(ValueError, match=fragment):
        PolicyByInitialLR(members, edges, by_optimizer)


@pytest.mark.parametrize("optimizer_class, family", [
    (torch.optim.Adam, "adam"), (torch.optim.AdamW, "adam"), (torch.optim.SGD, "sgd"), (torch.optim.RMSprop, None),
])
def test_the_scheduler_reads_the_family_from_the_optimizers_class(optimizer_class, family):
    assert optimizer_family(optimizer_class([torch.nn.Parameter(torch.zeros(1))], lr=1e-2)) == family


def test_the_scheduler_hands_an_sgd_run_to_the_member_its_family_names(members):
    both = PolicyByInitialLR(members, [HAND_OVER], {"sgd": HandOver((0,))})
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    val = (torch.randn(16, 64), torch.randint(0, 10, (16,)))
    adam = PolicyScheduler(torch.optim.Adam(model.parameters(), lr=1e-2), both, model=model, val_data=val)
    sgd = PolicyScheduler(torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9), both, model=model,
                          val_data=val)
    assert adam.policy is members[1] and sgd.policy is members[0]


def test_combine_writes_the_sgd_hand_over(members, tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    for member, path in zip(members, paths):
        save_policy(member, path)
    out = tmp_path / "both.pt"
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--sgd-from-lrs", "--out", str(out)]) == 0
    assert load_policy(out).hand_over_by_optimizer == {"sgd": HandOver((0,))}
    assert f"with SGD always {paths[0]}" in capsys.readouterr().out
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--out", str(out)]) == 0
    assert load_policy(out).hand_over_by_optimizer == {}


def test_combine_adds_a_policy_of_its_own_for_sgd(members, tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt", tmp_path / "sgd.pt"]
    for member, path in zip([*members, make_policy("discrete", seed=2)], paths):
        save_policy(member, path)
    out = tmp_path / "three.pt"
    assert main(["combine", str(paths[0]), str(paths[1]), "--from-lrs", str(HAND_OVER), "--sgd-policies",
                 str(paths[2]), "--cap-decisions", "100", "--out", str(out)]) == 0
    three = load_policy(out)
    assert len(three.members) == 3 and three.hand_over_by_optimizer == {"sgd": HandOver((2,))}
    assert {m.spec.cap_decisions for m in three.members} == {100}
    assert f"with SGD always {paths[2]}" in capsys.readouterr().out


def test_combine_refuses_a_bad_sgd_hand_over_in_one_line_exit_2(members, tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "high.pt"]
    for member, path in zip(members, paths):
        save_policy(member, path)
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--sgd-from-lrs", "-1",
                 "--out", str(tmp_path / "both.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error:") and err.count("\n") == 1 and "[-1.0] for sgd" in err
    assert main(["combine", *map(str, paths), "--from-lrs", str(HAND_OVER), "--sgd-policies",
                 str(tmp_path / "missing.pt"), "--out", str(tmp_path / "both.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error:") and err.count("\n") == 1 and "missing.pt" in err
    assert not (tmp_path / "both.pt").exists()


def test_the_policy_file_and_the_scheduler_know_the_optimizers_the_config_allows():
    from lrctl.config import OPTIMIZERS
    from lrctl.deploy.policy import OPTIMIZER_FAMILIES
    from lrctl.deploy.scheduler import _OPTIMIZER_FAMILIES

    assert OPTIMIZER_FAMILIES == OPTIMIZERS == tuple(_OPTIMIZER_FAMILIES)


def test_combine_takes_one_from_lr_per_policy_after_the_first_in_one_line_exit_2(members, tmp_path, capsys):
    paths = [tmp_path / "low.pt", tmp_path / "sgd.pt"]
    for member, path in zip(members, paths):
        save_policy(member, path)
    out = tmp_path / "both.pt"
    assert main(["combine", str(paths[0]), "--from-lrs", str(HAND_OVER), "--sgd-policies", str(paths[1]),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error: --from-lrs: 1 POLICY files take 0") and err.count("\n") == 1
    assert main(["combine", str(paths[0]), "--sgd-policies", str(paths[1]), "--out", str(out)]) == 0
    both = load_policy(out)
    assert both.for_initial_lr(1e-2, "adam") is not both.for_initial_lr(1e-2, "sgd")
    assert f"always {paths[0]}; with SGD always {paths[1]}" in capsys.readouterr().out
