"""Choosing one policy among training runs (PPO seeds, configs) on tuning seeds, never on evaluation seeds.

The selection score of a policy (`records.selection_score`) is the sum over initial LRs of the mean
over the tuning seeds of log(policy / constant LR) of the final full-validation loss: lower is better,
below 0 means it beats the constant LR on the whole, and every initial LR and every seed (on drawn
tasks, every task) weighs the same whatever its loss scale. A run's report.md shows its score on the
report seeds; `lrctl select` ranks several runs by it.

Where the runs draw tasks (`env.tasks`), each tuning seed is one task, and `episodes_per_task` above 1
scores every policy on that many episodes of it (other children and batches of the same task; the
first is the seed's own episode), so that a task's score carries less of one episode's luck.

Every policy is scored on the same tuning tasks: those of the first run named (its setting, budget and task
distribution), each policy deciding at its own interval with its own features, actions and cap. Runs
trained on different task distributions are thus compared on one of them; name each first in turn to
compare them on each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from lrctl.checks import check_distinct, check_seed
from lrctl.config import (
    ConfigError,
    EnvConfig,
    TrainConfig,
    load_config,
    validate_env,
)
from lrctl.evaluation.methods import MethodSpec
from lrctl.evaluation.protocol import DEFAULT_EVAL_SEEDS
from lrctl.evaluation.records import RunResult, mean_final_loss, selection_score
from lrctl.evaluation.report import CONSTANT, LEARNED
from lrctl.evaluation.runner import Task, run_tasks
from lrctl.progress import ProgressFactory
from lrctl.tasks import draws_tasks

EPISODE_SEED_STRIDE = 2**32
"""Episode k >= 1 of the tuning task of seed s runs with seed s + k * EPISODE_SEED_STRIDE: above every seed a
run or a user can name, so no episode is another seed's run."""
MAX_EPISODES_PER_TASK = 100


@dataclass(frozen=True)
class Candidate:
    """A training run's policy scored on the tuning seeds."""

    run_dir: Path
    policy_runs: dict[float, list[RunResult]]
    constant_runs: dict[float, list[RunResult]]

    @property
    def score(self) -> float:
        return selection_score(self.policy_runs, self.constant_runs)

    @property
    def policy_means(self) -> dict[float, float]:
        return {lr: mean_final_loss(runs) for lr, runs in self.policy_runs.items()}

    @property
    def constant_means(self) -> dict[float, float]:
        return {lr: mean_final_loss(runs) for lr, runs in self.constant_runs.items()}


def load_candidates(run_dirs: Sequence[str | Path], seeds: Sequence[int] | None = None,
                    episodes_per_task: int = 1) -> tuple[list[tuple[Path, TrainConfig]], tuple[int, ...]]:
    """The runs' configs and the tuning seeds, checked before any compute.

    All runs must share the setting and initial LRs, and each one's decision interval must divide the
    first run's budgets. The seeds default to the runs' report seeds (which then must agree); none may be
    an evaluation seed (`DEFAULT_EVAL_SEEDS`). More than one episode per task needs runs that draw tasks.
    """
    if not run_dirs:
        raise ConfigError("name at least one run directory to select from")
    runs = []
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"{str(run_dir)!r} holds no config.yaml; name training run directories")
        if not (run_dir / "policy.pt").is_file():
            raise ConfigError(f"{str(run_dir)!r} holds no policy.pt; finish the run with --resume {run_dir}")
        runs.append((run_dir, load_config(run_dir / "config.yaml")))
    first_dir, first = runs[0]
    if not 1 <= episodes_per_task <= MAX_EPISODES_PER_TASK:
        raise ConfigError(f"--episodes-per-task {episodes_per_task}: must lie in 1..{MAX_EPISODES_PER_TASK}")
    if episodes_per_task > 1 and not draws_tasks(first.env):
        raise ConfigError(f"--episodes-per-task {episodes_per_task}: {first_dir} trains one task (no env.tasks), "
                          "so each seed is an episode of it; name more --seeds instead")
    for run_dir, cfg in runs[1:]:
        for what, mine, theirs in (("setting", cfg.env.setting, first.env.setting),
                                   ("initial LRs", cfg.env.initial_lrs, first.env.initial_lrs)):
            if mine != theirs:
                raise ConfigError(f"{run_dir} has {what} {mine}, {first_dir} {theirs}; select among runs of "
                                  "one setting and one set of initial LRs")
        try:
            validate_env(tuning_env(first.env, cfg.env))
        except ConfigError as err:
            raise ConfigError(f"{run_dir} cannot act on the tuning tasks of {first_dir}: {err}") from None
        if seeds is None and cfg.report_seeds != first.report_seeds:
            raise ConfigError(f"{run_dir} and {first_dir} have different report seeds; name the tuning seeds "
                              "with --seeds")
    chosen = tuple(seeds) if seeds else tuple(first.report_seeds)
    check_distinct("--seeds", chosen)
    if len({run_dir.resolve() for run_dir, _ in runs}) < len(runs):
        raise ConfigError("a run directory is named twice; name each run once")
    for i, seed in enumerate(chosen):
        check_seed(f"--seeds[{i}]", seed)
        if seed in DEFAULT_EVAL_SEEDS:
            raise ConfigError(f"--seeds: {seed} is an evaluation seed ({DEFAULT_EVAL_SEEDS[0]}.."
                              f"{DEFAULT_EVAL_SEEDS[-1]}); choose on other seeds, e.g. the report seeds")
    return runs, chosen


