"""A tiny evaluation end to end: same child per seed for every method, deterministic files, outputs."""

import csv
from dataclasses import replace

import pytest
import torch

from lrctl.config import env_config
from lrctl.envs import LRControlEnv
from lrctl.evaluation.episodes import run_episode
from lrctl.evaluation.outputs import write_outputs
from lrctl.evaluation.protocol import evaluate, plan_for
from tests.evaluation.conftest import EVAL_ENV


@pytest.fixture(scope="module")
def tiny_plan(policy_path):
    env = env_config("digits-mlp", **EVAL_ENV)
    plan = plan_for(env, policy_path, seeds=[11, 12], initial_lrs=[1e-3, 1e-2], workers=1, include_peers=False)
    return plan


@pytest.fixture(scope="module")
def tiny_result(tiny_plan):
    return evaluate(tiny_plan)


def test_every_method_runs_on_every_seed_and_lr(tiny_result):
    keys = {(r.method, r.seed, r.initial_lr) for r in tiny_result.runs}
    assert len(keys) == len(tiny_result.runs) == len(tiny_result.methods) * 2 * 2
    assert all(len(r.lrs) == 20 and len(r.val_losses) == 5 for r in tiny_result.runs)


def _assert_learned_runs_are_the_environment_episodes(runs, policy_path, env_cfg):
    """Bit for bit on a CPU: the evaluation trains the environment's child with the setting's optimizer."""
    from lrctl.deploy.features import feature_set_name
    from lrctl.deploy.policy import load_policy

    policy = load_policy(policy_path)
    env = LRControlEnv(env_cfg, features=feature_set_name(policy.spec.feature_names))
    learned = [r for r in runs if r.method == "learned"]
    assert learned
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the evaluation's thread count: bit for bit needs the same one
    try:
        episodes = [run_episode(env, policy.act, run.seed, run.initial_lr) for run in learned]
    finally:
        torch.set_num_threads(threads)
    for run, episode in zip(learned, episodes):
        assert run.lrs == episode.lrs
        assert run.train_losses == episode.train_losses
        assert run.val_steps == episode.val_steps
        assert run.val_losses == episode.val_losses
        assert run.final == episode.final


def test_learned_policy_run_is_the_environment_episode_with_that_seed(tiny_result, tiny_plan, policy_path):
    _assert_learned_runs_are_the_environment_episodes(tiny_result.runs, policy_path, tiny_plan.env)


@pytest.fixture(scope="module")
def sgd_plan(policy_path):
    env = env_config("digits-mlp", optimizer="sgd", momentum=0.9, **EVAL_ENV)
    return plan_for(env, policy_path, seeds=[11, 12], initial_lrs=[1e-1, 1e-2], workers=1, include_peers=False)


def test_sgd_setting_trains_sgd_children_in_both_evaluation_modes(sgd_plan, policy_path):
    one_by_one = evaluate(sgd_plan)
    _assert_learned_runs_are_the_environment_episodes(one_by_one.runs, policy_path, sgd_plan.env)
    batched = evaluate(replace(sgd_plan, batched=True))
    for a, b in zip(batched.runs, one_by_one.runs):
        assert (a.method, a.seed, a.initial_lr) == (b.method, b.seed, b.initial_lr)
        assert a.lrs == pytest.approx(b.lrs, rel=1e-9)
        assert a.val_losses == pytest.approx(b.val_losses, rel=1e-4)
    assert "clara-sgd" in one_by_one.methods and "clara-adam" not in one_by_one.methods
    adam = {(r.method, r.seed, r.initial_lr): r.val_losses for r in evaluate(replace(
        sgd_plan, env=replace(sgd_plan.env, optimizer="adam"))).runs}
    assert all(r.val_losses != adam[(r.method.replace("sgd", "adam"), r.seed, r.initial_lr)]
               for r in one_by_one.runs)  # the optimizer reaches every method


