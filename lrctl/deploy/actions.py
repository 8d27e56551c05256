"""How a controller action changes the learning rate: the capped, clamped update rule, and the base
schedule that a residual policy's corrections multiply."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

ACTION_MODES = ("discrete", "continuous")
"""Discrete: up, down or keep by the capped factor; continuous: a factor within the cap."""
DISCRETE_UP, DISCRETE_DOWN, DISCRETE_KEEP = 0, 1, 2

DECAY_SHAPES = {"cosine": lambda f: 0.5 * (1.0 + math.cos(math.pi * f)),
                "linear": lambda f: 1.0 - min(1.0, f)}
"""Decay to 0 as a multiplier of the initial LR, by the fraction f of the budget done: the cosine and
linear baselines and the bases a residual policy corrects."""

ONECYCLE_WARMUP, ONECYCLE_DIV, ONECYCLE_FINAL_DIV = 0.3, 25.0, 1e4
"""`torch.optim.lr_scheduler.OneCycleLR`'s defaults: pct_start, div_factor, final_div_factor."""


def _cosine_between(start: float, end: float, progress: float) -> float:
    return end + (start - end) * DECAY_SHAPES["cosine"](progress)


def onecycle_shape(f: float) -> float:
    """OneCycleLR's multiplier of max_lr (its default cosine phases) at the fraction f of the budget: up
    from 1/25 to 1 over the first 30%, then down to 1/(25 * 1e4) at the end."""
    f = min(1.0, max(0.0, f))
    low = 1.0 / ONECYCLE_DIV
    if f <= ONECYCLE_WARMUP:
        return _cosine_between(low, 1.0, f / ONECYCLE_WARMUP)
    return _cosine_between(1.0, low / ONECYCLE_FINAL_DIV, (f - ONECYCLE_WARMUP) / (1.0 - ONECYCLE_WARMUP))


BASE_SHAPES = {**DECAY_SHAPES, "onecycle": onecycle_shape}
"""The schedules a residual policy's LR is multiplied by, as multipliers of the initial LR by the
fraction of the budget done."""

ACTION_BASES = ("constant",) + tuple(BASE_SHAPES)
"""What the policy's LR is multiplied by before it is applied (`env.action_base`): constant (1, the
policy moves the LR itself), or a base shape, so that keeping is that schedule and actions correct it."""


def base_multiplier(action_base: str, steps_done: int, budget: int, steps_per_action: int) -> float:
    """The base schedule's multiplier for the `steps_per_action` steps that start at `steps_done`.

    It is taken at the middle of those steps, so that each decision's LR is about the schedule's mean
    over them (exactly so for linear), and the last decision's LR is not zero. Past the budget
    the base stays at its end.
    """
    if action_base == "constant":
        return 1.0
    if action_base not in BASE_SHAPES:
        raise ValueError(f"unknown action base {action_base!r}; allowed: {', '.join(ACTION_BASES)}")
    return BASE_SHAPES[action_base](min(1.0, (steps_done + steps_per_action / 2) / budget))


def applied_lr(policy_lr: float, multiplier: float, lr_min: float, lr_max: float) -> float:
    """The LR the optimizer gets: the policy's LR times the base multiplier, clamped to [lr_min, lr_max]."""
    return min(lr_max, max(lr_min, policy_lr * multiplier))


def keep_action(action_mode: str) -> Any:
    """The action that leaves the learning rate unchanged in `action_mode`."""
    return DISCRETE_KEEP if action_mode == "discrete" else np.zeros(1, dtype=np.float32)


