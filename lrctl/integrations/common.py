"""What the trainer integrations share: which policy, the validation batch it observes, and how a
scheduler starts, fresh or resumed from a checkpoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from lrctl.deploy.policy import AnyPolicy, load_policy, shipped_policy_path
from lrctl.deploy.scheduler import PolicyScheduler
from lrctl.errors import IntegrationError


def resolve_policy(policy: str | os.PathLike[str] | AnyPolicy) -> AnyPolicy:
    """A loaded policy: a loaded one, a policy file, or the name of a shipped one (`general`)."""
    if isinstance(policy, AnyPolicy):
        return policy
    if isinstance(policy, str) and not policy.endswith(".pt") and os.sep not in policy:
        return load_policy(shipped_policy_path(policy))
    return load_policy(policy)


def start_scheduler(optimizer: torch.optim.Optimizer, policy: AnyPolicy, saved: dict[str, Any] | None,
                    **scheduler_args: Any) -> PolicyScheduler:
    """A `PolicyScheduler` on the trainer's optimizer; with `saved` (its `state_dict()` from a checkpoint),
    resumed: the trainer has already restored the optimizer, so the decision the constructor takes is
    undone and the saved run's LRs are set again."""
    scheduler = PolicyScheduler(optimizer, policy, **scheduler_args)
    if saved is not None:
        scheduler.load_state_dict(saved)
        for group, lr in zip(optimizer.param_groups, saved["_last_lr"]):
            group["lr"] = lr
    return scheduler


def first_samples(batch: Any, limit: int | None, where: str) -> tuple[Any, torch.Tensor]:
    """(inputs, labels) of a validation batch, cut to `limit` samples.

    A batch is `(x, y)` (a tuple or list, as a TensorDataset's loader gives) or a mapping with a
    `labels` (or `label`) entry, whose other entries are the inputs (a Hugging Face batch).
    """
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[1], torch.Tensor):
        x, y = batch
    elif isinstance(batch, Mapping) and any(k in batch for k in ("labels", "label")):
        key = "labels" if "labels" in batch else "label"
        x, y = {k: v for k, v in batch.items() if k != key}, batch[key]
    else:
        raise IntegrationError(f"{where}: cannot split a validation batch of type {type(batch).__name__} into inputs "
                               "and labels; pass val_batch=(x, y)")
    if limit is not None:
        x = x[:limit] if isinstance(x, torch.Tensor) else {k: v[:limit] for k, v in x.items()}
        y = y[:limit]
    return x, y
