"""PolicyScheduler: a learned LR controller as a `torch.optim.lr_scheduler.LRScheduler`.

It needs torch and lrctl only. Like `ReduceLROnPlateau`, it takes what it needs in `step(train_loss)`;
every `steps_per_action` steps it computes the observation with `lrctl.deploy.features` (the module the
environment uses) from the model, the validation batch and the recorded training losses, and lets the
policy scale the learning rate.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrctl.deploy.actions import decision_lrs
from lrctl.deploy.features import (
    FeatureTracker,
    diverged,
    eval_mode,
    forward_in_eval_mode,
    mean_train_loss,
)
from lrctl.deploy.policy import TASK_DISTRIBUTION, AnyPolicy, load_policy
from lrctl.error_text import first_line
from lrctl.models import find_output_layer


class PolicyScheduler(LRScheduler):
    """Move the learning rate as a learned lrctl policy decides.

    Args:
        optimizer: the wrapped optimizer. With several parameter groups, all are scaled by the same
            factor; the first group's LR is the one the policy observes and that is clamped.
        policy: a policy file path (``policy.pt``) or a loaded policy. Where the file holds several
            policies by initial LR (`lrctl.deploy.policy.PolicyByInitialLR`), the optimizer's initial LR
            (its ``initial_lr``, else its LR at construction) picks the one that drives the run.
        model: the network being trained.
        val_data: ``(x_val, y_val)``, a fixed validation batch for the observation (moved to the model's
            device). Use the same size the policy was trained with where you can. With `forward`,
            ``x_val`` may be anything `forward` takes (a dict of tensors for a Hugging Face model).
        forward: ``forward(model, x_val) -> (N, num_classes) logits``; default ``model(x_val)``. It runs
            in eval mode without gradients.
        output_layer: the layer whose weights the features describe; default: the last ``nn.Linear``.
        total_steps: the training budget in optimizer steps; default: the budget the policy was trained
            for. The budget-fraction feature is ``steps / total_steps``; a base schedule is laid over it,
            and a policy with a cap per budget (`PolicySpec.cap_decisions`) sets its cap from it.
        steps_per_action: steps between decisions; default: the policy's own (another value warns).
        deterministic: take the most likely action (default) or sample one with `seed`.
        seed: seed of the sampling when ``deterministic=False``.
        warmup_steps: steps of a linear warm-up before the policy takes over (default 0: none). The LR
            rises from ``warmup_start_factor`` times the optimizer's LR to that LR, as torch's
            `LinearLR` would; the policy then starts as at an episode's reset, over the steps left
            (``total_steps - warmup_steps``). This is the way to warm up: `SequentialLR` and
            `ChainedScheduler` call ``step()`` without the loss the policy needs, so they refuse it.
        warmup_start_factor: the first warm-up step's LR as a fraction of the optimizer's (default 1/3,
            as `LinearLR`'s).
        last_epoch: as for every `LRScheduler`; leave at -1 and use `load_state_dict` to resume.

    The first decision happens at construction (after the warm-up, where there is one), before any
    training step, as at an episode's reset. A residual policy (trained with `env.action_base` other than
    constant) moves its own LR, `policy_lr`, and the optimizer gets it times the base schedule at
    ``steps / total_steps``; for any other policy `policy_lr` is the optimizer's LR, so that a change made
    to it by hand carries on.

    Divergence at deployment: where the observation is not finite (the loss or the weights overflowed),
    the scheduler takes no decision and keeps the LR (`skipped_decisions` counts them). The training run
    is the user's to stop; in the environment the same event ends the episode with a penalty instead.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from torch.nn import functional as F
        >>> import lrctl
        >>> model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
        >>> optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        >>> x_val, y_val = torch.randn(64, 8), torch.randint(0, 3, (64,))
        >>> scheduler = PolicyScheduler(optimizer, lrctl.shipped_policy_path(), model=model,
        ...                             val_data=(x_val, y_val), total_steps=100, warmup_steps=10)
        >>> for _ in range(100):
        ...     x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
        ...     loss = F.cross_entropy(model(x), y)
        ...     optimizer.zero_grad(); loss.backward(); optimizer.step()
        ...     scheduler.step(loss.item())
        >>> scheduler.get_last_lr()[0] > 0
        True
    """

    def __init__(
        self,
        optimizer: Optimizer,
        policy: str | os.PathLike[str] | AnyPolicy,
        *,
        model: nn.Module,
        val_data: tuple[torch.Tensor, torch.Tensor],
        output_layer: nn.Linear | None = None,
        forward: Callable[[nn.Module, Any], torch.Tensor] | None = None,
        total_steps: int | None = None,
        steps_per_action: int | None = None,
        deterministic: bool = True,
        seed: int = 0,
        warmup_steps: int = 0,
        warmup_start_factor: float = 1 / 3,
        last_epoch: int = -1,
    ) -> None:
        self.policies = policy if isinstance(policy, AnyPolicy) else load_policy(policy)
        spec = self.policies.spec
        self.total_steps = _positive_int("total_steps", total_steps if total_steps is not None else spec.child_steps)
        self.steps_per_action = _positive_int(
            "steps_per_action", steps_per_action if steps_per_action is not None else spec.steps_per_action)
        _check_optimizer(optimizer, spec.optimizers)
        first_group = optimizer.param_groups[0]
        self.policy_initial_lr = float(first_group.get("initial_lr", first_group["lr"]))
        self.warmup_steps = _warmup_steps(warmup_steps, self.total_steps)
        self.policy = self.policies.for_initial_lr(self.policy_initial_lr, optimizer_family(optimizer),
                                                   self.total_steps - self.warmup_steps)
        """The policy that drives this run (of several in the file, the one for its optimizer, initial LR and
        budget)."""
        if not isinstance(model, nn.Module) or next(model.parameters(), None) is None:
            raise TypeError(f"model must be an nn.Module with parameters, got {type(model).__name__}")
        if self.steps_per_action != spec.steps_per_action:
            warnings.warn(
                f"steps_per_action={self.steps_per_action}, but the policy was trained to act every "
                f"{spec.steps_per_action} steps (on {spec.setting}); its decisions may not carry over",
                stacklevel=2,
            )
        base = self.policy.spec.action_base  # members of one file may differ in it
        if total_steps is None and base != "constant":
            warnings.warn(
                f"the policy lays its {base} base schedule over total_steps, which defaults to "
                f"{spec.child_steps}; pass total_steps=your training budget in optimizer steps",
                stacklevel=2,
            )
        elif total_steps is None and self.policy.spec.cap_decisions:  # cut_cap_decisions needs it too
            warnings.warn(
                f"the policy sets its cap per decision from total_steps, which defaults to {spec.child_steps}; "
                "pass total_steps=your training budget in optimizer steps",
                stacklevel=2,
            )
        if self.total_steps != spec.child_steps and spec.setting != TASK_DISTRIBUTION:
            warnings.warn(
                f"total_steps={self.total_steps}, but the policy was trained for a budget of "
                f"{spec.child_steps} steps (on {spec.setting}); the budget-fraction feature uses total_steps",
                stacklevel=2,
            )
        layer = output_layer if output_layer is not None else find_output_layer(model)
        if not isinstance(layer, nn.Linear):
            raise ValueError(f"output_layer must be an nn.Linear, got {type(layer).__name__}")
        if not any(module is layer for module in model.modules()):
            raise ValueError("output_layer is not a module of model, so its weights would not be the ones trained; "
                             "pass one of model's own layers, e.g. model.fc (default: its last nn.Linear)")
        if forward is not None and not callable(forward):
            raise TypeError(f"forward must be a function forward(model, x_val) -> logits, got {type(forward).__name__}")
        x_val, y_val = _check_val_data(val_data, layer.out_features, any_inputs=forward is not None)
        device = next(model.parameters()).device
        self.model, self.output_layer, self.forward = model, layer, forward
        self.val_x, self.val_y = _to_device(x_val, device), y_val.to(device)
        self.tracker = FeatureTracker(1, self.policy.spec.feature_names)
        self.deterministic = deterministic
        if isinstance(warmup_start_factor, bool) or not isinstance(warmup_start_factor, (int, float)) or \
                not 0 < warmup_start_factor <= 1:
            raise ValueError(f"warmup_start_factor must lie in (0, 1], got {warmup_start_factor!r}")
        self.warmup_start_factor = float(warmup_start_factor)
        self._generator = torch.Generator().manual_seed(seed)
        self.steps_done = 0
        self.policy_lr = float(optimizer.param_groups[0]["lr"])
        self._losses: list[float] = []
        self._warned_budget = False
        self._started = False
        self._loading = False
        self.skipped_decisions = 0
        super().__init__(optimizer, last_epoch)

    # ------------------------------------------------------------------------------------------------
    def step(self, train_loss: float | torch.Tensor | None = None) -> None:  # type: ignore[override]
        """Record one optimizer step's training loss; every `steps_per_action` steps, act.

        Call it after ``optimizer.step()`` with that step's loss. The call made by the constructor
        (no loss) takes the first decision.
        """
        self._step_count += 1
        self.last_epoch += 1
        if train_loss is None:
            if self._started:
                raise ValueError(_NO_LOSS)
            self._started = True
            self._warm_up_or_start()
        else:
            self.steps_done += 1
            if self.steps_done > self.total_steps and not self._warned_budget:
                self._warned_budget = True
                warnings.warn(
                    f"step {self.steps_done} is past the budget of {self.total_steps} steps; the policy was "
                    f"trained for {self.policy.spec.child_steps} steps on {self.policy.spec.setting}",
                    stacklevel=2,
                )
            if self.steps_done <= self.warmup_steps:
                self._warm_up_or_start()
            else:
                self._losses.append(float(train_loss.detach()) if isinstance(train_loss, torch.Tensor)
                                    else float(train_loss))
                if self._policy_step() % self.steps_per_action == 0:
                    losses = torch.tensor(self._losses, dtype=torch.float64)
                    self._act(mean_train_loss(losses), self.tracker.interval_noise(losses))
                    self._losses = []
        self._last_lr = self.get_lr()

    @property  # type: ignore[override]
    def last_epoch(self) -> int:
        return self._last_epoch

    @last_epoch.setter
    def last_epoch(self, value: int) -> None:
        # SequentialLR's constructor steps every scheduler back by one ("undo"); nobody else lowers it.
        if getattr(self, "_started", False) and not self._loading and value < self._last_epoch:
            raise ValueError(_NO_LOSS)
        self._last_epoch = value

    def _policy_step(self) -> int:
        """Optimizer steps since the policy took over (after the warm-up)."""
        return self.steps_done - self.warmup_steps

    def _warm_up_or_start(self) -> None:
        """During the warm-up, set its LR; at its end (at once without one), take the first decision."""
        factor = 1.0 if self.warmup_steps == 0 else \
            self.warmup_start_factor + (1 - self.warmup_start_factor) * self.steps_done / self.warmup_steps
        if self.warmup_steps:
            for group in self.optimizer.param_groups:
                group["lr"] = float(group["initial_lr"]) * factor
        if self.steps_done == self.warmup_steps:
            self.policy_lr = float(self.optimizer.param_groups[0]["lr"])
            self._act(None)

    def _act(self, train_loss: torch.Tensor | None, noise: torch.Tensor | None = None) -> None:
        lr = float(self.optimizer.param_groups[0]["lr"])
        if train_loss is None:  # the first decision, at construction: name a misfit
            try:
                logits = self._val_logits()
            except RuntimeError as err:
                shape = tuple(self.val_x.shape) if isinstance(self.val_x, torch.Tensor) else type(self.val_x).__name__
                raise ValueError(f"val_data: the model cannot take x_val of shape {shape} "
                                 f"({first_line(err)}); pass validation inputs shaped as the training batches") \
                    from None
        else:
            logits = self._val_logits()
        budget = self.total_steps - self.warmup_steps
        obs, _ = self.tracker.observe(
            logits.unsqueeze(0), self.val_y.unsqueeze(0), self.output_layer.weight.detach().unsqueeze(0),
            None if train_loss is None else train_loss.reshape(1), np.array([lr]),
            np.array([self._policy_step()]), np.array([budget]), self.steps_per_action,
            starting=[0] if train_loss is None else None,
            train_loss_noise=None if noise is None else noise.reshape(1),
        )
        features = obs[0]
        if diverged(features):  # never reaches the policy; the LR stays and the user's loop decides
            self.skipped_decisions += 1
            return
        action = self.policy.act(features) if self.deterministic else \
            self.policy.sample(features, self._generator)
        spec = self.policy.spec
        if spec.action_base == "constant":
            self.policy_lr = lr
        self.policy_lr, new = decision_lrs(spec, self.policy_lr, action, self._policy_step(), budget,
                                           self.steps_per_action, self.policy_initial_lr)
        factor = new / lr
        for i, group in enumerate(self.optimizer.param_groups):
            group["lr"] = new if i == 0 else group["lr"] * factor

    @torch.no_grad()
    def _val_logits(self) -> torch.Tensor:
        if self.forward is None:
            return forward_in_eval_mode(self.model, self.val_x).float()
        with eval_mode(self.model):
            logits = self.forward(self.model, self.val_x)
        expected = (len(self.val_y), self.output_layer.out_features)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != expected:
            got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"forward(model, x_val) must return logits of shape {expected}, got {got}")
        return logits.float()

    def get_lr(self) -> list[float]:
        """The current learning rates (the policy sets them in `step`)."""
        return [group["lr"] for group in self.optimizer.param_groups]

    # ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """What resuming needs: counters, pending losses, previous predictions, sampling state."""
        return {
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "steps_done": self.steps_done,
            "policy_lr": self.policy_lr,
            "losses": list(self._losses),
            "warned_budget": self._warned_budget,
            "skipped_decisions": self.skipped_decisions,
            "generator": self._generator.get_state(),
            "tracker": self.tracker.state_dict(),
            "total_steps": self.total_steps,
            "steps_per_action": self.steps_per_action,
            "policy_initial_lr": self.policy_initial_lr,
            "warmup_steps": self.warmup_steps,
            "warmup_start_factor": self.warmup_start_factor,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore `state_dict()`; later LRs are then the same as in the run that saved it."""
        required = set(self.state_dict())
        missing = sorted(required - set(state_dict)) if isinstance(state_dict, dict) else ["all"]
        if missing:
            raise ValueError(f"state_dict is not a PolicyScheduler state (missing {', '.join(missing)}); pass "
                             "what PolicyScheduler.state_dict() returned")
        _positive_int("state_dict['total_steps']", state_dict["total_steps"])
        _positive_int("state_dict['steps_per_action']", state_dict["steps_per_action"])
        self._loading = True
        try:
            self.last_epoch = int(state_dict["last_epoch"])
        finally:
            self._loading = False
        self._step_count = int(state_dict["_step_count"])
        self._last_lr = list(state_dict["_last_lr"])
        self.steps_done = int(state_dict["steps_done"])
        self.policy_lr = float(state_dict["policy_lr"])
        self._losses = [float(v) for v in state_dict["losses"]]
        self._warned_budget = bool(state_dict["warned_budget"])
        self.skipped_decisions = int(state_dict["skipped_decisions"])
        self._generator.set_state(state_dict["generator"])
        self.tracker.load_state_dict(state_dict["tracker"], self.val_y.device)
        self.total_steps = int(state_dict["total_steps"])
        self.steps_per_action = int(state_dict["steps_per_action"])
        self.warmup_steps = _warmup_steps(state_dict["warmup_steps"], self.total_steps)
        self.warmup_start_factor = float(state_dict["warmup_start_factor"])
        self.policy_initial_lr = float(state_dict["policy_initial_lr"])
        self.policy = self.policies.for_initial_lr(self.policy_initial_lr, optimizer_family(self.optimizer),
                                                   self.total_steps - self.warmup_steps)
        self._started = True



