"""Train one child with one method, recording the LR and losses per step; run many such tasks.

`run_tasks` is the one place that decides where runs go: worker processes or Ray tasks, and, for the
learned policy's runs when asked, children of one batched pass (or one by one, with a warning, where the
setting's children cannot be batched).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lrctl.children.child import DRAWN, ChildRun, episode_rng, final_metrics, start_episode
from lrctl.config import EnvConfig
from lrctl.data import setting_data
from lrctl.deploy.features import diverged, validation_losses
from lrctl.deploy.policy import Policy, load_policy
from lrctl.deploy.spec_mapping import acting_as
from lrctl.device import resolve_device
from lrctl.evaluation.methods import Budget, MethodSpec, build_driver
from lrctl.evaluation.records import RunResult
from lrctl.progress import Progress
from lrctl.settings import get_setting
from lrctl.tasks import episode_task


@dataclass(frozen=True)
class Task:
    """One training run of the evaluation grid."""

    env: EnvConfig
    method: MethodSpec
    seed: int
    initial_lr: float
    task_seed: int | None = None
    """Where `env` draws tasks: the seed whose task this run trains, its child and batches still drawn from
    `seed` (so runs of several seeds train one task with other children); None: `seed` draws both."""


def _val_loss(child: ChildRun) -> float:
    return float(validation_losses(child.val_logits().unsqueeze(0), child.val_y.unsqueeze(0))[0])


def run_task(task: Task) -> RunResult:
    """Train the child that `LRControlEnv.reset(seed=task.seed)` would train, with `task.method`.

    The child is the environment's (the setting's optimizer and momentum, batch order, validation
    subset), trained by the environment's loop (`ChildRun.train`); the method moves the LR through a
    per-step hook. LR and training loss are recorded at every child step, the validation-subset loss
    every `steps_per_action` steps (where the environment observes it). A non-finite loss stops the run.
    Where the environment draws tasks (`env.tasks`), the seed's task is the one the run trains (or
    `task.task_seed`'s).
    """
    cfg = task.env
    setting = get_setting(cfg.setting)
    data = setting_data(setting, cfg.data_root, resolve_device(cfg.device), cfg.download)
    drawn = DRAWN if task.task_seed is None else episode_task(cfg, episode_rng(task.task_seed))
    child_task, child_seed, lr = start_episode(cfg, episode_rng(task.seed), task.initial_lr, task=drawn)
    child = ChildRun.for_episode(cfg, data, setting.model, child_seed, lr, child_task)
    if child_task is not None:
        cfg, data = child_task.env(cfg), child.data
    budget = Budget(cfg.child_steps, cfg.steps_per_action, child.val_x, child.val_y)
    result = RunResult(task.method.name, task.seed, task.initial_lr)
    start = time.perf_counter()
    driver = build_driver(task.method, child.model, child.optimizer, task.initial_lr, budget)
    child.optimizer = driver.optimizer
    lr_of_next_step = driver.lr

    def after_step(loss: torch.Tensor) -> None:
        nonlocal lr_of_next_step
        train_loss = loss.item()
        result.lrs.append(lr_of_next_step)
        result.train_losses.append(train_loss)
        driver.after_step(train_loss)
        lr_of_next_step = driver.lr

    result.val_steps.append(0)
    result.val_losses.append(_val_loss(child))
    while child.step_count < cfg.child_steps and not result.diverged:
        first = len(result.train_losses)
        child.train(cfg.steps_per_action, after_step)
        bad = np.flatnonzero(diverged(np.array(result.train_losses[first:])[:, None]))  # per step
        if len(bad):
            del result.lrs[first + bad[0] + 1:], result.train_losses[first + bad[0] + 1:]
            result.diverged = True
            break
        driver.eval_mode()
        val_loss = _val_loss(child)
        driver.train_mode()
        result.val_steps.append(child.step_count)
        result.val_losses.append(val_loss)
        result.diverged = bool(diverged([val_loss]))
        driver.after_validation(val_loss)
        lr_of_next_step = driver.lr
    if not result.diverged:
        driver.eval_mode()
        result.final = final_metrics(child.evaluate, data)
        result.diverged = bool(diverged(list(result.final.values())))
    result.wall_time_s = time.perf_counter() - start
    return result


def run_policy_batched(tasks: Sequence[Task]) -> list[RunResult]:
    """Learned-policy tasks of one environment config as children of batched passes.

    Each child trains what `run_task` trains for its seed and initial LR, with the policy acting in the
    batched environment rather than through `PolicyScheduler` in a plain loop: the same LRs and
    losses within float tolerance. Where the policy file holds several policies by initial LR, each
    drives its own tasks in a pass of their own. Each run's wall time is its share of its pass.
    """
    if not tasks:
        return []
    env_cfg, method = tasks[0].env, tasks[0].method
    if any(t.env != env_cfg or t.method != method or t.method.kind != "policy" for t in tasks):
        raise ValueError("run_policy_batched takes tasks of one policy method and one environment config")
    policies = load_policy(method.params["path"])
    driven_by: dict[Policy, list[int]] = {}  # task indices of each policy that drives some
    for i, task in enumerate(tasks):
        driven_by.setdefault(policies.for_initial_lr(task.initial_lr, env_cfg.optimizer, env_cfg.child_steps),
                             []).append(i)
    results: list[RunResult | None] = [None] * len(tasks)
    for policy, indices in driven_by.items():
        for i, result in zip(indices, _policy_pass(env_cfg, policy, method.name, [tasks[i] for i in indices])):
            results[i] = result
    return [r for r in results if r is not None]


def _policy_pass(env_cfg: EnvConfig, policy: Policy, method: str, tasks: Sequence[Task]) -> list[RunResult]:
    """`tasks` driven by `policy` as the children of one batched pass."""
    from lrctl.evaluation.episodes import run_episodes_batched

    # The batched environment observes and acts as the policy does (`PolicyScheduler` reads the same from
    # the policy file), whatever the setting's config says.
    env_cfg = acting_as(env_cfg, policy.spec)
    start = time.perf_counter()
    results = run_episodes_batched(env_cfg, policy.act, [(t.seed, t.initial_lr) for t in tasks], method=method)
    share = (time.perf_counter() - start) / len(tasks)
    for result in results:
        result.wall_time_s = share
    return results


def init_worker() -> None:
    """Worker processes: one torch thread each."""
    torch.set_num_threads(1)


def init_pool_worker(parent_pid: int) -> None:
    """A worker of a local pool: one torch thread, and an end as soon as its parent process ends (killed
    with -9, say), instead of computing on for nobody."""
    init_worker()
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True,
                     name="lrctl-parent-watch").start()


def _exit_when_orphaned(parent_pid: int, interval_s: float = 0.5) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(1)


def _indexed(item: tuple[int, Task]) -> tuple[int, RunResult]:
    return item[0], run_task(item[1])


def _run_each(tasks: Sequence[Task], workers: int, progress: Progress | None,
              on_ray: bool = False) -> list[RunResult]:
    if on_ray:
        from lrctl.evaluation.ray_execution import map_on_ray

        return map_on_ray(run_task, tasks, progress=progress)
    results: list[RunResult | None] = [None] * len(tasks)
    if workers <= 1 or len(tasks) <= 1:
        threads = torch.get_num_threads()
        init_worker()  # the thread count of a worker, so results do not depend on `workers`
        try:
            for i, task in enumerate(tasks):
                results[i] = run_task(task)
                if progress:
                    progress(1)
        finally:
            torch.set_num_threads(threads)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(min(workers, len(tasks)), initializer=init_pool_worker, initargs=(os.getpid(),)) as pool:
            for i, result in pool.imap_unordered(_indexed, list(enumerate(tasks))):
                results[i] = result
                if progress:
                    progress(1)
    return [r for r in results if r is not None]


def run_tasks(tasks: Sequence[Task], workers: int = 1, progress: Progress | None = None,
              batched: bool = False, on_ray: bool = False) -> list[RunResult]:
    """Run `tasks` (in worker processes when workers > 1); results come back in task order.

    With `batched`, the learned policy's tasks of each environment config run as children of one
    batched pass, where the setting's children can be batched; elsewhere they run one by one, with a
    warning. With `on_ray`, every run (and every batched pass) is a Ray task on the Ray this process is
    connected to (`lrctl.ray_cluster.RaySession`), with the thread count it would have here.
    """
    from lrctl.children.batched import batchable

    policy_idx = [i for i, t in enumerate(tasks) if t.method.kind == "policy"]
    if batched and policy_idx and batchable(tasks[policy_idx[0]].env,
                                            otherwise="the learned policy's episodes run one by one"):
        groups: list[list[int]] = []  # tasks of one environment config and one policy
        for i in policy_idx:
            group = next((g for g in groups if (tasks[g[0]].env, tasks[g[0]].method) ==
                          (tasks[i].env, tasks[i].method)), None)
            if group is None:
                groups.append([i])
            else:
                group.append(i)
        results: dict[int, RunResult] = {}
        group_tasks = [[tasks[i] for i in indices] for indices in groups]
        if on_ray:
            from lrctl.evaluation.ray_execution import map_on_ray

            passes = map_on_ray(run_policy_batched, group_tasks, threads=torch.get_num_threads(),
                                progress=progress, weight=len)
        else:
            passes = []
            for group in group_tasks:
                passes.append(run_policy_batched(group))
                if progress:
                    progress(len(group))
        for indices, group_results in zip(groups, passes):
            results.update(zip(indices, group_results))
        other_idx = [i for i in range(len(tasks)) if i not in results]
        results.update(zip(other_idx, _run_each([tasks[i] for i in other_idx], workers, progress, on_ray)))
        return [results[i] for i in range(len(tasks))]
    return _run_each(tasks, workers, progress, on_ray)
