"""The methods an evaluation compares: each builds an optimizer and a way to move its LR per step.

Every method drives the same child (same initialisation, batch order and validation subset per seed)
with the same budget. Schedules move the LR of the child's own optimizer, the setting's (`env.optimizer`:
Adam, or SGD with momentum, as the environment builds it); CLARA, schedule-free and Prodigy bring their
own optimizer, matched to the setting's where a variant exists (Adam-CLARA or SGD-CLARA, AdamW- or
SGD-schedule-free).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    LambdaLR,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
)

from lrctl.baselines.clara import ClaraAdam, ClaraSGD
from lrctl.deploy.actions import DECAY_SHAPES
from lrctl.evaluation.baseline_names import PEER_PACKAGES

CLARA_DAMPING_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
CONSTANT_LR_GRID = (3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4)
ORACLE_SCHEDULES = ("constant", "cosine", "linear", "onecycle")
"""The schedules the tuned oracle chooses among, each from every LR of `CONSTANT_LR_GRID`: what a user
who tunes the LR and picks a standard schedule on validation would run."""
ORACLE = "tuned-oracle"


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
    """An optimizer plus the rule that moves its LR, called after each optimizer step and validation."""

    def __init__(self, optimizer: torch.optim.Optimizer, scheduler: Any = None, kind: str = "step") -> None:
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.kind = kind  # "step": scheduler.step(); "loss": step(train_loss); "plateau": step(val_loss)

    def after_step(self, train_loss: float) -> None:
        """After each optimizer step, with that step's training loss."""
        if self.kind == "step" and self.scheduler is not None:
            self.scheduler.step()
        elif self.kind == "loss":
            self.scheduler.step(train_loss)

    def after_validation(self, val_loss: float) -> None:
        """After each validation pass (every `steps_per_action` steps), with its loss."""
        if self.kind == "plateau":
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


def uses_sgd(optimizer: torch.optim.Optimizer) -> bool:
    """Whether a child optimizer is SGD (its methods then take the SGD variants of CLARA and schedule-free)."""
    return isinstance(optimizer, torch.optim.SGD)


def baseline_name(spec: MethodSpec) -> str:
    """The name `--baselines` gives `spec`: its family for CLARA and schedule-free, `oracle` for the tuned
    oracle, else its own."""
    if spec.name == ORACLE:
        return "oracle"
    return spec.kind if spec.kind in ("clara", "schedule-free") else spec.name


def standard_methods(policy_path: str | None, best_constant_lr: float | None,
                     clara_damping: float | None, include_peers: bool = True,
                     optimizer: str = "adam", baselines: Collection[str] | None = None,
                     oracle: tuple[str, float] | None = None) -> list[MethodSpec]:
    """The comparison set for a child optimizer (`adam` or `sgd`): the learned policy (with a policy)
    and the baselines, all of them or those named in `baselines`. A tuned baseline (best constant LR,
    CLARA, the tuned oracle's (schedule, LR)) is in the set only when its tuned value is given."""
    methods = _all_methods(policy_path, best_constant_lr, clara_damping, include_peers, optimizer)
    if oracle is not None:
        schedule, lr = oracle
        methods.append(MethodSpec(ORACLE, schedule, {"lr": lr},
                                  f"the tuned oracle: {schedule} from {lr:g}, the best of the LRs {list(CONSTANT_LR_GRID)} "
                                  f"x {list(ORACLE_SCHEDULES)} on validation (tuning seeds); it ignores the initial "
                                  "LR, so its runs are the same from every start"))
    if baselines is None:
        return methods
    return [m for m in methods if m.kind == "policy" or baseline_name(m) in baselines]


def _all_methods(policy_path: str | None, best_constant_lr: float | None, clara_damping: float | None,
                 include_peers: bool, optimizer: str) -> list[MethodSpec]:
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
        methods.append(MethodSpec(f"clara-{optimizer}", "clara", {"damping": clara_damping},
                                  f"{optimizer.capitalize()}-CLARA (plain step), d tuned on validation over "
                                  f"{list(CLARA_DAMPING_GRID)}"))
    if include_peers and optional_peer_available(PEER_PACKAGES["schedule-free"]):
        name = "AdamWScheduleFree" if optimizer == "adam" else "SGDScheduleFree"
        methods.append(MethodSpec(f"schedule-free-{optimizer}", "schedule-free", {}, f"{name}, lr = initial LR"))
    if include_peers and optional_peer_available(PEER_PACKAGES["prodigy"]):
        methods.append(MethodSpec("prodigy", "prodigy", {}, "Prodigy (lr=1, its own step-size estimate)"))
    if include_peers and optional_peer_available(PEER_PACKAGES["d-adaptation"]):
        name = "DAdaptAdam" if optimizer == "adam" else "DAdaptSGD"
        methods.append(MethodSpec("d-adaptation", "d-adaptation", {}, f"{name} (lr=1, its own step-size estimate)"))
    return methods


def build_driver(spec: MethodSpec, model: nn.Module, optimizer: torch.optim.Optimizer, initial_lr: float,
                 budget: Budget) -> Driver:
    """Optimizer and LR rule of `spec` for `model`, starting at `initial_lr`.

    `optimizer` is the child's own optimizer (the setting's); schedules move its LR, and methods that
    bring their own optimizer build it on `model`'s parameters instead.
    """
    steps = budget.steps
    kind = spec.kind
    sgd = uses_sgd(optimizer)
    start = float(spec.params.get("lr", initial_lr))  # a tuned method brings its own LR
    for group in optimizer.param_groups:
        group["lr"] = start
    if kind == "policy":
        from lrctl.deploy.scheduler import PolicyScheduler

        sched = PolicyScheduler(optimizer, spec.params["path"], model=model, val_data=(budget.val_x, budget.val_y),
                                total_steps=steps, steps_per_action=budget.steps_per_action)
        return Driver(optimizer, sched, "loss")
    if kind == "constant":
        return Driver(optimizer)
    if kind == "step-decay":
        return Driver(optimizer, MultiStepLR(optimizer, milestones=[steps // 2, (3 * steps) // 4], gamma=0.1))
    if kind == "cosine":
        return Driver(optimizer, CosineAnnealingLR(optimizer, T_max=steps))
    if kind == "linear":
        return Driver(optimizer, LambdaLR(optimizer, lambda t: DECAY_SHAPES["linear"](t / steps)))
    if kind == "onecycle":
        return Driver(optimizer, OneCycleLR(optimizer, max_lr=start, total_steps=steps + 1))
    if kind == "plateau":
        return Driver(optimizer, ReduceLROnPlateau(optimizer, factor=0.5, patience=5), "plateau")
    params = list(model.parameters())
    if kind == "clara":
        clara = ClaraSGD if sgd else ClaraAdam
        return Driver(clara(params, lr=initial_lr, damping=spec.params["damping"], unit_step=False,
                            lr_min=1e-7, lr_max=1.0))
    if kind == "schedule-free":
        import schedulefree

        opt = schedulefree.SGDScheduleFree(params, lr=initial_lr) if sgd else \
            schedulefree.AdamWScheduleFree(params, lr=initial_lr)
        opt.train()
        return Driver(opt)
    if kind == "prodigy":
        import prodigyopt

        return Driver(prodigyopt.Prodigy(params, lr=1.0))
    if kind == "d-adaptation":
        import dadaptation

        return Driver(dadaptation.DAdaptSGD(params, lr=1.0, momentum=0.9) if sgd else
                      dadaptation.DAdaptAdam(params, lr=1.0))
    raise ValueError(f"unknown method kind {kind!r}")
