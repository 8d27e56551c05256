"""K child networks of one setting trained together in one batched pass.

The K children's parameters live in one (K, P) tensor with a view per named parameter. One forward
pass (`vmap` of `functional_call`, or one batched matrix product per layer for a plain MLP; see
`lrctl.children.batched_forward`) computes every child's loss at once, one autograd pass their gradients,
and PyTorch's fused Adam (or SGD with momentum) kernel updates each child in place with that child's
learning rate.
Each child keeps the seed, initialisation, batch order, validation subset and LR that
`LRControlEnv.reset(seed=...)` gives it, and observations come from `lrctl.deploy.features.model_features`, so
the results match K single environments within float tolerance. Children with BatchNorm or Dropout
cannot be batched: `batchable` tells, and the callers (training, report, evaluation) then fall back to
one environment per child, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lrctl.children.batched_forward import batched_forward
from lrctl.children.child import (
    ChildSeeds,
    batch_order,
    build_child_model,
    validation_subset,
)
from lrctl.config import ConfigError, EnvConfig
from lrctl.data import DatasetSplits
from lrctl.deploy.features import mode_matters
from lrctl.error_text import describe
from lrctl.models import build_model, find_output_layer, model_label
from lrctl.settings import ModelFactory, get_setting, setting_label
from lrctl.tasks import ChildTask, draws_tasks

_EVAL_CHUNK = 1024


class _Slot(NamedTuple):
    """Where one named parameter lives in a child's row of the flat parameter tensor."""

    name: str
    offset: int
    numel: int
    stored_shape: tuple[int, ...]
    transposed: bool


def _transposed_gradients(forward: Callable[..., torch.Tensor], template: nn.Module,
                          x: torch.Tensor) -> dict[str, bool]:
    """For each parameter of `template`, whether its batched gradient comes out transposed."""
    params = {n: p.detach().unsqueeze(0).repeat(2, *[1] * p.dim()).requires_grad_()
              for n, p in template.named_parameters()}
    x = x.to(next(iter(params.values())).device).unsqueeze(0).expand(2, *x.shape)
    with torch.enable_grad():
        grads = torch.autograd.grad(forward(params, x).sum(), list(params.values()))
    return {n: g.dim() == 3 and not g.is_contiguous() and g.transpose(1, 2).is_contiguous()
            for n, g in zip(params, grads)}


def supports_batching(model: nn.Module) -> bool:
    """False for children whose forward pass depends on train/eval mode (BatchNorm, Dropout)."""
    return not mode_matters(model)


def batchable(env: EnvConfig | str, otherwise: str) -> bool:
    """Whether given episodes of `env` (a config, or a setting's name) can run as children of one batched
    pass; if not, warn that `otherwise` happens. Not for children with BatchNorm or Dropout, nor where
    each episode draws its own task (batched children share one task per round; see
    `lrctl.envs.batched_episodes.BatchedEpisodes`)."""
    setting = env if isinstance(env, str) else env.setting
    if not isinstance(env, str) and draws_tasks(env):
        warnings.warn(f"each seed draws its own task (env.tasks), while batched children share one; "
                      f"{otherwise}", stacklevel=2)
        return False
    model_name = get_setting(setting).model
    with torch.random.fork_rng(devices=[]):
        try:
            with torch.device("meta"):  # structure only: no memory
                model = build_model(model_name)
        except Exception:  # a user's factory that needs real tensors
            model = build_model(model_name)
    if supports_batching(model):
        return True
    warnings.warn(f"{model_label(model_name)} ({setting_label(setting)}) has BatchNorm or Dropout, which the "
                  f"batched pass cannot train; {otherwise}", stacklevel=2)
    return False


