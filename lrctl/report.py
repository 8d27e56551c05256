"""report.md of a training run: the learned policy against a constant LR on held-out seeds."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from lrctl.atomic import write_text_atomic
from lrctl.config import TrainConfig
from lrctl.evaluation.outputs import mean_std
from lrctl.policy import load_policy
from lrctl.rollout import EpisodeRecord, constant_lr, run_episode, run_episodes_batched


def _mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    mean, std = mean_std(values)
    return f"{mean:.4f} ± {std:.4f}"


def _final(records: list[EpisodeRecord]) -> list[float]:
    return [r.final["final_val_loss"] for r in records if not r.diverged]


def compare_on_seeds(cfg: TrainConfig, policy_path: Path) -> dict[float, dict[str, list[EpisodeRecord]]]:
    """Per initial LR: episodes of the policy (deterministic) and of a constant LR on the report seeds."""
    from lrctl.config import to_dict
    from lrctl.envs.batched import batchable
    from lrctl.envs.lr_control import LRControlEnv

    policy = load_policy(policy_path)
    keep = constant_lr(cfg.env.action_mode)
    episodes = [(s, lr) for lr in cfg.env.initial_lrs for s in cfg.report_seeds]
    if cfg.ppo.vec_env == "batched" and batchable(cfg.env.setting, otherwise="report.md's episodes run one by one"):
        # every episode of a controller as one batched pass
        runs = {name: run_episodes_batched(cfg.env, act, episodes)
                for name, act in (("policy", policy.act), ("constant", keep))}
    else:
        env = LRControlEnv(**to_dict(cfg.env))
        runs = {name: [run_episode(env, act, s, lr) for s, lr in episodes]
                for name, act in (("policy", policy.act), ("constant", keep))}
        env.close()
    results: dict[float, dict[str, list[EpisodeRecord]]] = {}
    for name, records in runs.items():
        for record in records:
            results.setdefault(record.initial_lr, {"policy": [], "constant": []})[name].append(record)
    return results


def render_report(cfg: TrainConfig, results: dict[float, dict[str, list[EpisodeRecord]]],
                  training: dict[str, Any]) -> str:
    """The report text (Markdown)."""
    seeds = ", ".join(str(s) for s in cfg.report_seeds)
    lines = [
        f"# Training report: {cfg.env.setting}",
        "",
        f"- PPO timesteps: {training['timesteps']}; child-training episodes: {training['episodes']} "
        f"({training['diverged']} diverged); training wall time: {training['wall_time_s']:.0f} s",
        f"- Budget: {cfg.env.child_steps} child steps, a decision every {cfg.env.steps_per_action}; "
        f"action mode {cfg.env.action_mode}, max change {cfg.env.max_change:g}",
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
        pol, const = runs["policy"], runs["constant"]
        wins = sum(
            1 for p, c in zip(pol, const)
            if not p.diverged and (c.diverged or p.final["final_val_loss"] < c.final["final_val_loss"])
        )
        lines.append(
            f"| {lr:g} | {_mean_std(_final(pol))} | {_mean_std(_final(const))} | {wins}/{len(pol)} seeds | "
            f"{sum(r.diverged for r in pol)} / {sum(r.diverged for r in const)} |"
        )
    lines += ["", "Final learning rate of the policy per initial LR: " + "; ".join(
        f"{lr:g} -> {statistics.fmean(r.lrs[-1] for r in runs['policy']):.3g}" for lr, runs in results.items()
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
