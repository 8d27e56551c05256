"""The names of the observation features and of their sets, without torch, so that a config is checked
before torch loads; `lrctl.deploy.features` computes them (its docstring says what each one is)."""

from __future__ import annotations

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
SCALE_FREE_FEATURES: tuple[str, ...] = (
    "log_val_ratio",
    "log_train_ratio",
    "log_lr_ratio",
    "val_train_gap",
    "log_val_trend",
    "budget_fraction",
)
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "paper": FEATURE_NAMES,
    "scale_free": SCALE_FREE_FEATURES,
    "both": FEATURE_NAMES + tuple(n for n in SCALE_FREE_FEATURES if n not in FEATURE_NAMES),
    "scale_free_lr": SCALE_FREE_FEATURES + ("log10_lr",),
    "scale_free_lr_noise": SCALE_FREE_FEATURES + ("log10_lr", "log_train_noise"),
}
