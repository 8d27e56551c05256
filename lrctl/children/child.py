"""One child network being trained: its model, optimizer, batch order and validation subset."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lrctl.config import EnvConfig
from lrctl.data import DatasetSplits
from lrctl.deploy.features import forward_in_eval_mode, mode_matters
from lrctl.models import build_seeded_model, find_output_layer
from lrctl.tasks import episode_task

if TYPE_CHECKING:
    from lrctl.settings import ModelFactory
    from lrctl.tasks import ChildTask


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


def episode_start(cfg: EnvConfig, rng: np.random.Generator, requested_lr: Any = None) -> tuple[int, float]:
    """The child seed and initial LR of an episode, drawn from the episode's seeded `rng`.

    The child seed is drawn first, so it depends on the episode seed alone; then the initial LR is
    `requested_lr` if given (it must lie in [lr_min, lr_max]), else drawn log-uniformly from
    `cfg.initial_lr_range` if set, else one of `cfg.initial_lrs`. Every driver of a child (environment,
    batched children, evaluation) starts an episode through here.
    """
    child_seed = int(rng.integers(2**63 - 1))
    if requested_lr is None:
        if cfg.initial_lr_range:
            low, high = cfg.initial_lr_range
            return child_seed, float(math.exp(rng.uniform(math.log(low), math.log(high))))
        return child_seed, float(cfg.initial_lrs[int(rng.integers(len(cfg.initial_lrs)))])
    if isinstance(requested_lr, bool) or not isinstance(requested_lr, (int, float, np.floating, np.integer)):
        raise ValueError(f"initial_lr must be a number, got {requested_lr!r}")
    lr = float(requested_lr)
    if not (math.isfinite(lr) and cfg.lr_min <= lr <= cfg.lr_max):
        raise ValueError(f"initial_lr {requested_lr!r} must lie in [lr_min, lr_max] = [{cfg.lr_min}, {cfg.lr_max}]")
    return child_seed, lr


DRAWN = object()
"""`start_episode`'s default: draw the task from the episode's RNG."""


def start_episode(cfg: EnvConfig, rng: np.random.Generator, requested_lr: Any = None,
                  task: ChildTask | None | object = DRAWN) -> tuple[ChildTask | None, int, float]:
    """An episode's start from its seeded `rng`, in the one order every driver of a child uses (the
    environment's core, the evaluation runner, the outputs that name each seed's task): the task (drawn
    when `cfg` draws tasks, unless `task` gives it), then the child seed and the initial LR
    (`episode_start`). Returns (task or None, child seed, initial LR).
    """
    chosen = episode_task(cfg, rng) if task is DRAWN else task
    child_seed, lr = episode_start(cfg, rng, requested_lr)
    return chosen, child_seed, lr


def episode_rng(seed: int | None) -> np.random.Generator:
    """The RNG of an episode reset with `seed` (None: an unseeded one): the generator Gymnasium's
    `Env.reset(seed=seed)` makes (`gymnasium.utils.seeding.np_random`), built here without Gymnasium."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))


def build_child_model(model_name: "str | ModelFactory", data: DatasetSplits, seed: int,
                      device: torch.device) -> nn.Module:
    """Initialise a child network for `data` (its classes and input size) from `seed` without touching the
    global torch RNG."""
    return build_seeded_model(model_name, seed, data.num_classes, data.train_x[0].numel()).to(device)


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


