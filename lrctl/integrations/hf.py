"""`LRControlCallback`: a Hugging Face `transformers.Trainer` callback that lets a learned lrctl policy move
the learning rate.

    from transformers import Trainer, TrainingArguments
    from lrctl.integrations.hf import LRControlCallback

    val_batch = collator([eval_dataset[i] for i in range(64)])
    trainer = Trainer(model, TrainingArguments("out", lr_scheduler_type="constant"), train_dataset=...,
                      callbacks=[LRControlCallback("general", val_batch=val_batch)])

Needs `pip install "lrctl[hf]"`.

The per-step training loss is not handed to Trainer callbacks, so the callback reads it where the
Trainer gets it: a forward hook on the model, put on at `on_train_begin`, takes the `.loss` of each
training forward pass (the loss the Trainer backpropagates when the model computes it from `labels`);
with gradient accumulation the scheduler gets the mean over the accumulated batches.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import TrainerCallback

from lrctl.atomic import write_atomic
from lrctl.deploy.policy import AnyPolicy
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.integrations.common import (
    IntegrationError,
    first_samples,
    resolve_policy,
    start_scheduler,
)

_WHERE = "LRControlCallback"
STATE_FILE = "lrctl_lr_control.pt"
"""Saved into each Trainer checkpoint folder, so `trainer.train(resume_from_checkpoint=...)` resumes the LRs."""


def model_logits(model: nn.Module, inputs: Any) -> torch.Tensor:
    """(batch, classes) logits of a Hugging Face model: `model(**inputs).logits` (or `model(inputs)`)."""
    out = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    return out.logits if hasattr(out, "logits") else out


class LRControlCallback(TrainerCallback):
    """Drive the LR of a `transformers.Trainer` with a learned policy, through a `lrctl.PolicyScheduler`.

    It steps once per optimizer step, after the Trainer's own LR scheduler, and sets the LR the policy
    chose, so the Trainer's schedule has no effect (use `lr_scheduler_type="constant"` to say so; another
    schedule warns). The Trainer's warm-up (`warmup_steps` or `warmup_ratio`) is kept: it becomes the
    scheduler's `warmup_steps`, and the policy takes over after it. The Trainer logs the LR each step
    trained with as `learning_rate`. Its state is saved in every checkpoint folder, and
    `trainer.train(resume_from_checkpoint=...)` takes the same later LRs.

    Args:
        policy: a policy file, a loaded policy (`lrctl.load_policy`), or a shipped policy's name (`general`).
        val_batch: the fixed validation batch the policy observes: a collated batch (a dict with `labels`)
            or `(x, y)`.
        val_samples: at most this many of its samples.
        total_steps: the budget in optimizer steps; default the Trainer's `state.max_steps`.
        steps_per_action: as for `lrctl.PolicyScheduler`.
        output_layer: as for `lrctl.PolicyScheduler`.
        deterministic: as for `lrctl.PolicyScheduler`.
        seed: as for `lrctl.PolicyScheduler`.
        forward: `forward(model, inputs) -> (batch, classes) logits`; default `model_logits` (sequence
            and image classification heads).
    """

    def __init__(self, policy: str | os.PathLike[str] | AnyPolicy = "general", *, val_batch: Any = None,
                 val_samples: int | None = None, total_steps: int | None = None,
                 steps_per_action: int | None = None, output_layer: nn.Linear | None = None,
                 forward: Any = model_logits, deterministic: bool = True, seed: int = 0) -> None:
        self.policy = resolve_policy(policy)
        if val_batch is None:
            raise IntegrationError(f"{_WHERE} needs a validation batch to observe: pass val_batch, e.g. "
                                   "data_collator([eval_dataset[i] for i in range(64)])")
        self.val_x, self.val_y = first_samples(val_batch, val_samples, _WHERE)
        self.total_steps, self.steps_per_action = total_steps, steps_per_action
        self.output_layer, self.forward = output_layer, forward
        self.deterministic, self.seed = deterministic, seed
        self.scheduler: PolicyScheduler | None = None
        self._losses: list[float] = []
        self._hook: Any = None

    def on_train_begin(self, args, state, control, model=None, optimizer=None, lr_scheduler=None, **kwargs):
        if optimizer is None or model is None:
            raise IntegrationError(f"{_WHERE}: the Trainer gave no model or optimizer at on_train_begin")
        if args.lr_scheduler_type not in ("constant", "constant_with_warmup"):
            warnings.warn(f"{_WHERE} sets the LR itself; the Trainer's schedule ({args.lr_scheduler_type}) has no "
                          "effect: set lr_scheduler_type='constant' (a warm-up is kept)", stacklevel=2)
        for group in optimizer.param_groups:  # the Trainer's warm-up may have set it to 0 already
            group["lr"] = group.get("initial_lr", group["lr"])
        self.scheduler = start_scheduler(
            optimizer, self.policy, self._saved_state(args, state), model=model, val_data=(self.val_x, self.val_y),
            output_layer=self.output_layer, forward=self.forward, total_steps=self.total_steps or state.max_steps,
            steps_per_action=self.steps_per_action, deterministic=self.deterministic, seed=self.seed,
            warmup_steps=args.get_warmup_steps(state.max_steps))
        self._report_lrs(lr_scheduler)
        self._losses = []
        self._hook = model.register_forward_hook(self._record_loss)

    def _record_loss(self, module: nn.Module, inputs: Any, output: Any) -> None:
        if not module.training or not torch.is_grad_enabled():
            return  # evaluation passes
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if loss is None:
            raise IntegrationError(f"{_WHERE}: the model's output has no loss; give the training batches labels "
                                   "(a custom compute_loss_func hides the loss from the callback)")
        self._losses.append(float(loss.detach()))

    def on_step_end(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        # Undo the Trainer's own scheduler step: the policy's LRs are the ones its scheduler last set.
        for group, lr in zip(optimizer.param_groups, self.scheduler.get_last_lr()):
            group["lr"] = lr
        if self._losses:
            self.scheduler.step(sum(self._losses) / len(self._losses))
            self._losses = []
        self._report_lrs(lr_scheduler)

    def _report_lrs(self, lr_scheduler: Any) -> None:
        # The Trainer logs `learning_rate` from its scheduler's get_last_lr(), read right after the next
        # optimizer step: make it return the LRs that step uses.
        if lr_scheduler is not None and hasattr(lr_scheduler, "_last_lr"):
            lr_scheduler._last_lr = list(self.scheduler.get_last_lr())

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir() and self.scheduler is not None:
            state_dict = self.scheduler.state_dict()
            write_atomic(folder / STATE_FILE, lambda tmp: torch.save(state_dict, tmp))

    def on_train_end(self, args, state, control, **kwargs):
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _saved_state(self, args, state) -> dict[str, Any] | None:
        """The scheduler's state in the checkpoint being resumed (the Trainer restored `state` from it)."""
        if state.global_step == 0:
            return None
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / STATE_FILE
        if not path.is_file():
            raise IntegrationError(f"{_WHERE}: resuming at step {state.global_step}, but {str(path)!r} is missing; "
                                   "resume from a checkpoint saved with this callback")
        return torch.load(path, weights_only=True)
