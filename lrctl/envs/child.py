"""One child network being trained: its model, optimizer, batch order and validation subset."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits
from lrctl.features import forward_in_eval_mode
from lrctl.models import build_model


@dataclass(frozen=True)
class ChildSeeds:
    """Independent seeds for the parts of one child run, derived from one episode seed."""

    init: int
    batches: int
    val_subset: int

    @classmethod
    def from_seed(cls, seed: int) -> "ChildSeeds":
        init, batches, val_subset = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint64)
        return cls(int(init) >> 1, int(batches) >> 1, int(val_subset) >> 1)


def final_metrics(evaluate: Callable[[torch.Tensor, torch.Tensor], tuple[float, float]],
                  data: DatasetSplits) -> dict[str, float]:
    """End-of-run metrics of a child: loss and accuracy on the full validation and the test split.

    `evaluate(x, y)` returns (loss, accuracy) of the child on (x, y).
    """
    val_loss, val_acc = evaluate(data.val_x, data.val_y)
    test_loss, test_acc = evaluate(data.test_x, data.test_y)
    return {"final_val_loss": val_loss, "final_val_accuracy": val_acc,
            "test_loss": test_loss, "test_accuracy": test_acc}


def episode_initial_lr(cfg: EnvConfig, rng: np.random.Generator, requested: Any = None) -> float:
    """An episode's initial LR: `requested` if given (it must lie in [lr_min, lr_max]), else one of
    `cfg.initial_lrs` drawn with `rng`, after the child seed (the order `LRControlEnv.reset` draws in)."""
    if requested is None:
        return float(cfg.initial_lrs[int(rng.integers(len(cfg.initial_lrs)))])
    lr = float(requested)
    if not (math.isfinite(lr) and cfg.lr_min <= lr <= cfg.lr_max):
        raise ValueError(f"initial_lr {requested!r} must lie in [lr_min, lr_max] = [{cfg.lr_min}, {cfg.lr_max}]")
    return lr


def episode_child_seed(seed: int) -> int:
    """The child seed `LRControlEnv.reset(seed=seed)` uses: the first draw of Gymnasium's seeded RNG.

    Written with numpy alone (as `gymnasium.utils.seeding.np_random` builds its generator), so the
    evaluation can train the very child an episode with that seed trains.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    return int(rng.integers(2**63 - 1))


def build_child_model(model_name: str, num_classes: int, seed: int, device: torch.device) -> nn.Module:
    """Initialise a child network from `seed` without touching the global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model(model_name, num_classes)
    return model.to(device)


def build_optimizer(model: nn.Module, name: str, lr: float, momentum: float) -> torch.optim.Optimizer:
    """The child optimizer: Adam, or SGD with momentum.

    Both use PyTorch's fused single-pass kernels (the ones the batched children run per child), so
    single and batched environments share the update arithmetic; on a CPU they also save most of the
    time the default for-loop implementation spends on the update.
    """
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, fused=True)
    raise ValueError(f"unknown optimizer {name!r}; allowed: adam, sgd")


def batch_order(n_train: int, batch_size: int, steps: int, seed: int, device: torch.device) -> torch.Tensor:
    """Indices of `steps` mini-batches: concatenated seeded permutations of the training set."""
    generator = torch.Generator().manual_seed(seed)
    needed = steps * batch_size
    epochs = -(-needed // n_train)
    order = torch.cat([torch.randperm(n_train, generator=generator) for _ in range(epochs)])
    return order[:needed].view(steps, batch_size).to(device)


def validation_subset(n_val: int, size: int, seed: int) -> torch.Tensor:
    """A seeded subset of validation indices (all of them when `size` >= n_val), in sorted order."""
    if size >= n_val:
        return torch.arange(n_val)
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(n_val, generator=generator)[:size].sort().values


class ChildRun:
    """A child network under training with a settable learning rate."""

    def __init__(
        self,
        data: DatasetSplits,
        model_name: str,
        *,
        seed: int,
        lr: float,
        steps: int,
        batch_size: int,
        val_subset_size: int,
        optimizer: str = "adam",
        momentum: float = 0.9,
    ) -> None:
        device = data.train_x.device
        seeds = ChildSeeds.from_seed(seed)
        self.data = data
        self.model = build_child_model(model_name, data.num_classes, seeds.init, device)
        self.model.train()
        self.optimizer = build_optimizer(self.model, optimizer, lr, momentum)
        self.order = batch_order(len(data.train_x), batch_size, steps, seeds.batches, device)
        subset = validation_subset(len(data.val_x), val_subset_size, seeds.val_subset).to(device)
        self.val_x = data.val_x[subset]
        self.val_y = data.val_y[subset]
        self.step_count = 0

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train(self, n_steps: int) -> torch.Tensor:
        """Run `n_steps` optimizer steps; returns their training losses (no device sync)."""
        model, optimizer = self.model, self.optimizer
        losses = []
        for idx in self.order[self.step_count:self.step_count + n_steps]:
            x, y = self.data.train_batch(idx)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        self.step_count += len(losses)
        return torch.stack(losses)

    @torch.no_grad()
    def weights_finite(self) -> bool:
        """True when every parameter is finite (one reduction, one sync)."""
        total = torch.stack([p.detach().float().sum() for p in self.model.parameters()]).sum()
        return bool(torch.isfinite(total))

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on (x, y), in eval mode."""
        logits = forward_in_eval_mode(self.model, x).float()
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        return float(loss), float(accuracy)
