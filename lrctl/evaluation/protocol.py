"""The evaluation protocol: tune the baselines that need it, run every method on held-out seeds.

1. Tuning, on `tuning_seeds` (disjoint from the evaluation seeds): the best constant LR of a grid, the
   tuned oracle (the best (schedule, LR) of the grid's LRs x `ORACLE_SCHEDULES`) and, per initial LR,
   CLARA's damping d of a grid, each chosen by mean final validation loss.
2. Evaluation: every method x evaluation seed x initial LR, same child initialisation and batch order
   per seed (the child `LRControlEnv.reset(seed=s)` trains), same budget, in parallel processes.
"""

from __future__ import annotations

import os
import statistics
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from lrctl.checks import check_distinct, check_seed
from lrctl.config import (
    ConfigError,
    EnvConfig,
    validate_env,
)
from lrctl.evaluation.baseline_names import BASELINES, PEER_PACKAGES
from lrctl.evaluation.methods import (
    CLARA_DAMPING_GRID,
    CONSTANT_LR_GRID,
    ORACLE_SCHEDULES,
    MethodSpec,
    optional_peer_available,
    standard_methods,
)
from lrctl.evaluation.records import RunResult
from lrctl.evaluation.runner import Task, run_tasks
from lrctl.progress import Progress, ProgressFactory

DEFAULT_EVAL_SEEDS = tuple(range(200_000, 200_010))
"""Ten held-out seeds: published results need at least ten for their confidence intervals."""
DEFAULT_TUNING_SEEDS = (300_000,)


@dataclass(frozen=True)
class EvaluationPlan:
    """What to evaluate: a setting's environment config, a policy, seeds and initial LRs."""

    env: EnvConfig
    policy_path: str | None
    seeds: tuple[int, ...] = DEFAULT_EVAL_SEEDS
    tuning_seeds: tuple[int, ...] = DEFAULT_TUNING_SEEDS
    initial_lrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
    workers: int = 2
    include_peers: bool = True
    batched: bool = False
    """Run the learned policy's episodes as children of one batched pass instead of one by one."""
    on_ray: bool = False
    """Run every run as a Ray task instead of in local worker processes."""
    ray_address: str | None = None
    """The Ray cluster (default: RAY_ADDRESS, or a local Ray started for the evaluation)."""
    baselines: tuple[str, ...] | None = None
    """The baselines to run beside the learned policy (names of `BASELINES`); None: all but the opt-in ones."""

    def runs_baseline(self, name: str) -> bool:
        """Whether baseline `name` is in this plan."""
        return self.baselines is None or name in self.baselines


@dataclass
class EvaluationResult:
    """All runs plus the tuned values and the method descriptions."""

    plan: EvaluationPlan
    runs: list[RunResult]
    best_constant_lr: float | None
    """None where the plan leaves out the best constant LR."""
    clara_damping: dict[float, float]
    """Per initial LR; empty where the plan leaves out CLARA."""
    methods: dict[str, str]
    oracle: tuple[str, float] | None = None
    """The tuned oracle's (schedule, LR); None where the plan leaves it out."""


def _mean_final(runs: Iterable[RunResult]) -> float:
    return statistics.fmean(r.final_val_loss for r in runs)


def evaluate(plan: EvaluationPlan, progress_factory: ProgressFactory | None = None) -> EvaluationResult:
    """Tune, then run every method on every seed and initial LR (on Ray with `plan.on_ray`)."""
    if plan.on_ray:
        from lrctl.ray_cluster import RaySession

        with RaySession(plan.ray_address):
            return _evaluate(plan, progress_factory)
    return _evaluate(plan, progress_factory)


