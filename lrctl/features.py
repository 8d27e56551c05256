"""The observation features, computed in one place for the environment and the deployed scheduler.

All validation-based features come from one forward pass over a fixed validation batch, with the child
in eval mode (BatchNorm statistics are not touched). Variances are population variances over all
elements. `pred_var` is the variance of the softmax probabilities (batch x classes); `pred_change_var` is
the variance of their change since the previous observation on the same samples (0 at the first).
"""

from __future__ import annotations

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
    """The observation vectors of K models (K = 1 for one model), in `feature_names` order.

    Remembers between calls what a feature needs from earlier observations (the previous validation
    predictions). The environment, the batched children and the deployed scheduler all observe through
    this class.
    """

    def __init__(self, k: int, feature_names: Sequence[str] = FEATURE_NAMES) -> None:
        self.k = k
        self.feature_names = check_feature_names(feature_names)
        self._index = [FEATURE_NAMES.index(n) for n in self.feature_names]
        self._prev_probs: torch.Tensor | None = None

    def state_dict(self) -> dict[str, torch.Tensor | None]:
        """The previous predictions, so a resumed scheduler computes the same next feature."""
        return {"prev_probs": self._prev_probs}

    def load_state_dict(self, state: dict[str, torch.Tensor | None], device: torch.device | str = "cpu") -> None:
        """Restore what `state_dict` returned, on `device`."""
        prev = state.get("prev_probs")
        self._prev_probs = None if prev is None else prev.to(device)

    @torch.no_grad()
    def observe(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        output_weight: torch.Tensor,
        train_loss: torch.Tensor | None,
        lrs: np.ndarray,
        budget_fractions: np.ndarray,
        starting: Sequence[int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Observations (K, F) float32 and validation losses (K,) float64 of the K models.

        Args:
            logits: (K, N, C) validation logits; labels: (K, N).
            output_weight: (K, ...) output-layer weights.
            train_loss: (K,) interval means from `mean_train_loss`.
            lrs, budget_fractions: (K,) current learning rates and fractions of the budget used.
            starting: the models whose episode this observation starts (their earlier predictions are
                forgotten and the validation loss stands in for the training loss); None: a decision of
                every model. Only the rows of `starting` are meaningful then.

        Non-finite values are returned as they are: callers decide.
        """
        first = starting is not None
        values, probs = model_features(logits, labels, None if first else self._prev_probs, output_weight,
                                       None if first else train_loss)
        if starting is None or self._prev_probs is None:
            self._prev_probs = probs
        else:
            self._prev_probs[list(starting)] = probs[list(starting)]
        rows = values.cpu().numpy()  # the one device sync of an observation
        with np.errstate(divide="ignore", invalid="ignore"):
            log_lrs = np.log10(np.asarray(lrs, dtype=np.float64))
        full = np.concatenate([rows, log_lrs[:, None], np.asarray(budget_fractions, dtype=np.float64)[:, None]],
                              axis=1)
        return full[:, self._index].astype(np.float32), rows[:, 1]


@torch.no_grad()
def validation_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(K,) mean cross-entropy of K models' (K, N, C) logits on (K, N) labels: the observed validation
    loss, computed the same way wherever a validation loss is recorded."""
    k, n, c = logits.shape
    losses = F.cross_entropy(logits.float().reshape(k * n, c), labels.reshape(k * n), reduction="none")
    return losses.view(k, n).mean(dim=1)


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
    k = logits.shape[0]
    probs = logits.softmax(dim=2)
    val_loss = validation_losses(logits, val_y)
    change_var = torch.zeros(k, device=probs.device) if prev_probs is None else \
        (probs - prev_probs).reshape(k, -1).var(dim=1, correction=0)
    weight = output_weight.detach().float().reshape(k, -1)
    model_based = torch.stack([
        val_loss, probs.reshape(k, -1).var(dim=1, correction=0), change_var,
        weight.mean(dim=1), weight.var(dim=1, correction=0),
    ], dim=1).double()
    train = val_loss.double() if train_loss is None else train_loss.to(val_loss.device, torch.float64)
    return torch.cat([train.unsqueeze(1), model_based], dim=1), probs
