"""Choosing a policy among runs on tuning seeds: the score, `lrctl select`, and its checks before compute."""

import math
import re

import pytest

from lrctl.cli import main
from lrctl.config import dump_yaml, load_config
from lrctl.deploy.policy import save_policy
from lrctl.evaluation.records import RunResult, selection_score
from lrctl.evaluation.report import compare_on_seeds, report_score
from lrctl.evaluation.selection import EPISODE_SEED_STRIDE, load_candidates, render_selection, score_runs
from tests.evaluation.conftest import EVAL_ENV
from tests.policy_helpers import make_policy

SMALL_RUN = [f"env.{key}={value}" for key, value in EVAL_ENV.items()] + [
    "env.features=paper", "env.initial_lrs=[0.01,0.001]", "ppo.vec_env=dummy", "report_seeds=[5,6]"]


def _run(tmp_path, name: str, policy_seed: int, extra: tuple[str, ...] = ()):
    """A finished run's folder as selection reads it: config.yaml and policy.pt."""
    run_dir = tmp_path / name
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(dump_yaml(load_config(None, [*SMALL_RUN, *extra])))
    save_policy(make_policy("discrete", seed=policy_seed), run_dir / "policy.pt")
    return run_dir


def _runs(losses: dict[int, float]) -> list[RunResult]:
    """Runs of one method on seeds `losses` ending at those final losses (inf: diverged)."""
    return [RunResult("m", seed, 0.01, final={} if math.isinf(loss) else {"final_val_loss": loss},
                      diverged=math.isinf(loss)) for seed, loss in losses.items()]


def test_the_score_sums_over_lrs_the_mean_log_ratio_per_seed():
    policy = {0.01: _runs({1: 0.5, 2: 2.0}), 0.001: _runs({1: 0.2})}
    constant = {0.01: _runs({1: 1.0, 2: 1.0}), 0.001: _runs({1: 0.4})}
    expected = (math.log(0.5) + math.log(2.0)) / 2 + math.log(0.5)
    assert selection_score(policy, constant) == pytest.approx(expected)
    # Every seed weighs the same: a seed with a tenfold loss scale moves the score no more than another.
    scaled = {0.01: _runs({1: 5.0, 2: 2.0}), 0.001: _runs({1: 0.2})}
    scaled_constant = {0.01: _runs({1: 10.0, 2: 1.0}), 0.001: _runs({1: 0.4})}
    assert selection_score(scaled, scaled_constant) == pytest.approx(expected)


def test_a_diverged_policy_scores_infinite_and_a_diverged_constant_counts_as_no_gain():
    constant = {0.01: _runs({1: 1.0, 2: 1.0})}
    assert selection_score({0.01: _runs({1: 0.5, 2: math.inf})}, constant) == math.inf
    no_constant = {0.01: _runs({1: 1.0, 2: math.inf})}
    assert selection_score({0.01: _runs({1: 0.5, 2: 0.1})}, no_constant) == pytest.approx(math.log(0.5) / 2)


