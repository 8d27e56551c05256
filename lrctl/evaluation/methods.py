"""The methods an evaluation compares: each builds an optimizer and a way to move its LR per step.

Every method drives the same child (same initialisation, batch order and validation subset per seed)
with the same budget. The child optimizer is Adam (fused, as in the environment) unless a method
brings its own.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import (CosineAnnealingLR, LambdaLR, MultiStepLR, OneCycleLR,
                                      ReduceLROnPlateau)

from lrctl.baselines.clara import ClaraAdam

CLARA_DAMPING_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
CONSTANT_LR_GRID = (3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4)


@dataclass(frozen=True)
class MethodSpec:
    """A method and its settings, picklable for worker processes."""

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass
class Budget:
    """What every method is given: steps, decision interval, and the validation subset."""

    steps: int
    steps_per_action: int
    val_x: torch.Tensor
    val_y: torch.Tensor


class Driver:
    """An optimizer plus the rule that moves its LR; `after_step` is called after each optimizer step."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any = None, kind: str = "step") -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.kind = kind  # "step": scheduler.step(); "loss": step(train_loss); "plateau": step(val_loss)

    def after_step(self, train_loss: float, val_loss: float | None) -> None:
        if self.scheduler is None:
            return
        if self.kind == "step":
            self.scheduler.step()
        elif self.kind == "loss":
            self.scheduler.step(train_loss)
        elif self.kind == "plateau" and val_loss is not None:
            self.scheduler.step(val_loss)

    def eval_mode(self) -> None:
        """Schedule-free optimizers evaluate at their averaged point."""
        if hasattr(self.optimizer, "eval"):
            self.optimizer.eval()

    def train_mode(self) -> None:
        if hasattr(self.optimizer, "train"):
            self.optimizer.train()

    @property
    def lr(self) -> float:
        group = self.optimizer.param_groups[0]
        # Prodigy's effective step is d * lr; report what is applied.
        return float(group["lr"]) * float(group.get("d", 1.0))


def optional_peer_available(module: str) -> bool:
    """True when an optional peer optimizer's package is installed."""
    return importlib.util.find_spec(module) is not None


def standard_methods(policy_path: str | None, best_constant_lr: float | None,
                     clara_damping: float | None, include_peers: bool = True) -> list[MethodSpec]:
    """The comparison set. Tuned values (best constant LR, CLARA damping) must be given."""
    methods = []
    if policy_path is not None:
        methods.append(MethodSpec("learned", "policy", {"path": policy_path}, "learned policy, deterministic"))
    methods += [
        MethodSpec("constant", "constant", {}, "the initial LR throughout"),
    ]
    if best_constant_lr is not None:
        methods.append(MethodSpec("best-constant", "constant", {"lr": best_constant_lr},
                                  f"best of {list(CONSTANT_LR_GRID)} on validation (tuning seeds): {best_constant_lr:g}"))
    methods += [
        MethodSpec("step-decay", "step-decay", {}, "x0.1 at 50% and 75% of the budget (the paper's baseline)"),
        MethodSpec("cosine", "cosine", {}, "cosine annealing to 0 over the budget"),
        MethodSpec("linear", "linear", {}, "linear decay to 0 over the budget"),
        MethodSpec("onecycle", "onecycle", {}, "OneCycle with max_lr = initial LR"),
        MethodSpec("plateau", "plateau", {}, "ReduceLROnPlateau(x0.5, patience 5 decisions) on validation loss"),
    ]
    if clara_damping is not None:
        methods.append(MethodSpec("clara-adam", "clara", {"damping": clara_damping},
                                  f"Adam-CLARA (plain step), d tuned on validation over {list(CLARA_DAMPING_GRID)}"))
    if include_peers and optional_peer_available("schedulefree"):
        methods.append(MethodSpec("schedule-free-adam", "schedule-free", {}, "AdamWScheduleFree, lr = initial LR"))
    if include_peers and optional_peer_available("prodigyopt"):
        methods.append(MethodSpec("prodigy", "prodigy", {}, "Prodigy (lr=1, its own step-size estimate)"))
    return methods


def _adam(params: list[torch.Tensor], lr: float) -> torch.optim.Adam:
    """The environment's child optimizer (`lrctl.envs.child.build_optimizer`): fused Adam."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def build_driver(spec: MethodSpec, model: nn.Module, initial_lr: float, budget: Budget,
                 output_layer: nn.Module | None = None) -> Driver:
    """Optimizer and LR rule of `spec` for `model`, starting at `initial_lr`."""
    params = list(model.parameters())
    steps = budget.steps
    kind = spec.kind
    if kind == "policy":
        from lrctl.scheduler import PolicyScheduler

        opt = _adam(params, lr=initial_lr)
        sched = PolicyScheduler(opt, spec.params["path"], model=model, val_data=(budget.val_x, budget.val_y),
                                total_steps=steps, steps_per_action=budget.steps_per_action,
                                output_layer=output_layer)
        return Driver(opt, sched, "loss")
    if kind == "constant":
        return Driver(_adam(params, lr=spec.params.get("lr", initial_lr)))
    if kind == "step-decay":
        opt = _adam(params, lr=initial_lr)
        return Driver(opt, MultiStepLR(opt, milestones=[steps // 2, (3 * steps) // 4], gamma=0.1))
    if kind == "cosine":
        opt = _adam(params, lr=initial_lr)
        return Driver(opt, CosineAnnealingLR(opt, T_max=steps))
    if kind == "linear":
        opt = _adam(params, lr=initial_lr)
        return Driver(opt, LambdaLR(opt, lambda t: max(0.0, 1.0 - t / steps)))
    if kind == "onecycle":
        opt = _adam(params, lr=initial_lr)
        return Driver(opt, OneCycleLR(opt, max_lr=initial_lr, total_steps=steps + 1))
    if kind == "plateau":
        opt = _adam(params, lr=initial_lr)
        return Driver(opt, ReduceLROnPlateau(opt, factor=0.5, patience=5), "plateau")
    if kind == "clara":
        return Driver(ClaraAdam(params, lr=initial_lr, damping=spec.params["damping"], unit_step=False,
                                lr_min=1e-7, lr_max=1.0))
    if kind == "schedule-free":
        import schedulefree

        opt = schedulefree.AdamWScheduleFree(params, lr=initial_lr)
        opt.train()
        return Driver(opt)
    if kind == "prodigy":
        import prodigyopt

        return Driver(prodigyopt.Prodigy(params, lr=1.0))
    raise ValueError(f"unknown method kind {kind!r}")

