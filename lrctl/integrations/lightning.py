"""`LRControl`: a PyTorch Lightning callback that lets a learned lrctl policy move the learning rate.

    import lightning.pytorch as pl
    from lrctl.integrations.lightning import LRControl

    trainer = pl.Trainer(max_steps=500, callbacks=[LRControl("general")])
    trainer.fit(model, train_loader, val_loader)

Needs `pip install "lrctl[lightning]"`.
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities.model_helpers import is_overridden

from lrctl.deploy.policy import AnyPolicy
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.integrations.common import (
    IntegrationError,
    first_samples,
    resolve_policy,
    start_scheduler,
)

_WHERE = "LRControl"


class LRControl(pl.Callback):
    """Drive the LR of a `Trainer.fit` with a learned policy, through a `lrctl.PolicyScheduler`.

    The scheduler steps once per optimizer step (with `accumulate_grad_batches`, once per accumulated
    step, on the mean loss of its batches, as Lightning counts steps), with the training loss from
    `training_step`'s output (a tensor or a dict with `loss`). The LR each optimizer step trained with
    is logged to the trainer's loggers as `log_name` (as the Hugging Face callback logs it). The callback's state is saved in Lightning checkpoints, so a fit resumed from
    one takes the same later LRs as the uninterrupted fit.

    Args:
        policy: a policy file, a loaded policy (`lrctl.load_policy`), or a shipped policy's name (`general`,
            the default).
        val_batch: `(x, y)`, the fixed validation batch the policy observes; default: the first batch of
            the trainer's validation dataloader, cut to `val_samples`.
        val_samples: at most this many validation samples (default: the whole batch).
        total_steps: the budget in optimizer steps; default `trainer.estimated_stepping_batches`.
        steps_per_action: as for `lrctl.PolicyScheduler`.
        output_layer: as for `lrctl.PolicyScheduler`.
        forward: as for `lrctl.PolicyScheduler`.
        deterministic: as for `lrctl.PolicyScheduler`.
        seed: as for `lrctl.PolicyScheduler`.
        log_name: the name of the logged LR.
    """

    def __init__(self, policy: str | os.PathLike[str] | AnyPolicy = "general", *,
                 val_batch: tuple[Any, torch.Tensor] | None = None, val_samples: int | None = None,
                 total_steps: int | None = None, steps_per_action: int | None = None,
                 output_layer: torch.nn.Linear | None = None, forward: Any = None, deterministic: bool = True,
                 seed: int = 0, log_name: str = "lrctl/lr") -> None:
        self.policy = resolve_policy(policy)
        if val_samples is not None and (isinstance(val_samples, bool) or not isinstance(val_samples, int)
                                        or val_samples < 1):
            raise IntegrationError(f"{_WHERE}: val_samples must be a positive integer, got {val_samples!r}")
        self.val_batch, self.val_samples = val_batch, val_samples
        self.total_steps, self.steps_per_action = total_steps, steps_per_action
        self.output_layer, self.forward = output_layer, forward
        self.deterministic, self.seed, self.log_name = deterministic, seed, log_name
        self.scheduler: PolicyScheduler | None = None
        self._pending_state: dict[str, Any] | None = None
        self._step_loss = 0.0  # sum of the current optimizer step's normalised batch losses
        self._seen_global_step = 0

    # ---------------------------------------------------------------------------------------------
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if len(trainer.optimizers) != 1:
            raise IntegrationError(f"{_WHERE} drives one optimizer, and configure_optimizers returned "
                                   f"{len(trainer.optimizers)}; return one (parameter groups are fine)")
        if trainer.lr_scheduler_configs:
            raise IntegrationError(f"{_WHERE} moves the LR itself; return no LR scheduler from configure_optimizers")
        if self.forward is None and not is_overridden("forward", pl_module, pl.LightningModule):
            raise IntegrationError(f"{_WHERE} observes the logits module(x_val), and {type(pl_module).__name__} "
                                   "defines no forward; define one, or pass forward=lambda module, x: module.net(x)")
        optimizer = trainer.optimizers[0]
        budget = self.total_steps if self.total_steps is not None else int(trainer.estimated_stepping_batches)
        resumed = self._pending_state
        self.scheduler = start_scheduler(
            optimizer, self.policy, None if resumed is None else resumed["scheduler"], model=pl_module,
            val_data=self._validation_batch(trainer), output_layer=self.output_layer, forward=self.forward,
            total_steps=budget, steps_per_action=self.steps_per_action, deterministic=self.deterministic,
            seed=self.seed)
        if resumed is not None:
            self._step_loss = resumed["step_loss"]
            self._pending_state = None
        self._seen_global_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:  # training_step skipped the batch
            return
        self._step_loss += float(loss.detach())
        if trainer.global_step == self._seen_global_step:  # gradients still accumulating
            return
        self._seen_global_step = trainer.global_step
        used = float(trainer.optimizers[0].param_groups[0]["lr"])  # logged: the LR this step trained with
        # Lightning hands back loss / accumulate_grad_batches, so the sum over the step is the mean loss.
        self.scheduler.step(self._step_loss)
        self._step_loss = 0.0
        pl_module.log(self.log_name, used, on_step=True, on_epoch=False, logger=True, prog_bar=False)

    # ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        if self.scheduler is None:
            return {} if self._pending_state is None else dict(self._pending_state)
        return {"scheduler": self.scheduler.state_dict(), "step_loss": self._step_loss}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            self._pending_state = dict(state_dict)

    # ---------------------------------------------------------------------------------------------
    def _validation_batch(self, trainer: pl.Trainer) -> tuple[Any, torch.Tensor]:
        if self.val_batch is not None:
            return first_samples(self.val_batch, self.val_samples, _WHERE)
        if trainer.val_dataloaders is None:  # not loaded yet when the sanity check was skipped
            trainer.fit_loop.epoch_loop.val_loop.setup_data()
        loaders = trainer.val_dataloaders
        if isinstance(loaders, (list, tuple)):
            loaders = loaders[0] if loaders else None
        if loaders is None:
            raise IntegrationError(f"{_WHERE} needs a validation batch to observe: pass val_batch=(x, y), or give "
                                   "the fit a val_dataloader and a validation_step")
        batch = next(iter(loaders), None)
        if batch is None:
            raise IntegrationError(f"{_WHERE}: the validation dataloader is empty; pass val_batch=(x, y)")
        return first_samples(batch, self.val_samples, _WHERE)
