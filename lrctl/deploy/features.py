"""The observation features, computed in one place for the environment and the deployed scheduler.

All validation-based features come from one forward pass over a fixed validation batch, with the child
in eval mode (BatchNorm statistics are not touched). Variances are population variances over all
elements. `pred_var` is the variance of the softmax probabilities (batch x classes); `pred_change_var` is
the variance of their change since the previous observation on the same samples (0 at the first).

Two sets: `paper`, the eight features of arXiv 1909.09712 (raw magnitudes: their meaning depends on the
task), and `scale_free`, quantities that mean the same on any task:
  log_val_ratio     log(L_val[t] / L_val[0]), against the episode's first validation loss;
  log_train_ratio   log(L_train[t] / L_val[0]);
  log_lr_ratio      log(lr / initial lr);
  val_train_gap     log L_val[t] - log L_train[t];
  log_val_trend     the change of log L_val per decision over the last `TREND_WINDOW` decisions;
  budget_fraction   the fraction of the budget used.
`both` is the union.
`scale_free_lr` adds to `scale_free` the paper's `log10_lr`, the LR itself: without it every episode
starts from the same observation whatever its initial LR, so a policy's first actions cannot depend on
it. Adam's LR bounds its step size on any task, so for Adam children this one magnitude transfers.
`scale_free_lr_noise` adds to `scale_free_lr`
  log_train_noise   half the log of the mean, over the last `TREND_WINDOW` decisions, of the squared
                    coefficient of variation of each interval's per-step training losses: how noisy the
                    steps are (small batches, an LR too high for them), on any loss scale. 0 before the
                    first decision's losses.
A policy file names its features, so the scheduler computes what it was trained on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lrctl.deploy.feature_sets import FEATURE_NAMES, FEATURE_SETS

ALL_FEATURES: tuple[str, ...] = tuple(dict.fromkeys(n for names in FEATURE_SETS.values() for n in names))
TREND_WINDOW = 5
"""Decisions over which `log_val_trend` measures the change of the log validation loss (and
`log_train_noise` averages the noise of the training losses)."""
NOISE_FLOOR = 1e-8
"""Added to the squared coefficient of variation before its log, so that equal losses give a finite value."""
_EVAL_CHUNK = 1024  # validation samples per forward pass (bounds memory for large children)


def check_feature_names(names: Sequence[str]) -> tuple[str, ...]:
    """Return `names` as a tuple if this lrctl computes all of them, else raise ValueError."""
    unknown = [n for n in names if n not in ALL_FEATURES]
    if unknown or not names:
        raise ValueError(
            f"cannot compute feature(s) {unknown or list(names)}; this lrctl computes: {', '.join(ALL_FEATURES)}"
        )
    return tuple(names)


def feature_set(name: str) -> tuple[str, ...]:
    """The feature names of set `name` (paper, scale_free, both, scale_free_lr)."""
    try:
        return FEATURE_SETS[name]
    except KeyError:
        raise ValueError(f"unknown feature set {name!r}; allowed: {', '.join(FEATURE_SETS)}") from None


def feature_set_name(names: Sequence[str]) -> str:
    """The name of the set whose features are `names`, in that order (a policy file records names)."""
    for name, members in FEATURE_SETS.items():
        if tuple(names) == members:
            return name
    raise ValueError(f"features {list(names)} are none of the sets {', '.join(FEATURE_SETS)}")


def diverged(values: Any) -> np.ndarray:
    """The divergence rule, one for the environment, the evaluation and the scheduler: a run has
    diverged once a value it reports (a loss, a feature computed from the losses, an end-of-run metric)
    is not finite. Per row of `values` (the last axis holds one run's values): True where any is NaN or
    infinite.

    The environment ends such an episode with its penalty and the evaluation records the run as
    diverged; a deployed `PolicyScheduler` keeps the LR instead (its policy never sees such an
    observation) and leaves the run to the user's loop.

    Example:
        >>> diverged([[0.5, 0.4], [0.3, float("nan")]]).tolist()
        [False, True]
    """
    return ~np.isfinite(np.asarray(values, dtype=np.float64)).all(axis=-1)


def mean_train_loss(losses: torch.Tensor) -> torch.Tensor:
    """Mean of the per-step training losses of one interval (the last dimension), in float64.

    The same in the environment, the batched children ((K, steps) losses) and the scheduler.
    """
    return losses.detach().to(torch.float64).mean(dim=-1)


def train_loss_noise(losses: torch.Tensor) -> torch.Tensor:
    """Squared coefficient of variation (population variance over the squared mean) of the per-step
    training losses of one interval (the last dimension), in float64: what `log_train_noise` averages.

    The same in the environment, the batched children ((K, steps) losses) and the scheduler.

    Example:
        >>> train_loss_noise(torch.tensor([[1.0, 3.0], [2.0, 2.0]])).tolist()
        [0.25, 0.0]
    """
    var, mean = torch.var_mean(losses.detach().to(torch.float64), dim=-1, correction=0)
    return var / mean.square().clamp_min(torch.finfo(torch.float64).tiny)


def mode_matters(model: nn.Module) -> bool:
    """Whether `model`'s forward pass depends on train/eval mode (BatchNorm, Dropout)."""
    return any(isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout)) for m in model.modules())


