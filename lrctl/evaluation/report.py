"""report.md of a training run: the learned policy against a constant LR and the schedules that start
from the same LR (step decay, cosine, linear, OneCycle, plateau) on held-out seeds, ending in a verdict.

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
from lrctl.evaluation.records import (
    RunResult,
    mean_final_loss,
    mean_std,
    selection_score,
    wins,
)
from lrctl.evaluation.runner import Task, run_tasks
from lrctl.tasks import draws_tasks

LEARNED = MethodSpec("learned", "policy")
CONSTANT = MethodSpec("constant", "constant")
# The schedules a user would otherwise pick that need no tuning and start from the initial LR.
SCHEDULES = tuple(MethodSpec(kind, kind) for kind in ("step-decay", "cosine", "linear", "onecycle", "plateau"))


def _mean_std(runs: list[RunResult]) -> str:
    values = [r.final["final_val_loss"] for r in runs if not r.diverged]
    if not values:
        return "n/a"
    mean, std = mean_std(values)
    return f"{mean:.4f} ± {std:.4f}"


def best_baseline(runs: dict[str, list[RunResult]]) -> str:
    """The baseline (constant or schedule) with the lowest mean final validation loss."""
    baselines = [m for m in runs if m != LEARNED.name]
    return min(baselines, key=lambda m: mean_final_loss(runs[m]))


def report_score(results: dict[float, dict[str, list[RunResult]]]) -> float:
    """The selection score (`records.selection_score`) of the policy on the report seeds."""
    return selection_score({lr: runs[LEARNED.name] for lr, runs in results.items()},
                           {lr: runs[CONSTANT.name] for lr, runs in results.items()})


def verdict(results: dict[float, dict[str, list[RunResult]]]) -> str:
    """One line: at how many initial LRs the policy's mean final loss is below the constant LR's and
    below the best baseline's, naming where it is not."""
    n = len(results)
    beats_constant = [lr for lr, runs in results.items()
                      if mean_final_loss(runs[LEARNED.name]) < mean_final_loss(runs[CONSTANT.name])]
    behind = []
    for lr, runs in results.items():
        best = best_baseline(runs)
        if not mean_final_loss(runs[LEARNED.name]) < mean_final_loss(runs[best]):
            behind.append(f"{lr:g}: {best} {mean_final_loss(runs[best]):.4f} vs {mean_final_loss(runs[LEARNED.name]):.4f}")
    line = (f"**Verdict:** lower mean final validation loss than the constant LR at {len(beats_constant)} of {n} "
            f"initial LRs and than the best baseline at {n - len(behind)} of {n}")
    return line + (f" (behind at {'; '.join(behind)})." if behind else ".")


def compare_on_seeds(cfg: TrainConfig, policy_path: Path) -> dict[float, dict[str, list[RunResult]]]:
    """Per initial LR and method: runs of the policy (deterministic), the constant LR and the schedules
    on the report seeds."""
    learned = MethodSpec(LEARNED.name, LEARNED.kind, {"path": str(policy_path)})
    methods = (learned, CONSTANT, *SCHEDULES)
    tasks = [Task(cfg.env, method, seed, lr) for method in methods
             for lr in cfg.env.initial_lrs for seed in cfg.report_seeds]
    runs = run_tasks(tasks, batched=cfg.ppo.vec_env == "batched")
    results: dict[float, dict[str, list[RunResult]]] = {}
    for run in runs:
        results.setdefault(run.initial_lr, {m.name: [] for m in methods})[run.method].append(run)
    return results


def render_report(cfg: TrainConfig, results: dict[float, dict[str, list[RunResult]]],
                  training: dict[str, Any]) -> str:
    """The report text (Markdown)."""
    seeds = ", ".join(str(s) for s in cfg.report_seeds)
    lines = [
        f"# Training report: {cfg.env.setting}",
        "",
        f"- PPO timesteps: {training['timesteps']}; child-training episodes: {training['episodes']} "
        f"({training['diverged']} diverged"
        + (f"; {training['lost_actor_episodes']} more truncated by lost Ray actors"
           if training.get("lost_actor_episodes") else "")
        + f"); training wall time: {training['wall_time_s']:.0f} s",
        (f"- Tasks drawn per episode from {', '.join(cfg.env.tasks.datasets)} (env.tasks; each held-out seed "
         f"draws its own task); a decision every {cfg.env.steps_per_action} steps; " if draws_tasks(cfg.env) else
         f"- Budget: {cfg.env.child_steps} child steps, a decision every {cfg.env.steps_per_action}; ") +
        f"action mode {cfg.env.action_mode}, max change {cfg.env.max_change:g}"
        + (f" at {cfg.env.cap_decisions} decisions per budget" if cfg.env.cap_decisions else "")
        + ("" if cfg.env.action_base == "constant" else f", over a {cfg.env.action_base} base schedule")
        + (f", at most {cfg.env.max_lr_ratio:g} times the initial LR" if cfg.env.max_lr_ratio else "")
        + f"; reward {cfg.env.reward}",
        f"- Held-out seeds: {seeds} (training used seeds {cfg.seed}..{cfg.seed + cfg.ppo.n_envs - 1} "
        "and the episodes drawn from them)",
        "",
        "Final full-validation loss (mean ± std over seeds; lower is better). The policy acts "
        "deterministically; the constant LR keeps the initial LR; the best baseline is the constant LR or "
        f"the schedule ({', '.join(m.name for m in SCHEDULES)}) with the lowest mean at that initial LR.",
        "",
        "| initial LR | learned policy | constant LR | policy better on | best baseline | policy better on "
        "| diverged (policy / constant) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lr, runs in results.items():
        pol, const = runs[LEARNED.name], runs[CONSTANT.name]
        best = best_baseline(runs)
        won, compared = wins(pol, const)
        won_best, compared_best = wins(pol, runs[best])
        lines.append(
            f"| {lr:g} | {_mean_std(pol)} | {_mean_std(const)} | {won}/{compared} seeds | "
            f"{best} {_mean_std(runs[best])} | {won_best}/{compared_best} seeds | "
            f"{sum(r.diverged for r in pol)} / {sum(r.diverged for r in const)} |"
        )
    lines += ["", "Final learning rate of the policy per initial LR: " + "; ".join(
        f"{lr:g} -> {statistics.fmean(r.lrs[-1] for r in runs[LEARNED.name]):.3g}" for lr, runs in results.items()
    ), "", f"Selection score: {report_score(results):.3f} (the sum over initial LRs of the mean over these "
        "seeds of log(policy / constant LR), lower is better; `lrctl select` ranks runs by it)", "",
        verdict(results), ""]
    return "\n".join(lines)


def write_report(run_dir: Path, cfg: TrainConfig, *, timesteps: int, episodes: int, diverged: int,
                 wall_time_s: float, lost_actor_episodes: int = 0, log: Any = print) -> Path:
    """Evaluate the run's policy.pt on the report seeds and write report.md atomically."""
    training = {"timesteps": timesteps, "episodes": episodes, "diverged": diverged, "wall_time_s": wall_time_s,
                "lost_actor_episodes": lost_actor_episodes}
    results = compare_on_seeds(cfg, run_dir / "policy.pt")
    text = render_report(cfg, results, training)
    path = write_text_atomic(run_dir / "report.md", text)
    log(text)
    return path
