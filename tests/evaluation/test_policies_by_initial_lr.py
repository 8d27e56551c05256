"""Evaluating a file of several policies by initial LR: each run is the run of the member its initial LR
picks, with that member's own base schedule and ceiling, one by one and as batched children."""

import pytest

from lrctl.config import env_config
from lrctl.deploy.policy import HandOver, PolicyByInitialLR, ShortBudgets, save_policy
from lrctl.evaluation.protocol import evaluate, plan_for
from tests.evaluation.conftest import EVAL_ENV
from tests.policy_helpers import make_policy


@pytest.fixture(scope="module")
def policy_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policies")
    low = make_policy("discrete", seed=0, action_base="linear")
    high = make_policy("discrete", seed=1, action_base="onecycle", max_lr_ratio=1.0)
    files = {"low": low, "high": high, "both": PolicyByInitialLR([low, high], [3e-3]),
             "sgd-low": PolicyByInitialLR([low, high], [3e-3], {"sgd": HandOver((0,))}),
             "short-low": PolicyByInitialLR([low, high], [3e-3], short_budgets=ShortBudgets(10_000, HandOver((0,))))}
    for name, policy in files.items():
        save_policy(policy, folder / f"{name}.pt")
    return {name: str(folder / f"{name}.pt") for name in files}


def _learned(path, batched=False, **env_options):
    env = env_config("digits-mlp", **{**EVAL_ENV, **env_options})
    plan = plan_for(env, path, seeds=[11, 12], initial_lrs=[1e-2, 1e-3], workers=1, include_peers=False,
                    baselines=["constant"], batched=batched)
    return {(r.seed, r.initial_lr): r for r in evaluate(plan).runs if r.method == "learned"}


@pytest.fixture(scope="module")
def member_runs(policy_files):
    """Each member's own runs, one by one."""
    return _learned(policy_files["low"]), _learned(policy_files["high"])


@pytest.mark.parametrize("batched", [False, True])
def test_each_run_is_the_run_of_the_member_its_initial_lr_picks(policy_files, member_runs, batched):
    low, high = member_runs
    both = _learned(policy_files["both"], batched)
    for (seed, lr), run in both.items():
        member = high if lr >= 3e-3 else low
        assert run.lrs == pytest.approx(member[(seed, lr)].lrs, rel=1e-9)
        assert run.val_losses == pytest.approx(member[(seed, lr)].val_losses, rel=1e-4)
    assert any(low[k].lrs != high[k].lrs for k in both)  # the members do act differently


@pytest.mark.parametrize("batched", [False, True])
def test_an_sgd_run_goes_to_the_member_of_the_sgd_hand_over(policy_files, batched):
    low = _learned(policy_files["low"], optimizer="sgd")
    both = _learned(policy_files["sgd-low"], batched, optimizer="sgd")
    for key, run in both.items():
        assert run.lrs == pytest.approx(low[key].lrs, rel=1e-9)


@pytest.mark.parametrize("batched", [False, True])
def test_a_run_of_a_short_budget_goes_to_the_member_of_the_short_budgets(policy_files, member_runs, batched):
    low, _ = member_runs
    both = _learned(policy_files["short-low"], batched)  # every budget here is below 10,000 steps
    for key, run in both.items():
        assert run.lrs == pytest.approx(low[key].lrs, rel=1e-9)