def test_batched_evaluation_runs_the_policy_as_batched_children_with_the_same_results(tiny_plan, tiny_result):
    batched = evaluate(replace(tiny_plan, batched=True))
    assert [(r.method, r.seed, r.initial_lr) for r in batched.runs] == \
        [(r.method, r.seed, r.initial_lr) for r in tiny_result.runs]
    for a, b in zip(batched.runs, tiny_result.runs):
        if a.method != "learned":
            assert a.lrs == b.lrs and a.train_losses == b.train_losses  # not batched: the same runs
            continue
        assert a.lrs == pytest.approx(b.lrs, rel=1e-9)
        assert a.train_losses == pytest.approx(b.train_losses, rel=1e-4)
        assert a.val_steps == b.val_steps
        assert a.val_losses == pytest.approx(b.val_losses, rel=1e-4)
        assert a.final["test_loss"] == pytest.approx(b.final["test_loss"], rel=1e-4)


def test_batched_evaluation_of_children_that_cannot_be_batched_runs_one_by_one(tiny_plan, tiny_result, monkeypatch):
    monkeypatch.setattr("lrctl.children.batched.supports_batching", lambda model: False)  # as for ResNet-18
    with pytest.warns(UserWarning, match="episodes run one by one"):
        fallback = evaluate(replace(tiny_plan, batched=True))
    assert [(r.method, r.seed, r.lrs, r.train_losses) for r in fallback.runs] == \
        [(r.method, r.seed, r.lrs, r.train_losses) for r in tiny_result.runs]


def test_every_method_starts_from_the_same_child(tiny_result):
    first = {}
    for r in tiny_result.runs:
        first.setdefault((r.seed, r.initial_lr), set()).add(round(r.val_losses[0], 10))
    assert all(len(v) == 1 for v in first.values())  # same initialisation: same loss before training
    seeds = {k[0]: v for k, v in first.items()}
    assert seeds[11] != seeds[12]


@pytest.mark.slow
def test_outputs_are_written_and_results_are_deterministic(tiny_plan, tiny_result, tmp_path):
    paths = write_outputs(tiny_result, tmp_path / "a")
    again = write_outputs(evaluate(replace(tiny_plan, workers=2)), tmp_path / "b")
    assert paths["results"].read_bytes() == again["results"].read_bytes()
    assert paths["curves"].read_bytes() == again["curves"].read_bytes()
    rows = list(csv.DictReader(paths["results"].open()))
    assert len(rows) == len(tiny_result.runs)
    summary = paths["summary"].read_text()
    assert "## Initial LR 0.001" in summary and "P(learned better)" in summary and "d tuned" in summary
    assert paths["plot_0.01"].stat().st_size > 10_000


def test_a_write_that_fails_half_way_leaves_no_partial_outputs(tiny_result, tmp_path, monkeypatch):
    import errno

    def disk_full(result, lr0, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("lrctl.evaluation.outputs.plot_initial_lr", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_outputs(tiny_result, tmp_path / "new")
    assert not (tmp_path / "new").exists()  # a folder it made goes too
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "notes.txt").write_text("the user's")
    with pytest.raises(OSError):
        write_outputs(tiny_result, tmp_path / "kept")
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["notes.txt"]


def test_quick_plan_is_short_and_small(policy_path):
    plan = plan_for(env_config("digits-mlp"), policy_path, quick=True)
    assert plan.env.child_steps == 100 and len(plan.seeds) == 2


def test_evaluation_seeds_must_differ_from_tuning_seeds(policy_path):
    with pytest.raises(ValueError, match="tuning seeds"):
        plan_for(env_config("digits-mlp"), policy_path, seeds=[300_000])


@pytest.mark.parametrize("config_says", [dict(features="scale_free"),  # the policy observes paper features
                                         dict(action_mode="continuous", max_change=0.2)])  # discrete, at 5%
def test_batched_evaluation_observes_and_acts_as_the_policy_not_as_the_config(tiny_plan, tiny_result, config_says):
    plan = replace(tiny_plan, env=replace(tiny_plan.env, **config_says), batched=True)
    batched = evaluate(plan)
    for a, b in zip(batched.runs, tiny_result.runs):
        if a.method == "learned":
            assert a.lrs == pytest.approx(b.lrs, rel=1e-9)
