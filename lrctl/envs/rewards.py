"""The rewards of a decision: their names and what each pays, in one place (numpy only, so that a config
is checked against these names before torch loads)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lrctl.config import EnvConfig

REWARDS = ("val_loss", "log_improvement", "log_improvement_vs_constant", "log_improvement_vs_base")
"""The `env.reward` names."""

TWIN_REWARDS = {"log_improvement_vs_constant": "constant_val_loss", "log_improvement_vs_base": "base_val_loss"}
"""Rewards that need a twin of every child, which keeps every decision (at the initial LR, or over the
base schedule for `log_improvement_vs_base`), and the info key of the twin's validation loss."""


def needs_twins(cfg: EnvConfig) -> bool:
    """Whether `cfg`'s reward needs a constant-LR or base-schedule twin beside every child."""
    return cfg.reward in TWIN_REWARDS


def decision_reward(kind: str, prev_val_loss: np.ndarray, val_loss: np.ndarray,
                    twin_prev_val_loss: np.ndarray | None = None,
                    twin_val_loss: np.ndarray | None = None, bound: float = 0.0) -> np.ndarray:
    """The reward of a decision, from the validation loss before it and after it.

    `val_loss`: -L[t] (the paper's; the return is the area under the validation curve);
    `log_improvement`: log L[t-1] - log L[t]. It telescopes: with gamma = 1 the return is log(L[0] / L[T]),
    the final loss users judge by, on the same scale on every task.
    `log_improvement_vs_constant`: the log improvement minus the constant-LR twin's (`twin_*`, same
    initialisation and batches, so L[0] is shared): the return is log(L_twin[T] / L[T]), and the luck of
    a seed or task, which both children share, cancels. A twin that diverged contributes 0.
    `log_improvement_vs_base`: the same, the twin following the base schedule (the caller trains it).
    With `bound` c > 0 (twin rewards only) the reward is the change of c * tanh(log(L_twin / L) / c),
    so the return is c * tanh(log(L_twin[T] / L[T]) / c): it still telescopes, and no task is worth more
    than c.
    """
    if kind in TWIN_REWARDS:
        if bound > 0:
            gain_after = _bounded_gain(twin_val_loss, val_loss, bound)
            return gain_after - _bounded_gain(twin_prev_val_loss, prev_val_loss, bound)
        with np.errstate(divide="ignore", invalid="ignore"):
            twin_gain = np.log(twin_prev_val_loss) - np.log(twin_val_loss)
        return decision_reward("log_improvement", prev_val_loss, val_loss) - np.nan_to_num(
            twin_gain, nan=0.0, posinf=0.0, neginf=0.0)
    if kind == "val_loss":
        return -val_loss
    if kind == "log_improvement":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(prev_val_loss) - np.log(val_loss)
    raise ValueError(f"unknown reward {kind!r}; allowed: {', '.join(REWARDS)}")


def _bounded_gain(twin_val_loss: np.ndarray, val_loss: np.ndarray, bound: float) -> np.ndarray:
    """c * tanh(log(L_twin / L) / c); a twin that diverged (non-finite loss) counts as a full gain."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(twin_val_loss) - np.log(val_loss)
    log_ratio = np.where(np.isnan(log_ratio), 0.0, log_ratio)
    log_ratio = np.where(np.isfinite(twin_val_loss), log_ratio, np.inf)
    return bound * np.tanh(log_ratio / bound)