def tuning_env(tasks_of: EnvConfig, run: EnvConfig) -> EnvConfig:
    """The environment `run`'s policy is scored in: the tasks of `tasks_of`, at `run`'s decision interval.
    (The runner takes the features, action mode, cap and LR bounds from the policy file.)"""
    return replace(tasks_of, steps_per_action=run.steps_per_action)


def _runs_on_episodes(env: EnvConfig, method: MethodSpec, seeds: Sequence[int], initial_lr: float,
                      episodes_per_task: int = 1) -> list[Task]:
    """The runs of `method` on `episodes_per_task` episodes of each seed's task: the seed's own episode, then
    episodes of the same task with other children and batches (seeds above every nameable one)."""
    return [Task(env, method, seed, initial_lr) if k == 0 else
            Task(env, method, seed + k * EPISODE_SEED_STRIDE, initial_lr, task_seed=seed)
            for seed in seeds for k in range(episodes_per_task)]


def score_runs(runs: Sequence[tuple[Path, TrainConfig]], seeds: Sequence[int], workers: int = 2,
               progress_factory: ProgressFactory | None = None, episodes_per_task: int = 1) -> list[Candidate]:
    """Run each policy (deterministic) and the constant LR on `seeds` at every initial LR, on the first
    run's tuning tasks (`episodes_per_task` episodes of each); best first. `progress_factory(total,
    label)` gives the callback told of each finished run.

    The policies run as the runs' reports run them: as children of one batched pass where every run
    trained batched, so a score on the report seeds is the one in their report.md (for a run trained on
    the first run's tasks).
    """
    _, base = runs[0]
    tasks = [task for run_dir, cfg in runs for lr in cfg.env.initial_lrs
             for task in _runs_on_episodes(tuning_env(base.env, cfg.env),
                                           replace(LEARNED, params={"path": str(run_dir / "policy.pt")}),
                                           seeds, lr, episodes_per_task)]
    tasks += [task for lr in base.env.initial_lrs
              for task in _runs_on_episodes(base.env, CONSTANT, seeds, lr, episodes_per_task)]
    progress = progress_factory(len(tasks), "selection") if progress_factory else None
    results = run_tasks(tasks, workers=workers, progress=progress,
                        batched=all(cfg.ppo.vec_env == "batched" for _, cfg in runs))
    per_run = len(base.env.initial_lrs) * len(seeds) * episodes_per_task

    def by_lr(block: Sequence[RunResult]) -> dict[float, list[RunResult]]:
        return {lr: [r for r in block if r.initial_lr == lr] for lr in base.env.initial_lrs}

    constant = by_lr(results[len(runs) * per_run:])
    candidates = [Candidate(run_dir, by_lr(results[i * per_run:(i + 1) * per_run]), constant)
                  for i, (run_dir, _) in enumerate(runs)]
    return sorted(candidates, key=lambda c: c.score)


def render_selection(candidates: Sequence[Candidate], seeds: Sequence[int], tasks_of: Path,
                     episodes_per_task: int = 1) -> str:
    """A Markdown table of the candidates, best first, ending with the choice; `tasks_of` is the run whose
    tasks they were scored on, `episodes_per_task` how many episodes of each."""
    lrs = list(candidates[0].constant_means)
    header = "| run | " + " | ".join(f"{lr:g}" for lr in lrs) + " | score |"
    episodes = f", {episodes_per_task} episodes of each seed's task" if episodes_per_task > 1 else ""
    lines = [f"Selection on tuning seeds {', '.join(map(str, seeds))}, on the tasks of {tasks_of}{episodes}: "
             "mean final validation loss per initial LR; score = sum over initial LRs of the mean over "
             "seeds (and episodes) of log(policy / constant LR), lower is better.", "",
             header, "| --- " * (len(lrs) + 2) + "|"]
    for c in candidates:
        lines.append(f"| {c.run_dir} | " + " | ".join(f"{c.policy_means[lr]:.4f}" for lr in lrs)
                     + f" | {c.score:.3f} |")
    lines.append("| constant LR | " + " | ".join(f"{candidates[0].constant_means[lr]:.4f}" for lr in lrs) + " | |")
    best = candidates[0]
    lines += ["", f"**Chosen:** {best.run_dir} (score {best.score:.3f})", ""]
    return "\n".join(lines)
