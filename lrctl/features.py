"""The observation features, computed in one place for the environment and the deployed scheduler.

All validation-based features come from one forward pass over a fixed validation batch, with the child
in eval mode (BatchNorm statistics are not touched). Variances are population variances over all
elements. `pred_var` is the variance of the softmax probabilities (batch x classes); `pred_change_var` is
the variance of their change since the previous observation on the same samples (0 at the first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FEATURE_NAMES: tuple[str, ...] = (
    "train_loss",
    "val_loss",
    "pred_var",
    "pred_change_var",
    "output_weight_mean",
    "output_weight_var",
    "log10_lr",
    "budget_fraction",
)
_EVAL_CHUNK = 1024  # validation samples per forward pass (bounds memory for large children)


def check_feature_names(names: Sequence[str]) -> tuple[str, ...]:
    """Return `names` as a tuple if this lrctl computes all of them, else raise ValueError."""
    unknown = [n for n in names if n not in FEATURE_NAMES]
    if unknown or not names:
        raise ValueError(
            f"cannot compute feature(s) {unknown or list(names)}; this lrctl computes: {', '.join(FEATURE_NAMES)}"
        )
    return tuple(names)


def mean_train_loss(losses: torch.Tensor) -> torch.Tensor:
    """Mean of the per-step training losses of one interval (the last dimension), in float64.

    The same in the environment, the batched children ((K, steps) losses) and the scheduler.
    """
    return losses.detach().to(torch.float64).mean(dim=-1)


@torch.no_grad()
def forward_in_eval_mode(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits of `model` on `x` in eval mode, in chunks; the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        return torch.cat([model(x[i:i + _EVAL_CHUNK]) for i in range(0, len(x), _EVAL_CHUNK)])
    finally:
        model.train(was_training)


class FeatureTracker:
    """Computes the observation vector; remembers the last validation predictions between calls."""

    def __init__(
        self,
        model: nn.Module,
        output_layer: nn.Linear,
        val_x: torch.Tensor,
        val_y: torch.Tensor,
        feature_names: Sequence[str] = FEATURE_NAMES,
    ) -> None:
        self.model = model
        self.output_layer = output_layer
        self.val_x = val_x
        self.val_y = val_y
        self.feature_names = check_feature_names(feature_names)
        self._index = [FEATURE_NAMES.index(n) for n in self.feature_names]
        self._prev_probs: torch.Tensor | None = None

    def reset(self) -> None:
        """Forget the previous predictions (the next pred_change_var is 0)."""
        self._prev_probs = None

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        """The previous predictions, so a resumed scheduler computes the same next feature."""
        return {"prev_probs": self._prev_probs}

    def load_state_dict(self, state: dict[str, torch.Tensor | None]) -> None:
        """Restore what `state_dict` returned."""
        prev = state.get("prev_probs")
        self._prev_probs = None if prev is None else prev.to(self.val_x.device)

    @torch.no_grad()
    def observe(
        self, train_loss: torch.Tensor | None, lr: float, budget_fraction: float
    ) -> tuple[np.ndarray, float]:
        """The feature vector (float32, in `feature_names` order) and the validation loss.

        `train_loss` is the interval's mean from `mean_train_loss`; None before any training step, when
        the validation loss stands in for it. Non-finite values are returned as they are: callers decide.
        """
        logits = forward_in_eval_mode(self.model, self.val_x).float()
        values, self._prev_probs = model_features(
            logits.unsqueeze(0), self.val_y.unsqueeze(0),
            None if self._prev_probs is None else self._prev_probs,
            self.output_layer.weight.detach().unsqueeze(0),
            None if train_loss is None else train_loss.reshape(1),
        )
        row = values[0].cpu().numpy()  # the one device sync of an observation
        full = np.concatenate([row, [_log10(lr), float(budget_fraction)]])
        return full[self._index].astype(np.float32), float(row[1])


@torch.no_grad()
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

    Returns (values, probs): values (K, 6) float64 in FEATURE_NAMES order up to output_weight_var, and
    the probabilities to pass as `prev_probs` next time.
    """
    # One batched reduction per feature over all K children (a per-child loop cost K times the
    # kernel launches); batched and single environments agree to float rounding.
    logits = logits.float()
    k, n, c = logits.shape
    probs = logits.softmax(dim=2)
    val_loss = F.cross_entropy(logits.reshape(k * n, c), val_y.reshape(k * n), reduction="none")
    val_loss = val_loss.view(k, n).mean(dim=1)
    change_var = torch.zeros(k, device=probs.device) if prev_probs is None else \
        (probs - prev_probs).reshape(k, -1).var(dim=1, correction=0)
    weight = output_weight.detach().float().reshape(k, -1)
    model_based = torch.stack([
        val_loss, probs.reshape(k, -1).var(dim=1, correction=0), change_var,
        weight.mean(dim=1), weight.var(dim=1, correction=0),
    ], dim=1).double()
    train = val_loss.double() if train_loss is None else train_loss.to(val_loss.device, torch.float64)
    return torch.cat([train.unsqueeze(1), model_based], dim=1), probs


def _log10(lr: float) -> float:
    return math.log10(lr) if lr > 0 else float("-inf")