def _evaluate(plan: EvaluationPlan, progress_factory: ProgressFactory | None) -> EvaluationResult:
    def progress(total: int, label: str) -> Progress | None:
        return progress_factory(total, label) if progress_factory else None

    # 1. Tuning on the tuning seeds.
    tune_constant, tune_clara = plan.runs_baseline("best-constant"), plan.runs_baseline("clara")
    tune_oracle = plan.runs_baseline("oracle")
    schedules = ORACLE_SCHEDULES if tune_oracle else ("constant",) if tune_constant else ()
    # Each candidate starts its schedule from the grid's LR; the constant ones are also the best constant's.
    tune_tasks = [Task(plan.env, MethodSpec(f"{kind}={lr:g}", kind), s, lr)
                  for kind in schedules for lr in CONSTANT_LR_GRID for s in plan.tuning_seeds]
    tune_tasks += [Task(plan.env, MethodSpec(f"clara-d={d:g}", "clara", {"damping": d}), s, lr0)
                   for lr0 in plan.initial_lrs for d in CLARA_DAMPING_GRID for s in plan.tuning_seeds if tune_clara]
    tuned = run_tasks(tune_tasks, plan.workers, progress(len(tune_tasks), "tuning"),
                      on_ray=plan.on_ray) if tune_tasks else []
    by_name: dict[tuple[str, float], list[RunResult]] = {}
    for result in tuned:
        by_name.setdefault((result.method, result.initial_lr), []).append(result)
    best_constant = min(CONSTANT_LR_GRID, key=lambda lr: _mean_final(by_name[(f"constant={lr:g}", lr)])) \
        if tune_constant else None
    oracle = min(((kind, lr) for kind in ORACLE_SCHEDULES for lr in CONSTANT_LR_GRID),
                 key=lambda c: _mean_final(by_name[(f"{c[0]}={c[1]:g}", c[1])])) if tune_oracle else None
    clara_damping = {
        lr0: min(CLARA_DAMPING_GRID, key=lambda d: _mean_final(by_name[(f"clara-d={d:g}", lr0)]))
        for lr0 in plan.initial_lrs
    } if tune_clara else {}

    # 2. The evaluation grid.
    tasks = []
    descriptions: dict[str, str] = {}
    for lr0 in plan.initial_lrs:
        for method in standard_methods(plan.policy_path, best_constant, clara_damping.get(lr0),
                                       plan.include_peers, plan.env.optimizer, plan.baselines, oracle):
            descriptions.setdefault(method.name, method.note if method.kind != "clara" else
                                    f"{plan.env.optimizer.capitalize()}-CLARA (plain step), d tuned per "
                                    f"initial LR on validation over {list(CLARA_DAMPING_GRID)}")
            tasks += [Task(plan.env, method, s, lr0) for s in plan.seeds]
    runs = run_tasks(tasks, plan.workers, progress(len(tasks), "evaluation"), batched=plan.batched,
                     on_ray=plan.on_ray)
    return EvaluationResult(plan, runs, best_constant, clara_damping, descriptions, oracle)


def plan_for(env: EnvConfig, policy_path: str | None, *, seeds: Sequence[int] | None = None,
             initial_lrs: Sequence[float] | None = None, workers: int = 2, quick: bool = False,
             include_peers: bool = True, batched: bool = False, on_ray: bool = False,
             ray_address: str | None = None, baselines: Sequence[str] | None = None) -> EvaluationPlan:
    """An EvaluationPlan with the defaults filled in; `quick` is a smoke run (2 seeds, short budget).
    `on_ray` runs it on Ray (`workers` then does not apply); `baselines` names the baselines to run
    (default: all)."""
    chosen_baselines = _checked_baselines(baselines, include_peers) if baselines is not None else None
    lrs = tuple(initial_lrs) if initial_lrs else tuple(env.initial_lrs)
    check_distinct("--initial-lrs", lrs)
    chosen = tuple(seeds) if seeds else DEFAULT_EVAL_SEEDS
    if quick:
        steps = max(env.steps_per_action, (env.child_steps // 5) // env.steps_per_action * env.steps_per_action)
        env = replace(env, child_steps=steps)
        chosen = chosen[:2]
    for seed in chosen:
        check_seed("evaluation seed", seed)
    check_distinct("--seeds", chosen)
    overlap = set(chosen) & set(DEFAULT_TUNING_SEEDS)
    if overlap:
        raise ConfigError(f"evaluation seeds {sorted(overlap)} are the tuning seeds; choose others")
    validate_env(replace(env, initial_lrs=lrs))  # the initial LRs, checked as a config's are
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if on_ray:
        from lrctl.ray_cluster import require_ray

        require_ray("--ray")
    useful = os.cpu_count() or 1
    if workers > useful and not on_ray:
        warnings.warn(f"{workers} workers asked for, but this machine has {useful} cores; using {useful}",
                      stacklevel=2)
        workers = useful
    return EvaluationPlan(env, policy_path, chosen, DEFAULT_TUNING_SEEDS, lrs, workers, include_peers, batched,
                          on_ray, ray_address, chosen_baselines)


def _checked_baselines(names: Sequence[str], include_peers: bool) -> tuple[str, ...]:
    """`names` as a plan's baselines, or a ConfigError naming the first one that cannot run."""
    for name in names:
        if name not in BASELINES:
            raise ConfigError(f"unknown baseline {name!r}; choose from: {', '.join(BASELINES)}")
        if name in PEER_PACKAGES and not include_peers:
            raise ConfigError(f"baseline {name!r} is a peer optimizer, which --no-peers leaves out; drop one of them")
        if name in PEER_PACKAGES and not optional_peer_available(PEER_PACKAGES[name]):
            raise ConfigError(f"baseline {name!r} needs the package {PEER_PACKAGES[name]}: "
                              f'pip install "lrctl[peers]"')
    return tuple(dict.fromkeys(names))
