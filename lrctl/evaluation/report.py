"""report.md of a training run: the learned policy against a constant LR on held-out seeds.

A small use of the evaluation: the same runs (`run_tasks`, batched where the run trained batched), the
same records and the same win counting as `evaluate.py`.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from lrctl.atomic import write_text_atomic
from lrctl.config import TrainConfig
from lrctl.evaluation.methods import MethodSpec
from lrctl.evaluation.records import RunResult, mean_std, wins
from lrctl.evaluation.runner import Task, run_tasks

LEARNED = MethodSpec("learned", "policy")
CONSTANT = MethodSpec("constant", "constant")


def _mean_std(runs: list[RunResult]) -> str:
    values = [r.final["final_val_loss"] for r in runs if not r.diverged]
    if not values:
        return "n/a"
    mean, std = mean_std(values)
    return f"{mean:.4f} ± {std:.4f}"


def compare_on_seeds(cfg: TrainConfig, policy_path: Path) -> dict[float, dict[str, list[RunResult]]]:
    """Per initial LR: runs of the policy (deterministic) and of a constant LR on the report seeds."""
    learned = MethodSpec(LEARNED.name, LEARNED.kind, {"path": str(policy_path)})
    tasks = [Task(cfg.env, method, seed, lr) for method in (learned, CONSTANT)
             for lr in cfg.env.initial_lrs for seed in cfg.report_seeds]
    runs = run_tasks(tasks, batched=cfg.ppo.vec_env == "batched")
    results: dict[float, dict[str, list[RunResult]]] = {}
    for run in runs:
        results.setdefault(run.initial_lr, {LEARNED.name: [], CONSTANT.name: []})[run.method].append(run)
    return results


def render_report(cfg: TrainConfig, results: dict[float, dict[str, list[RunResult]]],
                  training: dict[str, Any]) -> str:
    """The report text (Markdown)."""
    seeds = ", ".join(str(s) for s in cfg.report_seeds)
    lines = [
        f"# Training report: {cfg.env.setting}",
        "",
        f"- PPO timesteps: {training['timesteps']}; child-training episodes: {training['episodes']} "
        f"({training['diverged']} diverged); training wall time: {training['wall_time_s']:.0f} s",
        f"- Budget: {cfg.env.child_steps} child steps, a decision every {cfg.env.steps_per_action}; "
        f"action mode {cfg.env.action_mode}, max change {cfg.env.max_change:g}; reward {cfg.env.reward}",
        f"- Held-out seeds: {seeds} (training used seeds {cfg.seed}..{cfg.seed + cfg.ppo.n_envs - 1} "
        "and the episodes drawn from them)",
        "",
        "Final full-validation loss (mean ± std over seeds; lower is better). The policy acts "
        "deterministically; the constant LR keeps the initial LR.",
        "",
        "| initial LR | learned policy | constant LR | policy better on | diverged (policy / constant) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lr, runs in results.items():
        pol, const = runs[LEARNED.name], runs[CONSTANT.name]
        won, compared = wins(pol, const)
        lines.append(
            f"| {lr:g} | {_mean_std(pol)} | {_mean_std(const)} | {won}/{compared} seeds | "
            f"{sum(r.diverged for r in pol)} / {sum(r.diverged for r in const)} |"
        )
    lines += ["", "Final learning rate of the policy per initial LR: " + "; ".join(
        f"{lr:g} -> {statistics.fmean(r.lrs[-1] for r in runs[LEARNED.name]):.3g}" for lr, runs in results.items()
    ), ""]
    return "\n".join(lines)


def write_report(run_dir: Path, cfg: TrainConfig, *, timesteps: int, episodes: int, diverged: int,
                 wall_time_s: float, log: Any = print) -> Path:
    """Evaluate the run's policy.pt on the report seeds and write report.md atomically."""
    training = {"timesteps": timesteps, "episodes": episodes, "diverged": diverged, "wall_time_s": wall_time_s}
    results = compare_on_seeds(cfg, run_dir / "policy.pt")
    text = render_report(cfg, results, training)
    path = write_text_atomic(run_dir / "report.md", text)
    log(text)
    return path