def test_select_ranks_runs_best_first_with_the_score_of_their_reports(tmp_path, capsys):
    runs = [_run(tmp_path, f"seed{i}", policy_seed=i) for i in range(3)]
    out = tmp_path / "selection.md"
    assert main(["select", *map(str, runs), "--out", str(out), "--workers", "1"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert out.read_text() in printed
    assert re.search(r"^selection: (\d+)/\1 runs, \d+s elapsed$", captured.err, re.MULTILINE)  # progress in a log

    configs, seeds = load_candidates(runs)
    assert seeds == (5, 6)
    candidates = score_runs(configs, seeds, workers=1)
    scores = [c.score for c in candidates]
    assert scores == sorted(scores) and len(set(scores)) == 3  # the random policies differ
    assert f"**Chosen:** {candidates[0].run_dir} (score {scores[0]:.3f})" in printed
    for candidate in candidates:  # the score report.md shows for the same run
        cfg = load_config(candidate.run_dir / "config.yaml")
        assert candidate.score == report_score(compare_on_seeds(cfg, candidate.run_dir / "policy.pt"))


@pytest.mark.filterwarnings("ignore:total_steps=40")  # a budget other than the policy's own, on purpose
def test_every_policy_is_scored_on_the_first_runs_tasks(tmp_path):
    short = _run(tmp_path, "short", policy_seed=0)
    long = _run(tmp_path, "long", policy_seed=0, extra=("env.child_steps=40",))  # the same policy
    on_short = score_runs(*load_candidates([short, long]), workers=1)
    on_long = score_runs(*load_candidates([long, short]), workers=1)
    assert on_short[0].policy_means == on_short[1].policy_means
    assert on_long[0].policy_means == on_long[1].policy_means
    assert on_short[0].policy_means != on_long[0].policy_means  # the budget reached every policy
    assert on_short[0].constant_means != on_long[0].constant_means
    assert "on the tasks of " + str(long) in render_selection(on_long, (5, 6), tasks_of=long)


@pytest.mark.parametrize("second, extra_args, fragment", [
    ("no-policy", [], "no policy.pt"),
    ("other-lrs", [], "initial LRs"),
    ("other-report-seeds", [], "--seeds"),
    ("same", ["--seeds", "200003"], "evaluation seed"),
    ("not-a-run", [], "config.yaml"),
    ("other-interval", [], "tuning tasks"),
    ("same", ["--episodes-per-task", "2"], "no env.tasks"),
    ("same", ["--episodes-per-task", "0"], "--episodes-per-task 0"),
])
def test_bad_selections_are_one_line_before_any_run(tmp_path, capsys, monkeypatch, second, extra_args, fragment):
    import lrctl.evaluation.selection as selection

    monkeypatch.setattr(selection, "run_tasks", lambda *a, **k: pytest.fail("ran before checking"))
    first = _run(tmp_path, "first", 0)
    if second == "not-a-run":
        other = tmp_path / "empty"
        other.mkdir()
    else:
        extra = {"other-lrs": ("env.initial_lrs=[0.01]",),
                 "other-report-seeds": ("report_seeds=[7]",),
                 "other-interval": ("env.child_steps=30", "env.steps_per_action=3")}.get(second, ())
        other = _run(tmp_path, second, 1, extra)
        if second == "no-policy":
            (other / "policy.pt").unlink()
    out = tmp_path / "selection.md"
    assert main(["select", str(first), str(other), "--out", str(out), *extra_args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and fragment in err
    assert not out.exists()


DRAWN_TASKS = ("env.tasks.datasets=[synthetic]", "env.tasks.widths=[8,16]", "env.tasks.batch_sizes=[8,16]",
               "env.tasks.child_steps=[10,20]")


def test_more_episodes_per_task_score_each_policy_on_other_children_of_the_same_tasks(tmp_path):
    runs = [_run(tmp_path, f"seed{i}", policy_seed=i, extra=DRAWN_TASKS) for i in range(2)]
    configs, seeds = load_candidates(runs, episodes_per_task=3)
    three = score_runs(configs, seeds, workers=1, episodes_per_task=3)
    one = {c.run_dir: c for c in score_runs(configs, seeds, workers=1)}
    for candidate in three:
        for lr, results in candidate.policy_runs.items():
            assert [r.seed for r in results] == [s + k * EPISODE_SEED_STRIDE for s in seeds for k in range(3)]
            own = [r for r in results if r.seed in seeds]  # each seed's own episode, as with one per task
            assert [r.final_val_loss for r in own] == [r.final_val_loss for r in one[candidate.run_dir].policy_runs[lr]]
            for i in range(0, len(results), 3):
                task_runs = results[i:i + 3]
                assert len({r.final_val_loss for r in task_runs}) == 3  # other children of the task
                assert len({len(r.lrs) for r in task_runs}) == 1  # its budget
    assert "3 episodes of each seed's task" in render_selection(three, seeds, tasks_of=runs[0], episodes_per_task=3)