def action_exponent(action: Any, action_mode: str) -> float:
    """The exponent e in lr * (1 + max_change) ** e that `action` asks for, e in [-1, 1]."""
    arr = np.asarray(action)
    if arr.size != 1:
        raise ValueError(f"expected one action value, got shape {arr.shape}")
    value = arr.reshape(()).item()
    if action_mode == "discrete":
        if arr.dtype.kind not in "iu":  # as Discrete(3).contains: no bools, floats or strings
            raise ValueError(f"discrete action must be the integer 0 (up), 1 (down) or 2 (keep), got {action!r}")
        choice = int(value)
        if choice not in (DISCRETE_UP, DISCRETE_DOWN, DISCRETE_KEEP):
            raise ValueError(f"discrete action must be 0 (up), 1 (down) or 2 (keep), got {value!r}")
        return (1.0, -1.0, 0.0)[choice]
    if action_mode == "continuous":
        if arr.dtype.kind not in "iuf":
            raise ValueError(f"continuous action must be a number in [-1, 1], got {action!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"continuous action must be a finite number in [-1, 1], got {value!r}")
        return min(1.0, max(-1.0, value))
    raise ValueError(f"unknown action mode {action_mode!r}; allowed: discrete, continuous")


def next_lr(
    lr: float,
    action: Any,
    action_mode: str,
    max_change: float,
    lr_min: float,
    lr_max: float,
    noise: float = 0.0,
) -> float:
    """Apply `action` to `lr`: multiply by (1 + max_change) ** e, add `noise` to the log of the
    change, cap the change at max_change either way, then clamp to [lr_min, lr_max].

    Without noise, e = 1 multiplies and e = -1 divides by the same base, so they are inverses.
    """
    exponent = action_exponent(action, action_mode)
    base = 1.0 + max_change
    if noise == 0.0:
        if exponent >= 0:
            new = lr * base**exponent
        else:
            new = lr / base**(-exponent)
    else:
        cap = math.log(base)
        new = lr * math.exp(min(cap, max(-cap, exponent * cap + noise)))
    return min(lr_max, max(lr_min, new))


class ActionRule(Protocol):
    """How actions move the LR: an `EnvConfig`, or the `PolicySpec` a policy file records."""

    action_mode: str
    action_base: str
    max_change: float
    cap_decisions: int
    cut_cap_decisions: int
    max_lr_ratio: float
    lr_min: float
    lr_max: float


def is_max_lr_ratio(ratio: float) -> bool:
    """Whether `ratio` can be a `max_lr_ratio`: 0 (no ceiling) or a finite number at least 1 (a ceiling
    below the initial LR would move the first decision by more than the cap)."""
    return isinstance(ratio, (int, float)) and (ratio == 0 or 1 <= ratio < math.inf)


def is_cap_decisions(value: int) -> bool:
    """Whether `value` can be a `cap_decisions`: 0 (max_change caps every decision) or a positive whole
    number of decisions."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_cut_cap_decisions(value: int, cap_decisions: int) -> bool:
    """Whether `value` can be a `cut_cap_decisions` beside `cap_decisions`: 0 (cuts capped as climbs) or,
    where the cap is set per budget, a positive whole number of decisions."""
    return is_cap_decisions(value) and (value == 0 or cap_decisions > 0)


def policy_lr_ceiling(rule: ActionRule, initial_lr: float) -> float:
    """The highest LR the policy may hold in a run from `initial_lr`: lr_max, or below it
    `max_lr_ratio` times the initial LR where that is set."""
    if rule.max_lr_ratio > 0:
        return min(rule.lr_max, rule.max_lr_ratio * initial_lr)
    return rule.lr_max


def decision_cap(rule: ActionRule, budget: int, steps_per_action: int, cutting: bool = False) -> float:
    """The cap of one decision in a budget of `budget` steps: `max_change`, or where `cap_decisions` N is
    set, (1 + max_change) ** (N / n) - 1 for a budget of n decisions, so that the LR can move as far over
    a short budget as over a long one (N decisions at max_change). A decision `cutting` the LR takes N from
    `cut_cap_decisions` where that is set.

    Example:
        >>> from lrctl.config import EnvConfig
        >>> round(decision_cap(EnvConfig(max_change=0.1, cap_decisions=100), 200, 5), 4)  # 40 decisions
        0.2691
    """
    if rule.cap_decisions <= 0:
        return rule.max_change
    per_budget = rule.cut_cap_decisions if cutting and rule.cut_cap_decisions > 0 else rule.cap_decisions
    decisions = max(1, -(-budget // steps_per_action))
    return (1.0 + rule.max_change) ** (per_budget / decisions) - 1.0


def decision_lrs(rule: ActionRule, policy_lr: float, action: Any, steps_done: int, budget: int,
                 steps_per_action: int, initial_lr: float, noise: float = 0.0) -> tuple[float, float]:
    """One decision: the policy's new LR (`next_lr` of its last one, at most `policy_lr_ceiling`) and the
    LR the child trains with for the next `steps_per_action` steps (times the base schedule at
    `steps_done` of `budget`)."""
    cap = decision_cap(rule, budget, steps_per_action, cutting=action_exponent(action, rule.action_mode) < 0)
    new_policy_lr = next_lr(policy_lr, action, rule.action_mode, cap, rule.lr_min, policy_lr_ceiling(rule, initial_lr),
                            noise)
    multiplier = base_multiplier(rule.action_base, steps_done, budget, steps_per_action)
    return new_policy_lr, applied_lr(new_policy_lr, multiplier, rule.lr_min, rule.lr_max)
