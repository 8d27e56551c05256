"""Evaluation outputs: results.csv, curves.csv, timings.csv, summary.md and one plot per initial LR.

results.csv and curves.csv hold only deterministic values (same seeds, same files, bit for bit on a
CPU); wall times go to timings.csv.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from lrctl.atomic import write_atomic, write_text_atomic
from lrctl.children.child import episode_rng, start_episode
from lrctl.config import EnvConfig
from lrctl.evaluation.methods import ORACLE
from lrctl.evaluation.protocol import EvaluationResult
from lrctl.evaluation.records import RunResult, mean_std, paired_final_losses, wins
from lrctl.evaluation.statistics import (
    iqm,
    mean_interval,
    probability_of_improvement,
    regret_interval,
)
from lrctl.tasks import draws_tasks

RESULT_FIELDS = ("method", "seed", "initial_lr", "diverged", "final_val_loss", "final_val_accuracy",
                 "test_loss", "test_accuracy", "val_auc", "final_lr")


def _csv_text(header: tuple[str, ...], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _ordered(result: EvaluationResult) -> list[RunResult]:
    order = {name: i for i, name in enumerate(result.methods)}
    return sorted(result.runs, key=lambda r: (-r.initial_lr, order.get(r.method, 99), r.seed))


def results_rows(result: EvaluationResult) -> list[list[object]]:
    rows = []
    for r in _ordered(result):
        final = r.final if not r.diverged else {}
        rows.append([r.method, r.seed, repr(r.initial_lr), int(r.diverged),
                     *(repr(final.get(k, math.nan)) for k in RESULT_FIELDS[4:8]),
                     repr(r.val_auc), repr(r.lrs[-1] if r.lrs else math.nan)])
    return rows


def curves_rows(result: EvaluationResult) -> list[list[object]]:
    rows = []
    for r in _ordered(result):
        val = dict(zip(r.val_steps, r.val_losses))
        for step, (lr, train) in enumerate(zip(r.lrs, r.train_losses), start=1):
            rows.append([r.method, r.seed, repr(r.initial_lr), step, repr(lr), repr(train),
                         repr(val[step]) if step in val else ""])
    return rows


def _display_path(path: str) -> str:
    """`path` relative to the working directory where it lies below it (no machine paths in results)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tuned_values(result: EvaluationResult) -> str:
    """The tuned values of the baselines that ran, for the summary."""
    parts = []
    if result.best_constant_lr is not None:
        parts.append(f"best constant LR {result.best_constant_lr:g}")
    if result.oracle is not None:
        parts.append(f"tuned oracle {result.oracle[0]} from {result.oracle[1]:g}")
    if result.clara_damping:
        parts.append("CLARA damping d " + ", ".join(f"{d:g} at initial LR {lr:g}"
                                                    for lr, d in result.clara_damping.items()))
    return "; ".join(parts) or "none (no tuned baseline in this evaluation)"