_NO_LOSS = ("PolicyScheduler.step() needs the training loss, and SequentialLR and ChainedScheduler call it "
            "without one: call scheduler.step(loss.item()) after optimizer.step() yourself, and for a warm-up "
            "before the policy pass PolicyScheduler(..., warmup_steps=N)")


def _warmup_steps(value: Any, total_steps: int) -> int:
    """`value` as a number of warm-up steps that leaves the policy some budget, or a ValueError."""
    if value == 0 and not isinstance(value, bool):
        return 0
    steps = _positive_int("warmup_steps", value)
    if steps >= total_steps:
        raise ValueError(f"warmup_steps={steps} leaves none of total_steps={total_steps} to the policy; "
                         "choose fewer warm-up steps")
    return steps


def _positive_int(name: str, value: Any) -> int:
    """`value` as an int > 0, or a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)) or \
            not np.isfinite(value) or value != int(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


_OPTIMIZER_FAMILIES = {"adam": (torch.optim.Adam, torch.optim.AdamW), "sgd": (torch.optim.SGD,)}


def optimizer_family(optimizer: Optimizer) -> str | None:
    """The family (adam, sgd) of `optimizer` that a policy file can set a hand-over for, or None."""
    return next((name for name, classes in _OPTIMIZER_FAMILIES.items() if isinstance(optimizer, classes)), None)


def _check_optimizer(optimizer: Any, trained_with: tuple[str, ...]) -> None:
    """A usable optimizer; a warning where the policy was trained with another kind."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if not optimizer.param_groups:
        raise ValueError("optimizer has no parameter groups; build it with the model's parameters")
    lr = optimizer.param_groups[0].get("lr")
    if isinstance(lr, torch.Tensor):
        lr = float(lr)
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"optimizer's learning rate must be a positive number, got {lr!r}")
    families = [name for name in trained_with if name in _OPTIMIZER_FAMILIES]
    if families and not isinstance(optimizer, tuple(c for n in families for c in _OPTIMIZER_FAMILIES[n])):
        warnings.warn(f"the policy was trained with {' and '.join(families)}, not {type(optimizer).__name__}; "
                      "its decisions may not carry over (check with evaluate.py on your task)", stacklevel=3)


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, Mapping):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _check_val_data(val_data: Any, num_classes: int, any_inputs: bool = False) -> tuple[Any, torch.Tensor]:
    """`val_data` as (inputs, integer labels) of one non-empty batch, or an error naming what is wrong.

    `any_inputs`: the inputs go to a user's `forward`, so only the labels are checked."""
    if not isinstance(val_data, (tuple, list)) or len(val_data) != 2 or \
            not isinstance(val_data[1], torch.Tensor) or not (any_inputs or isinstance(val_data[0], torch.Tensor)):
        raise TypeError("val_data must be a pair of tensors (x_val, y_val)")
    x_val, y_val = val_data
    if any_inputs:
        if y_val.ndim != 1 or len(y_val) == 0:
            raise ValueError(f"val_data: y_val must be one label per sample, got shape {tuple(y_val.shape)}")
    elif x_val.ndim == 0 or len(x_val) == 0:
        raise ValueError(f"val_data: x_val must hold at least one sample, got shape {tuple(x_val.shape)}")
    if not any_inputs and not x_val.is_floating_point():
        raise ValueError(f"val_data: x_val must be a floating-point tensor, got {x_val.dtype}")
    if not any_inputs and (y_val.ndim != 1 or len(y_val) != len(x_val)):
        raise ValueError(f"val_data: y_val must be one label per sample, shape ({len(x_val)},), got "
                         f"{tuple(y_val.shape)}")
    if y_val.is_floating_point() or y_val.is_complex() or y_val.dtype == torch.bool:
        raise ValueError(f"val_data: y_val must hold integer class labels, got {y_val.dtype}")
    if int(y_val.min()) < 0 or int(y_val.max()) >= num_classes:
        raise ValueError(f"val_data: labels must lie in 0..{num_classes - 1} (the output layer's size), got "
                         f"{int(y_val.min())}..{int(y_val.max())}")
    return x_val, y_val.long()
