"""Train one child with one method, recording the LR and losses per step."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field


import torch
import torch.nn.functional as F

from lrctl.config import EnvConfig
from lrctl.data import load_dataset
from lrctl.envs.child import ChildRun, episode_child_seed, final_metrics
from lrctl.envs.lr_control import resolve_device
from lrctl.evaluation.methods import Budget, MethodSpec, build_driver
from lrctl.features import forward_in_eval_mode
from lrctl.settings import get_setting


@dataclass(frozen=True)
class Task:
    """One training run of the evaluation grid."""

    env: EnvConfig
    method: MethodSpec
    seed: int
    initial_lr: float


@dataclass
class RunResult:
    """Per-step curves and end-of-run metrics of one task."""

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

    @property
    def val_auc(self) -> float:
        """Mean validation-subset loss over the decision points: minus the environment's mean reward."""
        return sum(self.val_losses) / len(self.val_losses) if self.val_losses else math.nan


def _val_loss(child: ChildRun) -> float:
    logits = forward_in_eval_mode(child.model, child.val_x).float()
    return float(F.cross_entropy(logits, child.val_y))


def run_task(task: Task) -> RunResult:
    """Train the child that `LRControlEnv.reset(seed=task.seed)` would train, with `task.method`.

    LR and train loss are recorded at every child step, the validation-subset loss every
    `steps_per_action` steps (where the environment observes it). A non-finite loss stops the run.
    """
    cfg = task.env
    device = resolve_device(cfg.device)
    setting = get_setting(cfg.setting)
    data = load_dataset(setting.dataset, cfg.data_root, device, cfg.download)
    child = ChildRun(data, setting.model, seed=episode_child_seed(task.seed), lr=task.initial_lr,
                     steps=cfg.child_steps, batch_size=cfg.batch_size, val_subset_size=cfg.val_subset_size)
    budget = Budget(cfg.child_steps, cfg.steps_per_action, child.val_x, child.val_y)
    result = RunResult(task.method.name, task.seed, task.initial_lr)
    start = time.perf_counter()
    driver = build_driver(task.method, child.model, task.initial_lr, budget)
    child.optimizer = driver.optimizer
    model = child.model
    result.val_steps.append(0)
    result.val_losses.append(_val_loss(child))
    for step, idx in enumerate(child.order, start=1):
        result.lrs.append(driver.lr)
        x, y = data.train_batch(idx)
        loss = F.cross_entropy(model(x), y)
        driver.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        driver.optimizer.step()
        train_loss = loss.detach().item()
        result.train_losses.append(train_loss)
        val_loss = None
        if step % cfg.steps_per_action == 0:
            driver.eval_mode()
            val_loss = _val_loss(child)
            driver.train_mode()
            result.val_steps.append(step)
            result.val_losses.append(val_loss)
        if not math.isfinite(train_loss) or (val_loss is not None and not math.isfinite(val_loss)):
            result.diverged = True
            break
        driver.after_step(train_loss, val_loss)
    if not result.diverged:
        driver.eval_mode()
        result.final = final_metrics(child.evaluate, data)
        result.diverged = not all(math.isfinite(v) for v in result.final.values())
    result.wall_time_s = time.perf_counter() - start
    return result


def run_policy_batched(tasks: Sequence[Task]) -> list[RunResult]:
    """Learned-policy tasks of one environment config as children of one batched pass.

    Each child trains what `run_task` trains for its seed and initial LR, with the policy acting in the
    batched environment rather than through `PolicyScheduler` in a plain loop: the same LRs and
    losses within float tolerance. Each run's wall time is its share of the batched pass.
    """
    from lrctl.policy import load_policy
    from lrctl.rollout import run_episodes_batched

    if not tasks:
        return []
    env_cfg, method = tasks[0].env, tasks[0].method
    if any(t.env != env_cfg or t.method != method or t.method.kind != "policy" for t in tasks):
        raise ValueError("run_policy_batched takes tasks of one policy method and one environment config")
    policy = load_policy(method.params["path"])
    start = time.perf_counter()
    records = run_episodes_batched(env_cfg, policy.act, [(t.seed, t.initial_lr) for t in tasks])
    share = (time.perf_counter() - start) / len(tasks)
    spa = env_cfg.steps_per_action
    results = []
    for task, record in zip(tasks, records):
        result = RunResult(method.name, task.seed, task.initial_lr, wall_time_s=share)
        # lrs[0] is the initial LR; lrs[k] is the LR of the k-th interval of steps_per_action steps.
        result.lrs = [lr for lr in record.lrs[1:] for _ in range(spa)][:len(record.step_train_losses)]
        result.train_losses = list(record.step_train_losses)
        result.val_steps = [k * spa for k in range(len(record.val_losses))]
        result.val_losses = list(record.val_losses)
        result.final = dict(record.final)
        result.diverged = record.diverged
        results.append(result)
    return results


def init_worker() -> None:
    """Worker processes: one torch thread each."""
    torch.set_num_threads(1)