def summary_markdown(result: EvaluationResult, commands: str = "") -> str:
    """Per initial LR: each method's final-loss statistics, rank, and how often the learned policy beats it."""
    plan = result.plan
    lines = [f"# Evaluation: {_subject(plan.env)}", ""]
    if commands:
        lines += ["Command (it also writes `curves.csv`, the per-step LR and losses, which results folders in git "
                  "leave out):", "", "```", commands, "```", ""]
    if draws_tasks(plan.env):
        task_line = (f"- Tasks drawn per seed from {', '.join(plan.env.tasks.datasets)} (`env.tasks`; each seed's "
                     "dataset, child, batch size, budget and optimizer are under Tasks below)")
    else:
        task_line = (f"- Budget {plan.env.child_steps} child steps (optimizer {plan.env.optimizer} unless the method "
                     f"brings its own), batch {plan.env.batch_size}")
    lines += [
        f"{task_line}; validation subset {plan.env.val_subset_size} samples every {plan.env.steps_per_action} steps",
        f"- Held-out evaluation seeds: {', '.join(map(str, plan.seeds))}; tuning seeds: "
        f"{', '.join(map(str, plan.tuning_seeds))}",
        f"- Policy: {_display_path(plan.policy_path) if plan.policy_path else 'none'}",
        f"- Tuned on validation (tuning seeds): {_tuned_values(result)}",
        "",
        "Columns: final validation loss on the full validation split (lower is better): mean ± std over "
        "seeds, a 95% percentile-bootstrap confidence interval of the mean, and the interquartile mean "
        "(IQM); P(learned better): the probability that the learned policy ends lower than the method on a "
        "seed (ties count half) with its paired-bootstrap 95% interval, and the seeds it won; area under the "
        "validation-subset curve (mean over decisions: minus the environment's mean reward under the "
        "`val_loss` reward); test loss and accuracy. Rank by mean final validation loss. Diverged runs are "
        "left out of the means and lose every comparison."
        + (" Regret to the oracle: the method's mean final validation loss / the tuned oracle's - 1 over the "
           "same seeds (diverged runs count as infinite), with its paired-bootstrap 95% interval; what the "
           "method leaves on the table against tuning the LR and a standard schedule." if result.oracle else ""),
        "",
    ]
    for lr0 in plan.initial_lrs:
        runs = [r for r in result.runs if r.initial_lr == lr0]
        methods = [m for m in result.methods if any(r.method == m for r in runs)]
        stats = {}
        for m in methods:
            mine = [r for r in runs if r.method == m]
            ok = [r for r in mine if not r.diverged]
            finals = [r.final["final_val_loss"] for r in ok]
            stats[m] = {
                "final": mean_std(finals),
                "ci": mean_interval(finals),
                "iqm": iqm(finals),
                "auc": mean_std([r.val_auc for r in ok]),
                "test": mean_std([r.final["test_loss"] for r in ok]),
                "acc": mean_std([r.final["test_accuracy"] for r in ok]),
                "diverged": len(mine) - len(ok),
                "wall": mean_std([r.wall_time_s for r in mine]),
            }
        ranking = sorted(methods, key=lambda m: (stats[m]["final"][0] if not math.isnan(stats[m]["final"][0])
                                                 else math.inf))
        learned = sorted((r for r in runs if r.method == "learned"), key=lambda r: r.seed)
        oracle_runs = [r for r in runs if r.method == ORACLE]
        regret_head, regret_rule = (" regret to oracle |", " --- |") if oracle_runs else ("", "")
        lines += [f"## Initial LR {lr0:g}", "",
                  "| rank | method | final val loss | 95% CI | IQM | P(learned better) | val AUC | test loss "
                  "| test accuracy | diverged | wall s |" + regret_head,
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" + regret_rule]
        for rank, m in enumerate(ranking, start=1):
            s_ = stats[m]
            better = ""
            if learned and m != "learned":
                other = [r for r in runs if r.method == m]
                pairs = paired_final_losses(learned, other)
                p = probability_of_improvement([mine for mine, _ in pairs], [theirs for _, theirs in pairs])
                won, compared = wins(learned, other)
                better = f"{p.value:.2f} [{p.low:.2f}, {p.high:.2f}] ({won}/{compared})"
            lines.append(
                f"| {rank} | {m} | {s_['final'][0]:.4f} ± {s_['final'][1]:.4f} | [{s_['ci'].low:.4f}, "
                f"{s_['ci'].high:.4f}] | {s_['iqm']:.4f} | {better} | {s_['auc'][0]:.4f} ± {s_['auc'][1]:.4f} "
                f"| {s_['test'][0]:.4f} ± {s_['test'][1]:.4f} | {s_['acc'][0]:.4f} ± {s_['acc'][1]:.4f} "
                f"| {s_['diverged']} | {s_['wall'][0]:.1f} |" + (_regret_cell(runs, m, oracle_runs) if oracle_runs else "")
            )
        lines.append("")
    lines += ["## Methods", ""] + [f"- `{m}`: {note}" for m, note in result.methods.items()] + [""]
    if draws_tasks(plan.env):
        lines += _tasks_table(result)
    return "\n".join(lines)


def _regret_cell(runs: list[RunResult], method: str, oracle_runs: list[RunResult]) -> str:
    pairs = paired_final_losses([r for r in runs if r.method == method], oracle_runs)
    r = regret_interval([mine for mine, _ in pairs], [theirs for _, theirs in pairs])
    interval = "" if math.isnan(r.low) else f" [{100 * r.low:+.1f}%, {100 * r.high:+.1f}%]"
    return f" {100 * r.value:+.1f}%{interval} |"


def _subject(env: EnvConfig) -> str:
    """What was evaluated: the setting, or the task distribution drawn from."""
    if draws_tasks(env):
        return f"tasks drawn from {', '.join(env.tasks.datasets)} (env.tasks)"
    return env.setting


def _tasks_table(result: EvaluationResult) -> list[str]:
    """Each seed's drawn task (the draw every method's episode of that seed makes)."""
    lines = ["## Tasks", "", "| seed | dataset | child | batch | steps | optimizer |", "| --- " * 6 + "|"]
    for seed in result.plan.seeds:
        task, _, _ = start_episode(result.plan.env, episode_rng(seed))
        dataset = task.dataset if task.dataset != "synthetic" else f"synthetic (data seed {task.data_seed})"
        lines.append(f"| {seed} | {dataset} | {task.model} | {task.batch_size} | {task.child_steps} "
                     f"| {task.optimizer} |")
    return lines + [""]


PLOT_POINTS = 201
"""Points of the budget-fraction axis that runs of different budgets (drawn tasks) are averaged on."""


def _mean_curves(runs: list[RunResult], by_fraction: bool) -> tuple[Any, Any, Any, Any]:
    """Mean LR and validation-loss curves of `runs` (of one budget unless `by_fraction`) and their x
    values: child steps, or with `by_fraction` the fraction of each run's budget, every run interpolated
    onto one grid."""
    import numpy as np

    if not by_fraction:
        return (np.arange(1, len(runs[0].lrs) + 1), np.mean([r.lrs for r in runs], axis=0),
                np.asarray(runs[0].val_steps), np.mean([r.val_losses for r in runs], axis=0))
    grid = np.linspace(0.0, 1.0, PLOT_POINTS)
    lrs = [np.interp(grid, np.arange(1, len(r.lrs) + 1) / len(r.lrs), r.lrs) for r in runs]
    vals = [np.interp(grid, np.asarray(r.val_steps) / len(r.lrs), r.val_losses) for r in runs]
    return grid, np.mean(lrs, axis=0), grid, np.mean(vals, axis=0)


def plot_initial_lr(result: EvaluationResult, initial_lr: float, path: Path) -> Path:
    """LR and validation loss against child step, one line per method (mean over seeds); on drawn tasks,
    whose budgets differ by seed, against the fraction of each run's budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lr, ax_val) = plt.subplots(1, 2, figsize=(12, 4.5))
    by_fraction = draws_tasks(result.plan.env)  # each seed's task has its own budget
    xlabel = "fraction of the budget" if by_fraction else "child step"
    for method in result.methods:
        runs = [r for r in result.runs if r.method == method and r.initial_lr == initial_lr and not r.diverged]
        if not runs:
            continue
        style = dict(linewidth=2.5, color="black") if method == "learned" else dict(linewidth=1.2)
        lr_x, lrs, val_x, vals = _mean_curves(runs, by_fraction)
        ax_lr.plot(lr_x, lrs, label=method, **style)
        ax_val.plot(val_x, vals, label=method, **style)
    ax_lr.set(yscale="log", xlabel=xlabel, ylabel="learning rate", title=f"LR (initial {initial_lr:g})")
    ax_val.set(yscale="log", xlabel=xlabel, ylabel="validation loss (subset)",
               title=f"validation loss, mean of {len(result.plan.seeds)} seeds")
    ax_val.legend(fontsize=8, ncol=2)
    fig.suptitle(_subject(result.plan.env))
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)
    return path


def write_outputs(result: EvaluationResult, out_dir: str | Path, commands: str = "") -> dict[str, Path]:
    """Write every output atomically; returns their paths.

    A write that fails (a full disk, an I/O error) removes the outputs this call wrote before it, and a
    folder it made, then raises `OSError`: no mix of new and old results is left behind.
    """
    out = Path(out_dir)
    made = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    try:
        paths["results"] = write_text_atomic(out / "results.csv", _csv_text(RESULT_FIELDS, results_rows(result)))
        paths["curves"] = write_text_atomic(out / "curves.csv", _csv_text(
            ("method", "seed", "initial_lr", "step", "lr", "train_loss", "val_loss"), curves_rows(result)))
        paths["timings"] = write_text_atomic(out / "timings.csv", _csv_text(
            ("method", "seed", "initial_lr", "wall_time_s"),
            [[r.method, r.seed, repr(r.initial_lr), f"{r.wall_time_s:.3f}"] for r in _ordered(result)]))
        paths["summary"] = write_text_atomic(out / "summary.md", summary_markdown(result, commands))
        for lr0 in result.plan.initial_lrs:
            paths[f"plot_{lr0:g}"] = plot_initial_lr(result, lr0, out / f"curves_lr{lr0:g}.png")
    except OSError:
        for path in paths.values():
            path.unlink(missing_ok=True)
        if made and not any(out.iterdir()):
            out.rmdir()
        raise
    return paths