class BatchedChildren:
    """K children of one setting with stacked parameters and a per-child Adam or SGD state."""

    def __init__(self, data: DatasetSplits, model_name: str | ModelFactory, cfg: EnvConfig, k: int,
                 task: ChildTask | None = None) -> None:
        self.data, self.model_name, self.cfg, self.k, self.task = data, model_name, cfg, k, task
        self.device = data.train_x.device
        template = build_child_model(model_name, data, 0, torch.device("cpu"))
        if not supports_batching(template):
            raise ConfigError(f"{model_label(model_name)} has BatchNorm or Dropout, which the batched pass cannot "
                              "train; use vec_env: subproc for it (evaluate.py: leave out --batched)")
        out_layer = find_output_layer(template)
        self.out_name = next(n for n, p in template.named_parameters() if p is out_layer.weight)
        self._forward = batched_forward(template)
        # All K children's parameters live in one (K, P) tensor; each named parameter is a view of it.
        # Gradients come from ordinary autograd through the batched forward pass (about half the cost
        # of a torch.func.grad transform per step). A weight whose gradient comes out transposed (a
        # Linear weight, under vmap or in the MLP products) is stored transposed, so that the optimizer
        # kernel, which needs contiguous tensors, gets its gradient without a copy.
        try:
            transposed = _transposed_gradients(self._forward, template, data.train_x[:2])
        except Exception as err:  # e.g. a user's model that calls .item() or changes tensors in place
            raise ConfigError(f"{model_label(model_name)} cannot run as batched children ({describe(err)}); "
                              "use ppo.vec_env: subproc (evaluate.py: leave out --batched)") from None
        self._layout: list[_Slot] = []
        offset = 0
        for name, p in template.named_parameters():
            shape = (p.shape[1], p.shape[0]) if transposed[name] else tuple(p.shape)
            self._layout.append(_Slot(name, offset, p.numel(), shape, transposed[name]))
            offset += p.numel()
        self.flat = torch.zeros(k, offset, device=self.device)
        self.m = torch.zeros(k, offset, device=self.device)
        self.v = torch.zeros(k, offset, device=self.device)
        self.t = torch.zeros(k, device=self.device)
        self.lrs = np.zeros(k)
        self._updates = [0] * k  # optimizer steps per child, as self.t holds them for the kernels
        # Child i's parameters, moments and step count as the lists a fused optimizer kernel takes.
        self._child_params = [self._views(self.flat[i]) for i in range(k)]
        self._child_m = [self._views(self.m[i]) for i in range(k)]
        self._child_v = [self._views(self.v[i]) for i in range(k)]
        self._child_t = [[self.t[i]] * len(self._layout) for i in range(k)]
        self.orders = torch.zeros(k, cfg.child_steps, cfg.batch_size, dtype=torch.long, device=self.device)
        n_val = min(cfg.val_subset_size, len(data.val_x))
        # Each child's validation subset, gathered once per episode rather than at every observation.
        self.val_x = torch.zeros(k, n_val, *data.val_x.shape[1:], dtype=data.val_x.dtype, device=self.device)
        self.val_y = torch.zeros(k, n_val, dtype=data.val_y.dtype, device=self.device)
        self.steps = torch.zeros(k, dtype=torch.long, device=self.device)

    def _views(self, row: torch.Tensor) -> list[torch.Tensor]:
        """One child's parameters as stored (transposed weights stay transposed), each contiguous."""
        return [row[s.offset:s.offset + s.numel].view(s.stored_shape) for s in self._layout]

    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Each named parameter of all K children, (K, *shape), as a view of the flat tensor."""
        views = {}
        for s in self._layout:
            view = self.flat[:, s.offset:s.offset + s.numel].view(self.k, *s.stored_shape)
            views[s.name] = view.transpose(1, 2) if s.transposed else view
        return views

    def reset_child(self, i: int, seed: int, lr: float, task: ChildTask | None = None) -> None:
        """Give child i a fresh network, optimizer state, batch order and validation subset."""
        if task != self.task:
            raise ValueError(f"these batched children train {self.task}, not {task}")
        seeds = ChildSeeds.from_seed(seed)
        model = build_child_model(self.model_name, self.data, seeds.init, torch.device("cpu"))
        with torch.no_grad():
            for slot, stored, p in zip(self._layout, self._child_params[i], model.parameters()):
                stored.copy_(p.detach().t() if slot.transposed else p.detach())
            self.m[i] = 0
            self.v[i] = 0
            self.t[i] = 0
        self._updates[i] = 0
        self.steps[i] = 0
        self.lrs[i] = lr
        self.orders[i] = batch_order(len(self.data.train_x), self.cfg.batch_size, self.cfg.child_steps,
                                     seeds.batches, self.device)
        val_idx = validation_subset(len(self.data.val_x), self.cfg.val_subset_size, seeds.val_subset)
        val_idx = val_idx.to(self.device)
        self.val_x[i] = self.data.val_x[val_idx]
        self.val_y[i] = self.data.val_y[val_idx]

    @torch.no_grad()
    def train(self, n_steps: int, active: np.ndarray | None = None) -> torch.Tensor:
        """`n_steps` optimizer steps of every child (of those `active` marks: the others keep their
        parameters, optimizer state and step count); returns the (K, n_steps) training losses."""
        rows = torch.arange(self.k, device=self.device)
        active = None if active is None or np.all(active) else np.asarray(active, dtype=bool)
        moving = None if active is None else torch.as_tensor(active, device=self.device)
        last = self.orders.shape[1] - 1
        losses = []
        for _ in range(n_steps):
            idx = self.orders[rows, self.steps.clamp(max=last)]  # (K, B); a child held still may be at its end
            with torch.enable_grad():
                # Leaf views of the flat tensor: autograd then returns one gradient per parameter
                # instead of scattering each into a zero-filled (K, P) tensor.
                params = {n: p.detach().requires_grad_() for n, p in self.params.items()}
                xb, yb = self.data.train_batch(idx)
                logits = self._forward(params, xb)  # (K, B, C)
                loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none")
                loss = loss.view(self.k, -1).mean(dim=1)
                # Children are independent, so the gradient of the sum is each child's own gradient.
                grads = torch.autograd.grad(loss.sum(), list(params.values()))
            self._update(grads, active)
            self.steps += 1 if moving is None else moving.long()
            losses.append(loss.detach())
        return torch.stack(losses, dim=1)

    def _update(self, grads: tuple[torch.Tensor, ...], active: np.ndarray | None = None) -> None:
        """One optimizer step of every child, each with its own LR and step count.

        Runs the single-pass kernels behind `torch.optim.Adam(fused=True)` and `SGD(fused=True)`, once
        per child: the elementwise update of K children's flat parameters in separate tensor ops costs
        several passes over memory (13 ms against 1.3 ms per step for eight MNIST-sized MLPs here).
        """
        cfg = self.cfg
        self.t += 1 if active is None else torch.as_tensor(active, device=self.device, dtype=self.t.dtype)
        self._updates = [n + 1 if active is None or active[i] else n for i, n in enumerate(self._updates)]
        stored = [g.transpose(1, 2) if s.transposed else g for s, g in zip(self._layout, grads)]
        per_child = list(zip(*(g.unbind(0) for g in stored)))
        for i in range(self.k):
            if active is not None and not active[i]:
                continue
            g = [t.contiguous() for t in per_child[i]]  # no copy unless a layout was not foreseen
            if cfg.optimizer == "adam":
                torch._fused_adam_(self._child_params[i], g, self._child_m[i], self._child_v[i], [],
                                   self._child_t[i], lr=float(self.lrs[i]), beta1=0.9, beta2=0.999,
                                   weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False)
            else:
                momentum = cfg.momentum
                torch._fused_sgd_(self._child_params[i], g, self._child_m[i] if momentum else [],
                                  weight_decay=0.0, momentum=momentum, lr=float(self.lrs[i]), dampening=0.0,
                                  nesterov=False, maximize=False, is_first_step=self._updates[i] == 1)

    def data_of(self, i: int) -> DatasetSplits:
        return self.data

    def set_lrs(self, lrs: np.ndarray) -> None:
        """Each child's learning rate for the next steps."""
        self.lrs = np.array(lrs, dtype=np.float64)

    def step_counts(self) -> np.ndarray:
        """(K,) child steps taken in each child's episode."""
        return self.steps.cpu().numpy()

    @torch.no_grad()
    def val_logits(self) -> torch.Tensor:
        """(K, N, C) logits of each child on its own validation subset."""
        return self._forward(self.params, self.val_x)

    def val_labels(self) -> torch.Tensor:
        return self.val_y

    def output_weight(self) -> torch.Tensor:
        return self.params[self.out_name]

    @torch.no_grad()
    def evaluate(self, i: int, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Loss and accuracy of child i on (x, y)."""
        params = {n: p[i:i + 1] for n, p in self.params.items()}
        logits = torch.cat([self._forward(params, x[None, j:j + _EVAL_CHUNK])[0]
                            for j in range(0, len(x), _EVAL_CHUNK)]).float()
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())

    @torch.no_grad()
    def finite(self) -> np.ndarray:
        """(K,) True where every parameter of the child is finite."""
        return torch.isfinite(self.flat.sum(dim=1)).cpu().numpy()


class ChildrenWithTwins:
    """K children and their K twins as the two halves of one `BatchedChildren` of 2K: one training pass
    and one validation pass serve both.

    `children` (rows 0..K-1) and `twins` (rows K..2K-1) each have the `Children` interface of the
    episode core; `train` steps both halves at once. Each row is computed as it would be in a batch of
    its own half (the batched products and the per-child optimizer kernels treat every row alone), so
    the results are those of two `BatchedChildren` of K, bit for bit (tests pin it).

    Args:
        data: the task's splits.
        model_name: the child network's name or factory.
        cfg: the environment's config.
        k: the number of children (and of twins).
        task: the task every child trains, where the config draws tasks.
    """

    def __init__(self, data: DatasetSplits, model_name: str | ModelFactory, cfg: EnvConfig, k: int,
                 task: ChildTask | None = None) -> None:
        self.batch = BatchedChildren(data, model_name, cfg, 2 * k, task)
        self.k = k
        self.children = _Half(self, 0)
        self.twins = _Half(self, k)
        self._val_logits: torch.Tensor | None = None

    def train(self, n_steps: int, active: np.ndarray | None = None) -> torch.Tensor:
        """`n_steps` steps of every child and its twin (of those `active` marks, K bools); returns the
        children's (K, n_steps) training losses."""
        self._val_logits = None
        both = None if active is None else np.concatenate([active, active])
        return self.batch.train(n_steps, both)[:self.k]

    def val_logits(self) -> torch.Tensor:
        """(2K, N, C): computed once per state of the children, for both halves."""
        if self._val_logits is None:
            self._val_logits = self.batch.val_logits()
        return self._val_logits

    def changed(self) -> None:
        """Forget the validation logits (a child was reset)."""
        self._val_logits = None


class _Half:
    """The children (or the twins) of a `ChildrenWithTwins`: rows offset..offset+K-1 of its batch."""

    def __init__(self, pair: ChildrenWithTwins, offset: int) -> None:
        self.pair, self.k = pair, pair.k
        self.rows = slice(offset, offset + pair.k)
        self.offset = offset

    @property
    def task(self) -> ChildTask | None:
        return self.pair.batch.task

    def reset_child(self, i: int, seed: int, lr: float, task: ChildTask | None = None) -> None:
        self.pair.batch.reset_child(self.offset + i, seed, lr, task)
        self.pair.changed()

    def data_of(self, i: int) -> DatasetSplits:
        return self.pair.batch.data

    def set_lrs(self, lrs: np.ndarray) -> None:
        self.pair.batch.lrs[self.rows] = np.asarray(lrs, dtype=np.float64)

    def train(self, n_steps: int, active: np.ndarray | None = None) -> torch.Tensor:
        raise RuntimeError("the children and their twins train together: call ChildrenWithTwins.train")

    def val_logits(self) -> torch.Tensor:
        return self.pair.val_logits()[self.rows]

    def val_labels(self) -> torch.Tensor:
        return self.pair.batch.val_y[self.rows]

    def output_weight(self) -> torch.Tensor:
        return self.pair.batch.output_weight()[self.rows]

    def finite(self) -> np.ndarray:
        return self.pair.batch.finite()[self.rows]

    def step_counts(self) -> np.ndarray:
        return self.pair.batch.step_counts()[self.rows]

    def evaluate(self, i: int, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        return self.pair.batch.evaluate(self.offset + i, x, y)
