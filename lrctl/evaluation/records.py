"""The record of one trajectory (a child's training run under one method), and how records compare."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class RunResult:
    """Per-step curves and end-of-run metrics of one child's training run.

    `lrs[s]` and `train_losses[s]` belong to child step s + 1; `val_losses[j]` is the validation-subset
    loss after `val_steps[j]` steps (0: before training). `final` holds the full-validation and test
    metrics (empty if the run diverged).
    """

    method: str
    seed: int
    initial_lr: float
    lrs: list[float] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    diverged: bool = False
    wall_time_s: float = 0.0
    total_reward: float = math.nan
    """The environment's return, for runs driven through the environment (NaN otherwise)."""

    @property
    def val_auc(self) -> float:
        """Mean validation-subset loss over the decision points: minus the environment's mean reward."""
        return sum(self.val_losses) / len(self.val_losses) if self.val_losses else math.nan

    @property
    def final_val_loss(self) -> float:
        """The final full-validation loss; +inf for a run that diverged (it loses to every finite one)."""
        return math.inf if self.diverged else self.final["final_val_loss"]


def paired_final_losses(learned: Iterable[RunResult],
                        other: Iterable[RunResult]) -> list[tuple[float, float]]:
    """(learned, other) final validation losses on the seeds both ran, in seed order (+inf: diverged)."""
    mine = {r.seed: r.final_val_loss for r in learned}
    theirs = {r.seed: r.final_val_loss for r in other}
    return [(mine[s], theirs[s]) for s in sorted(mine.keys() & theirs.keys())]


def wins(learned: Iterable[RunResult], other: Iterable[RunResult]) -> tuple[int, int]:
    """On how many seeds the learned runs' final validation loss is lower than the other method's.

    Returns (wins, seeds compared); a diverged run loses to every run that did not diverge.
    """
    pairs = paired_final_losses(learned, other)
    return sum(mine < theirs for mine, theirs in pairs), len(pairs)


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation (0 for one value, NaN for none)."""
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), (statistics.pstdev(values) if len(values) > 1 else 0.0)


def mean_final_loss(runs: Sequence[RunResult]) -> float:
    """Mean final validation loss; a diverged run makes it infinite (it loses every comparison)."""
    return statistics.fmean(r.final_val_loss for r in runs) if runs else math.inf


def selection_score(policy: Mapping[float, Sequence[RunResult]],
                    constant: Mapping[float, Sequence[RunResult]]) -> float:
    """Sum over the initial LRs of the mean over seeds of log(policy / constant-LR final validation loss);
    lower is better.

    Each seed (on drawn tasks, each task) weighs the same whatever its loss scale, as in the
    `log_improvement` rewards. Infinite where the policy diverged; a seed where the constant LR diverged
    counts as no gain.
    """
    score = 0.0
    for lr, policy_runs in policy.items():
        pairs = paired_final_losses(policy_runs, constant[lr])
        if any(not math.isfinite(mine) for mine, _ in pairs):
            return math.inf
        ratios = [math.log(mine / theirs) if math.isfinite(theirs) else 0.0 for mine, theirs in pairs]
        score += statistics.fmean(ratios) if ratios else 0.0
    return score