def _flatten_parameters(model: nn.Module) -> torch.Tensor:
    """Move `model`'s parameters into one flat tensor (each parameter a view of it) and return it.

    One reduction over it checks every weight at once (a sum per parameter costs a launch each).
    """
    params = list(model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


class ChildRun:
    """A child network under training with a settable learning rate.

    `train` is the one child-training loop of lrctl: the environment calls it once per decision, and the
    evaluation drives every method through it with a per-step hook.
    """

    def __init__(
        self,
        data: DatasetSplits,
        model_name: "str | ModelFactory",
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
        self.model = build_child_model(model_name, data, seeds.init, device)
        self.model.train()
        self._switch_mode = mode_matters(self.model)
        self._flat = _flatten_parameters(self.model)  # before the optimizer takes the parameters
        self.optimizer = build_optimizer(self.model, optimizer, lr, momentum)
        self.order = batch_order(len(data.train_x), batch_size, steps, seeds.batches, device)
        subset = validation_subset(len(data.val_x), val_subset_size, seeds.val_subset).to(device)
        self.val_x = data.val_x[subset]
        self.val_y = data.val_y[subset]
        self.step_count = 0

    @classmethod
    def for_episode(cls, cfg: EnvConfig, data: DatasetSplits, model_name: "str | ModelFactory", seed: int,
                    lr: float,
                    task: "ChildTask | None" = None) -> "ChildRun":
        """The child of an episode with child seed `seed` under `cfg` (optimizer, budget, batches).

        A drawn `task` brings its own dataset, model, batch size, budget and optimizer instead of
        `data`, `model_name` and `cfg`'s.
        """
        if task is not None:
            cfg, data, model_name = task.env(cfg), task.data(cfg, data.train_x.device), task.model
        return cls(data, model_name, seed=seed, lr=lr, steps=cfg.child_steps, batch_size=cfg.batch_size,
                   val_subset_size=cfg.val_subset_size, optimizer=cfg.optimizer, momentum=cfg.momentum)

    def set_lr(self, lr: float) -> None:
        """Set the learning rate of every parameter group."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train(self, n_steps: int, on_step: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
        """Run `n_steps` optimizer steps of `self.optimizer`; returns their training losses.

        `on_step(loss)` runs after each optimizer step (schedulers, recording); without it there is no
        device sync.
        """
        model, optimizer = self.model, self.optimizer
        losses = []
        for idx in self.order[self.step_count:self.step_count + n_steps]:
            x, y = self.data.train_batch(idx)
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            self.step_count += 1
            if on_step is not None:
                on_step(losses[-1])
        return torch.stack(losses)

    @torch.no_grad()
    def weights_finite(self) -> bool:
        """True when every parameter is finite (one reduction, one sync)."""
        total = self._flat.sum()
        return bool(torch.isfinite(total))

    @torch.no_grad()
    def val_logits(self) -> torch.Tensor:
        """(N, C) float logits on the validation subset, in eval mode."""
        return forward_in_eval_mode(self.model, self.val_x, self._switch_mode).float()

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on (x, y), in eval mode."""
        logits = forward_in_eval_mode(self.model, x).float()
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
        return float(loss), float(accuracy)


class SingleChild:
    """One `ChildRun` behind the K-children interface of `lrctl.envs.core.EpisodeCore` (K = 1).

    Without a task it trains the setting's model on `data` under `cfg`; a drawn task brings its own
    dataset, model, batch size, budget and optimizer.
    """

    k = 1

    def __init__(self, data: DatasetSplits, model_name: "str | ModelFactory", cfg: EnvConfig) -> None:
        self.data, self.model_name, self.cfg = data, model_name, cfg
        self.child: ChildRun | None = None
        self._output_weight: torch.Tensor | None = None

    def reset_child(self, i: int, seed: int, lr: float, task: "ChildTask | None" = None) -> None:
        self.child = ChildRun.for_episode(self.cfg, self.data, self.model_name, seed, lr, task)
        self._output_weight = find_output_layer(self.child.model).weight

    def data_of(self, i: int) -> DatasetSplits:
        return self.child.data

    def set_lrs(self, lrs: np.ndarray) -> None:
        self.child.set_lr(float(lrs[0]))

    def train(self, n_steps: int, active: np.ndarray | None = None) -> torch.Tensor:
        if active is not None and not np.all(active):
            raise ValueError("one child cannot be held still; start its next episode instead")
        return self.child.train(n_steps).unsqueeze(0)

    def val_logits(self) -> torch.Tensor:
        return self.child.val_logits().unsqueeze(0)

    def val_labels(self) -> torch.Tensor:
        return self.child.val_y.unsqueeze(0)

    def output_weight(self) -> torch.Tensor:
        return self._output_weight.detach().unsqueeze(0)

    def finite(self) -> np.ndarray:
        return np.array([self.child.weights_finite()])

    def step_counts(self) -> np.ndarray:
        return np.array([self.child.step_count])

    def evaluate(self, i: int, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        return self.child.evaluate(x, y)
