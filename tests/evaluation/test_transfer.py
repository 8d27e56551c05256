"""The held-out transfer benchmark: families the policy never trained on, each with its own seeds; per
(family, initial LR) the policy's rank among the same-start schedules and each method's regret to the
tuned oracle."""

from __future__ import annotations

import csv
import math

import pytest

from lrctl.cli import main
from lrctl.evaluation.protocol import DEFAULT_EVAL_SEEDS, DEFAULT_TUNING_SEEDS
from lrctl.evaluation.records import RunResult
from lrctl.evaluation.statistics import Interval
from lrctl.evaluation.transfer import LEARNED, SAME_START, Cell, cells_of, family_seeds, transfer_markdown
from lrctl.evaluation.transfer_families import FAMILIES
from lrctl.settings import get_setting


def test_every_family_is_a_setting_outside_the_general_policys_training_distribution():
    from lrctl.config import load_config

    trained = load_config("configs/general.yaml").env.tasks
    for name, path in FAMILIES.items():
        setting = get_setting(path)
        assert setting.name == name
        defaults = setting.env_defaults
        model = setting.model if isinstance(setting.model, str) else ""
        outside = (
            not isinstance(setting.dataset, str) or setting.dataset not in trained.datasets
            or not isinstance(setting.model, str)  # a normalisation layer the trained children never had
            or defaults.get("optimizer", "adam") not in trained.optimizers
            or defaults["child_steps"] not in range(min(trained.child_steps), max(trained.child_steps) + 1)
            or model.split(":")[-1] not in trained.activations
            or any(int(w) not in trained.widths for w in model.split(":")[1].split("-"))
            or len(model.split(":")[1].split("-")) > max(trained.depths)
        )
        assert outside, name


def test_each_family_has_its_own_seeds_apart_from_the_evaluation_and_tuning_seeds():
    blocks = [set(family_seeds(i, 5)) for i in range(len(FAMILIES))]
    assert all(len(b) == 5 for b in blocks)
    assert len(set().union(*blocks)) == 5 * len(FAMILIES)
    assert not set().union(*blocks) & (set(DEFAULT_EVAL_SEEDS) | set(DEFAULT_TUNING_SEEDS))


def _cell(losses: dict[str, float], oracle_lr: float = 1e-3) -> Cell:
    return Cell("f", 1e-3, ("cosine", oracle_lr), losses)


def test_the_rank_counts_the_same_start_schedules_strictly_better_than_the_policy():
    losses = {LEARNED: 0.2, "constant": 0.3, "step-decay": 0.1, "cosine": 0.2, "linear": 0.25, "onecycle": 0.5,
              "prodigy": 0.01}  # a learning-rate-free peer is not ranked
    cell = _cell(losses)
    assert cell.rank == 2  # only step decay is ahead; cosine ties
    assert cell.behind_best_same_start == pytest.approx(1.0)


class _Result:  # the parts of an EvaluationResult that cells_of reads
    def __init__(self, runs, oracle=("linear", 3e-3)):
        self.runs, self.oracle = runs, oracle
        self.plan = type("Plan", (), {"initial_lrs": (1e-2, 1e-3)})()


def _runs(method: str, lr0: float, losses: list[float]) -> list[RunResult]:
    return [RunResult(method, seed, lr0, final={"final_val_loss": loss}) for seed, loss in enumerate(losses)]


def test_cells_give_each_methods_paired_regret_to_the_oracle_per_initial_lr():
    runs = []
    for lr0 in (1e-2, 1e-3):
        runs += _runs("tuned-oracle", lr0, [1.0, 2.0])
        runs += _runs(LEARNED, lr0, [1.1, 2.2] if lr0 == 1e-2 else [1.5, 3.0])
        for method in SAME_START:
            runs += _runs(method, lr0, [1.2, 2.4])
        runs += _runs("schedule-free-adam", lr0, [1.0, 2.0])
    cells = cells_of("fam", _Result(runs))
    assert [c.initial_lr for c in cells] == [1e-2, 1e-3]
    assert cells[0].regret[LEARNED].value == pytest.approx(0.1)
    assert cells[1].regret[LEARNED].value == pytest.approx(0.5)
    assert cells[0].regret["schedule-free"].value == pytest.approx(0.0)
    assert "oracle" not in cells[0].regret and cells[0].oracle == ("linear", 3e-3)
    assert cells[0].rank == 1 and cells[1].rank == 6


def test_the_report_states_the_goal_measures_and_a_row_per_cell():
    cells = [_cell({LEARNED: 1.0, **{m: 1.1 for m in SAME_START}}, oracle_lr=1e-3),
             _cell({LEARNED: 1.2, **{m: 1.1 for m in SAME_START}}, oracle_lr=1e-2)]
    for cell, regret in zip(cells, (0.0, 0.2)):
        cell.regret = {m: Interval(regret if m == LEARNED else 0.1, math.nan, math.nan) for m in (LEARNED, *SAME_START)}
    report = transfer_markdown(cells)
    assert "first among the same-start schedules in 1/2 cells" in report
    assert "where the start is the oracle's own LR (1 cells): the policy at most -9.1% behind" in report
    assert "| learned | +10.0% | 1/2 | +20.0% |" in report
    assert report.count("| f | 0.001 |") == 2


@pytest.mark.slow
def test_the_command_runs_a_family_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "transfer"
    assert main(["transfer", "--quick", "--families", "breast-cancer", "--no-peers", "--workers", "1",
                 "--initial-lrs", "1e-2", "1e-3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "# Transfer benchmark" in printed and "| breast-cancer | 0.01 |" in printed
    assert (out / "summary.md").read_text() in printed
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["method"] for r in rows} == {LEARNED, *SAME_START}
    assert {r["initial_lr"] for r in rows} == {"0.01", "0.001"}
    assert (out / "breast-cancer" / "results.csv").is_file()


@pytest.mark.parametrize("args,message", [
    (["--families", "imagenet"], "--families: unknown family 'imagenet'"),
    (["--seeds-per-family", "1"], "--seeds-per-family 1: intervals need at least 2 seeds"),
    (["--initial-lrs", "5"], "initial_lrs[0]: 5.0 must lie in"),
])
def test_bad_input_is_one_line_and_exit_2_before_any_run(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["transfer", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