@contextlib.contextmanager
def eval_mode(model: nn.Module, switch_mode: bool = True) -> Iterator[None]:
    """Run the block with `model` in eval mode, then restore its train/eval mode (`switch_mode=False`:
    leave the mode alone)."""
    was_training = model.training
    if switch_mode:
        model.eval()
    try:
        yield
    finally:
        if switch_mode:
            model.train(was_training)


@torch.no_grad()
def forward_in_eval_mode(model: nn.Module, x: torch.Tensor, switch_mode: bool = True) -> torch.Tensor:
    """Logits of `model` on `x` in eval mode, in chunks; the model's train/eval mode is restored.

    `switch_mode=False` skips the switch for a model whose forward pass does not depend on the mode
    (`mode_matters`): the switch walks every module, which costs as much as a small model's forward pass.
    """
    with eval_mode(model, switch_mode):
        if len(x) <= _EVAL_CHUNK:
            return model(x)
        return torch.cat([model(x[i:i + _EVAL_CHUNK]) for i in range(0, len(x), _EVAL_CHUNK)])


class FeatureTracker:
    """The observation vectors of K models (K = 1 for one model), in `feature_names` order.

    Remembers between calls what a feature needs from earlier observations of the episode (the previous
    validation predictions, the first validation loss, the initial LR, the recent log validation
    losses). The environment, the batched children and the deployed scheduler all observe through this
    class.
    """

    def __init__(self, k: int, feature_names: Sequence[str] = FEATURE_NAMES) -> None:
        self.k = k
        self.feature_names = check_feature_names(feature_names)
        self._paper_only = all(n in FEATURE_NAMES for n in self.feature_names)
        self._index = [FEATURE_NAMES.index(n) for n in self.feature_names] if self._paper_only else []
        self._prev_probs: torch.Tensor | None = None
        self._first_val = np.full(k, np.nan)
        self._initial_lr = np.full(k, np.nan)
        self._log_val_history = np.zeros((k, TREND_WINDOW + 1))  # oldest first
        self._noise_history = np.full((k, TREND_WINDOW), np.nan)  # NaN: no interval yet

    @property
    def uses_noise(self) -> bool:
        """Whether `observe` needs `train_loss_noise` at every decision."""
        return "log_train_noise" in self.feature_names

    def interval_noise(self, losses: torch.Tensor) -> torch.Tensor | None:
        """What `observe` takes as `train_loss_noise` for an interval's per-step `losses` ((K, steps) or
        (steps,)): `train_loss_noise` of them where these features observe it, else None (not computed)."""
        return train_loss_noise(losses) if self.uses_noise else None

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        """What the next features depend on, so a resumed scheduler computes the same ones."""
        return {"prev_probs": self._prev_probs, "first_val": torch.as_tensor(self._first_val),
                "initial_lr": torch.as_tensor(self._initial_lr),
                "log_val_history": torch.as_tensor(self._log_val_history),
                "noise_history": torch.as_tensor(self._noise_history)}

    def load_state_dict(self, state: dict[str, torch.Tensor | None], device: torch.device | str = "cpu") -> None:
        """Restore what `state_dict` returned, on `device`."""
        prev = state.get("prev_probs")
        self._prev_probs = None if prev is None else prev.to(device)
        for key in ("first_val", "initial_lr", "log_val_history", "noise_history"):
            if state.get(key) is not None:
                setattr(self, f"_{key}", state[key].numpy().astype(np.float64).copy())

    def observe(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        output_weight: torch.Tensor,
        train_loss: torch.Tensor | None,
        lrs: np.ndarray,
        steps_done: np.ndarray,
        budgets: np.ndarray,
        steps_per_action: int,
        starting: Sequence[int] | None = None,
        train_loss_noise: torch.Tensor | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Observations (K, F) float32 and validation losses (K,) float64 of the K models.

        Args:
            logits: (K, N, C) validation logits; labels: (K, N).
            output_weight: (K, ...) output-layer weights.
            train_loss: (K,) interval means from `mean_train_loss`.
            lrs: (K,) current learning rates.
            steps_done, budgets: (K,) child steps taken and each child's budget in steps, with
                `steps_per_action` steps between decisions: they give the budget fraction and the
                decisions left.
            starting: the models whose episode this observation starts (their earlier predictions are
                forgotten and the validation loss stands in for the training loss); None: a decision of
                every model. Only the rows of `starting` are meaningful then.
            train_loss_noise: (K,) from `interval_noise`, at every decision where `uses_noise`.

        Non-finite values are returned as they are: callers decide. No input may require grad (the
        logits of a forward pass under `torch.no_grad`, as `forward_in_eval_mode` gives them).
        """
        first = starting is not None
        if self.uses_noise and not first and train_loss_noise is None:
            raise ValueError("log_train_noise needs train_loss_noise at every decision")
        values, probs = model_features(logits, labels, None if first else self._prev_probs, output_weight,
                                       None if first else train_loss)
        if starting is None or self._prev_probs is None or self._prev_probs.shape != probs.shape:
            self._prev_probs = probs  # (a drawn task may bring another validation size or class count)
        else:
            self._prev_probs[list(starting)] = probs[list(starting)]
        rows = values.cpu().numpy().astype(np.float64)  # the one device sync of an observation
        lrs = np.asarray(lrs, dtype=np.float64)
        steps_done = np.asarray(steps_done, dtype=np.float64)
        budgets = np.asarray(budgets, dtype=np.float64)
        fractions = steps_done / budgets
        with np.errstate(divide="ignore", invalid="ignore"):
            paper = np.concatenate([rows, np.log10(lrs)[:, None], fractions[:, None]], axis=1)
            if self._paper_only:
                return paper[:, self._index].astype(np.float32), rows[:, 1]
            columns = dict(zip(FEATURE_NAMES, paper.T))
            columns.update(self._scale_free(rows[:, 0], rows[:, 1], lrs, starting, train_loss_noise))
        return np.stack([columns[n] for n in self.feature_names], axis=1).astype(np.float32), rows[:, 1]

    def _scale_free(self, train: np.ndarray, val: np.ndarray, lrs: np.ndarray,
                    starting: Sequence[int] | None, noise: torch.Tensor | None) -> dict[str, np.ndarray]:
        """The scale-free features; updates the episode state they depend on."""
        log_val = np.log(val)
        if starting is not None:
            rows = list(starting)
            self._first_val[rows] = val[rows]
            self._initial_lr[rows] = lrs[rows]
            self._log_val_history[rows] = log_val[rows, None]
            self._noise_history[rows] = np.nan
        else:
            self._log_val_history = np.concatenate([self._log_val_history[:, 1:], log_val[:, None]], axis=1)
            if noise is not None:
                latest = noise.cpu().numpy().astype(np.float64)[:, None]
                self._noise_history = np.concatenate([self._noise_history[:, 1:], latest], axis=1)
        log_first = np.log(self._first_val)
        columns = {
            "log_val_ratio": log_val - log_first,
            "log_train_ratio": np.log(train) - log_first,
            "log_lr_ratio": np.log(lrs / self._initial_lr),
            "val_train_gap": log_val - np.log(train),
            "log_val_trend": (self._log_val_history[:, -1] - self._log_val_history[:, 0]) / TREND_WINDOW,
        }
        if self.uses_noise:
            seen = np.isfinite(self._noise_history)
            count = seen.sum(axis=1)
            mean_noise = np.where(seen, self._noise_history, 0.0).sum(axis=1) / np.maximum(count, 1)
            columns["log_train_noise"] = np.where(count > 0, 0.5 * np.log(mean_noise + NOISE_FLOOR), 0.0)
        return columns


def _losses_and_probs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(K,) mean cross-entropy and (K, N, C) softmax probabilities of (K, N, C) logits, in one pass.

    Written out (max shift, exp, sum) because at a validation subset's size (classes in the tens) the
    fused softmax and cross-entropy kernels cost several times these few elementwise operations.
    """
    shifted = logits - logits.amax(dim=2, keepdim=True)
    exp = shifted.exp()
    total = exp.sum(dim=2, keepdim=True)
    log_probs = shifted - total.log()
    losses = -log_probs.gather(2, labels.unsqueeze(2)).mean(dim=(1, 2))
    return losses, exp / total


def validation_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(K,) mean cross-entropy of K models' (K, N, C) logits on (K, N) labels: the observed validation
    loss, computed the same way wherever a validation loss is recorded."""
    return _losses_and_probs(logits.float(), labels)[0]


def model_features(
    logits: torch.Tensor,
    val_y: torch.Tensor,
    prev_probs: torch.Tensor | None,
    output_weight: torch.Tensor,
    train_loss: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The six model-based features for K children at once (K = 1 for a single model).

    Args:
        logits: (K, N, C) validation logits; val_y: (K, N) labels.
        prev_probs: (K, N, C) softmax probabilities of the previous observation, or None (first one).
        output_weight: (K, ...) output-layer weights.
        train_loss: (K,) interval mean training losses, or None (the validation loss stands in).

    Returns (values, probs): values (K, 6) float32 in FEATURE_NAMES order up to output_weight_var, and
    the probabilities to pass as `prev_probs` next time.
    """
    # One batched reduction per feature over all K children (a per-child loop cost K times the
    # kernel launches), and as few operations as the features allow: at the size of a validation
    # subset each costs its launch more than its arithmetic.
    logits = logits.float()
    k = logits.shape[0]
    val_loss, probs = _losses_and_probs(logits, val_y)
    flat = probs.view(k, -1)
    change_var = flat.new_zeros(k) if prev_probs is None else \
        (flat - prev_probs.view(k, -1)).var(dim=1, correction=0)
    weight_var, weight_mean = torch.var_mean(output_weight.detach().float().reshape(k, -1), dim=1, correction=0)
    train = val_loss if train_loss is None else train_loss.to(val_loss.device, torch.float32)
    values = torch.stack([train, val_loss, flat.var(dim=1, correction=0), change_var, weight_mean, weight_var], dim=1)
    return values, probs
