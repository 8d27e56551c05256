"""CLARA (Cumulative Learning Rate Adaptation) for SGD and Adam, as `torch.optim.Optimizer`s.

Atamna et al., arXiv 2508.05408, after Schoenauer-Sebag et al., arXiv 1709.01427. Per parameter tensor k,
the update direction u_k is normalised on its own (SGD: the gradient; Adam: Adam's bias-corrected step),
a path p_k <- (1 - c) p_k + c u_k accumulates it, and once per step the one global learning rate becomes

    eta <- eta * exp(d * (sum_k ||p_k||^2 / sum_k mu_k - 1))

where mu_k is the expected ||p_k||^2 under pure-noise gradients: c / (2 - c) for SGD, and for Adam the
corrected reference (Adam's momentum correlates consecutive steps), computed for any tensor size:
the closed form for large tensors and a seeded Monte Carlo estimate for small ones. With equal mu_k this
is the paper's sum_k ||p_k||^2 / (K mu) - 1.

Differences from the original, all optional: eta may be clamped to [lr_min, lr_max] (no clamp by default).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import torch
from torch.optim import Optimizer

_NORM_FLOOR = 1e-12
_CLOSED_FORM_MIN_SIZE = 1000  # at and above this tensor size the Monte Carlo estimate equals the closed form
_MC_STEPS = 400
_MC_AVERAGE_LAST = 150
_MC_ELEMENTS = 40_000  # trials x size per Monte Carlo batch


def sgd_reference(c: float) -> float:
    """Expected squared path length of independent unit steps: c / (2 - c)."""
    return c / (2.0 - c)


def adam_reference_closed_form(c: float, beta1: float) -> float:
    """Large-tensor expected squared path length of normalised Adam steps under pure noise.

    Consecutive steps correlate about beta1 ** lag, which gives c/(2-c) (1 + b1 (1-c)) / (1 - b1 (1-c)).
    """
    r = beta1 * (1.0 - c)
    return sgd_reference(c) * (1.0 + r) / (1.0 - r)


@lru_cache(maxsize=256)
def adam_reference(size: int, c: float = 0.2, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                   seed: int = 0) -> float:
    """Expected ||p||^2 of CLARA's path for one Adam-updated tensor of `size` elements under N(0, I)
    gradients: the closed form from 1000 elements on, a seeded Monte Carlo estimate below that.

    The estimate runs Adam with bias correction on Gaussian gradients for 400 steps over many trials at
    once and averages ||p||^2 over the last 150 steps. It is deterministic for a given seed.
    """
    if size <= 0:
        raise ValueError(f"tensor size must be positive, got {size}")
    if size >= _CLOSED_FORM_MIN_SIZE:
        return adam_reference_closed_form(c, beta1)
    trials = max(100, _MC_ELEMENTS // size)
    g = torch.Generator().manual_seed(seed)
    m = torch.zeros(trials, size, dtype=torch.float32)
    v = torch.zeros_like(m)
    p = torch.zeros_like(m)
    total = 0.0
    for t in range(1, _MC_STEPS + 1):
        grad = torch.randn(trials, size, generator=g)
        m.mul_(beta1).add_(grad, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
        u = step / step.norm(dim=1, keepdim=True).clamp_min(_NORM_FLOOR)
        p.mul_(1 - c).add_(u, alpha=c)
        if t > _MC_STEPS - _MC_AVERAGE_LAST:
            total += float(p.pow(2).sum(dim=1).mean())
    return total / _MC_AVERAGE_LAST


class _Clara(Optimizer):
    """Shared CLARA machinery: per-tensor paths and the global learning-rate rule."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        for key in ("lr", "c", "damping"):
            if not defaults[key] > 0:
                raise ValueError(f"{key} must be > 0, got {defaults[key]}")
        if not defaults["c"] < 1:
            raise ValueError(f"c must lie in (0, 1), got {defaults['c']}")
        lo, hi = defaults["lr_min"], defaults["lr_max"]
        if lo is not None and hi is not None and not 0 < lo < hi:
            raise ValueError(f"need 0 < lr_min < lr_max, got {lo}, {hi}")
        super().__init__(params, defaults)

    def _direction(self, p: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError

    def _reference(self, p: torch.Tensor, group: dict[str, Any]) -> float:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter, then one update of each group's learning rate."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            c, lr = group["c"], group["lr"]
            path_sq, reference = [], 0.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                direction = self._direction(p, group)
                unit = direction / direction.norm().clamp_min(_NORM_FLOOR)
                p.add_(unit if group["unit_step"] else direction, alpha=-lr)
                state = self.state[p]
                if "path" not in state:
                    state["path"] = torch.zeros_like(p)
                state["path"].mul_(1 - c).add_(unit, alpha=c)
                path_sq.append(state["path"].pow(2).sum())
                reference += self._reference(p, group)
            if path_sq:
                ratio = float(torch.stack(path_sq).sum()) / reference
                new_lr = lr * math.exp(group["damping"] * (ratio - 1.0))
                if group["lr_min"] is not None:
                    new_lr = max(group["lr_min"], new_lr)
                if group["lr_max"] is not None:
                    new_lr = min(group["lr_max"], new_lr)
                group["lr"] = new_lr
        return loss


class ClaraSGD(_Clara):
    """SGD with CLARA's learning-rate adaptation.

    Args:
        params: parameters or parameter groups.
        lr: initial learning rate eta.
        c: path cumulation rate (0.2).
        damping: d, which multiplies the exponent (1e-3 in the authors' benchmarks; tune it).
        unit_step: step along the per-tensor normalised gradient (default) or the plain gradient.
        lr_min, lr_max: optional clamp of eta (None: unclamped, as in the original).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, c: float = 0.2, damping: float = 1e-3,
                 unit_step: bool = True, lr_min: float | None = None, lr_max: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, c=c, damping=damping, unit_step=unit_step, lr_min=lr_min,
                                      lr_max=lr_max))

    def _direction(self, p: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        return p.grad

    def _reference(self, p: torch.Tensor, group: dict[str, Any]) -> float:
        return sgd_reference(group["c"])


class ClaraAdam(_Clara):
    """Adam with CLARA's learning-rate adaptation and the corrected Adam reference value.

    Args:
        params: parameters or parameter groups.
        lr: initial learning rate eta.
        betas, eps: Adam's (bias-corrected) moment parameters.
        weight_decay: L2 penalty added to the gradient first.
        c, damping, unit_step, lr_min, lr_max: as for `ClaraSGD`; unit_step normalises Adam's step.
        corrected: use the Adam reference (default); False gives the original rule with c / (2 - c),
            whose learning rate grows on pure noise.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, c: float = 0.2, damping: float = 1e-3,
                 unit_step: bool = True, corrected: bool = True, lr_min: float | None = None,
                 lr_max: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, c=c,
                                      damping=damping, unit_step=unit_step, corrected=corrected,
                                      lr_min=lr_min, lr_max=lr_max))

    def _direction(self, p: torch.Tensor, group: dict[str, Any]) -> torch.Tensor:
        beta1, beta2 = group["betas"]
        grad = p.grad
        if group["weight_decay"]:
            grad = grad.add(p, alpha=group["weight_decay"])
        state = self.state[p]
        if "exp_avg" not in state:
            state["step"] = torch.zeros((), dtype=torch.float64)
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = float(state["step"])
        state["exp_avg"].mul_(beta1).add_(grad, alpha=1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        m_hat = state["exp_avg"] / (1 - beta1**t)
        v_hat = state["exp_avg_sq"] / (1 - beta2**t)
        return m_hat / (v_hat.sqrt() + group["eps"])

    def _reference(self, p: torch.Tensor, group: dict[str, Any]) -> float:
        if not group["corrected"]:
            return sgd_reference(group["c"])
        beta1, beta2 = group["betas"]
        return adam_reference(p.numel(), group["c"], beta1, beta2)
