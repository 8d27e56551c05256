"""A hand-over for short budgets: the runs of fewer steps than the file names go to members of their own
(a member trained on short budgets), in the file, the scheduler and `lrctl combine`; an optimizer family's
own hand-over comes first."""

import pytest
import torch

from lrctl.cli import main
from lrctl.deploy.policy import HandOver, PolicyByInitialLR, ShortBudgets, load_policy, save_policy
from lrctl.deploy.scheduler import PolicyScheduler
from tests.policy_helpers import make_policy

HAND_OVER = 3e-3


@pytest.fixture
def three(members):
    short = make_policy("discrete", seed=2)
    return [*members, short], PolicyByInitialLR([*members, short], [HAND_OVER], {"sgd": HandOver((0,))},
                                                ShortBudgets(300, HandOver((2, 1), (HAND_OVER,))))


def test_a_run_below_the_short_budget_goes_to_its_member_and_from_it_on_to_the_default(three):
    (low, high, short), policies = three
    assert policies.for_initial_lr(1e-3, "adam", 200) is short
    assert policies.for_initial_lr(1e-3, "adam", 299) is short
    assert policies.for_initial_lr(1e-3, "adam", 300) is low
    assert policies.for_initial_lr(1e-3, None, None) is low  # a budget not given is not short
    assert policies.for_initial_lr(1e-2, "adam", 200) is high


def test_an_optimizer_familys_own_hand_over_comes_first(three):
    (low, _, _), policies = three
    assert policies.for_initial_lr(1e-3, "sgd", 200) is low


def test_the_file_keeps_it_and_files_without_it_load(three, tmp_path):
    _, policies = three
    save_policy(policies, tmp_path / "three.pt")
    assert load_policy(tmp_path / "three.pt").short_budgets == ShortBudgets(300, HandOver((2, 1), (HAND_OVER,)))
    data = policies.to_file_dict()
    del data["short_budgets"], data["members"][2]
    data["hand_over_by_optimizer"] = {}
    torch.save(data, tmp_path / "older.pt")
    assert load_policy(tmp_path / "older.pt").short_budgets is None


@pytest.mark.parametrize("short, fragment", [
    (ShortBudgets(0, HandOver((2,))), "short budgets below 0 steps"),
    (ShortBudgets(300, HandOver((3,))), r"names members \[3\]; there are 3"),
    (ShortBudgets(300, HandOver((2, 1), (-1.0,))), "must be positive"),
])
def test_unusable_short_budgets_are_refused(members, short, fragment):
    with pytest.raises(ValueError, match=fragment):
        PolicyByInitialLR([*members, make_policy("discrete", seed=2)], [HAND_OVER], short_budgets=short)


def test_the_scheduler_picks_by_its_budget_after_the_warm_up(three):
    (low, _, short), policies = three
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    val = (torch.randn(16, 64), torch.randint(0, 10, (16,)))

    def scheduler(total_steps, warmup_steps=0):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        return PolicyScheduler(optimizer, policies, model=model, val_data=val, total_steps=total_steps,
                               warmup_steps=warmup_steps)

    assert scheduler(200).policy is short and scheduler(1000).policy is low
    assert scheduler(320, warmup_steps=40).policy is short  # the policy's budget is 280 steps
    resumed = scheduler(1000)
    resumed.load_state_dict(scheduler(200).state_dict())
    assert resumed.policy is short


def _save(members_, tmp_path):
    paths = [tmp_path / f"{name}.pt" for name in ("low", "high", "short")]
    for member, path in zip(members_, paths):
        save_policy(member, path)
    return [str(p) for p in paths]


def test_combine_writes_it(members, tmp_path, capsys):
    low, high, short = _save([*members, make_policy("discrete", seed=2)], tmp_path)
    out = tmp_path / "three.pt"
    assert main(["combine", low, high, "--from-lrs", str(HAND_OVER), "--short-policies", short, high,
                 "--short-from-lrs", str(HAND_OVER), "--short-below", "300", "--out", str(out)]) == 0
    assert load_policy(out).short_budgets == ShortBudgets(300, HandOver((2, 1), (HAND_OVER,)))
    assert f"below 300 steps below {HAND_OVER}: {short}" in capsys.readouterr().out


@pytest.mark.parametrize("args, fragment", [
    (["--short-policies", "{short}"], "--short-policies and --short-below go together"),
    (["--short-below", "300"], "--short-policies and --short-below go together"),
    (["--short-policies", "{short}", "--short-below", "1"], "--short-below: 1 steps"),
    (["--short-policies", "{short}", "{high}", "--short-below", "300"], "--short-from-lrs: 2 --short-policies take 1"),
])
def test_combine_refuses_bad_short_budgets_in_one_line_exit_2(members, tmp_path, capsys, args, fragment):
    low, high, short = _save([*members, make_policy("discrete", seed=2)], tmp_path)
    out = tmp_path / "three.pt"
    args = [a.format(short=short, high=high) for a in args]
    assert main(["combine", low, high, "--from-lrs", str(HAND_OVER), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lrctl: error: ") and err.count("\n") == 1 and fragment in err
    assert not out.exists()
