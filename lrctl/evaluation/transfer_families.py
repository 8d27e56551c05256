"""The held-out task families of the transfer benchmark: problems no shipped policy trained on.

The general policy trained on digits, synthetic `make_classification` problems and Fashion-MNIST, with
MLPs of 1-3 hidden layers of 32-256 units or small CNNs (ReLU, tanh or GELU, no normalisation layer),
Adam, batch sizes 32-256 and budgets of 300-800 steps. Each family here leaves that distribution in one
or more ways (named in its description): a width, depth or activation never drawn, a LayerNorm or
BatchNorm child, a budget of 200 or 3000 steps, other scikit-learn data, or SGD with momentum on such data
(the shipped policy's hand-over for SGD was chosen on SGD tasks of the training distribution, so the SGD
family keeps away from its datasets). No family
needs a download. They are ordinary settings, so `lrctl evaluate --setting
lrctl.evaluation.transfer_families:digits_wide` runs one of them alone.
"""

from __future__ import annotations

import functools

import numpy as np
from torch import nn

from lrctl.data import DatasetSplits
from lrctl.settings import Setting
from lrctl.tasks import standardised_splits

_DIGITS_FEATURES, _DIGITS_CLASSES = 64, 10
_DATA_SEED = 20_261_206
"""The split of the scikit-learn tables: fixed, so every method and seed sees the same problem."""


def _normalised_mlp(norm: type[nn.Module], widths: tuple[int, ...], in_features: int, num_classes: int,
                    activation: type[nn.Module]) -> nn.Module:
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_features, width), norm(width), activation()]
        in_features = width
    return nn.Sequential(*layers, nn.Linear(in_features, num_classes))


def layernorm_mlp() -> nn.Module:
    """Digits MLP 128-128 with LayerNorm before each GELU."""
    return _normalised_mlp(nn.LayerNorm, (128, 128), _DIGITS_FEATURES, _DIGITS_CLASSES, nn.GELU)


def batchnorm_mlp() -> nn.Module:
    """Digits MLP 128-128 with BatchNorm before each ReLU."""
    return _normalised_mlp(nn.BatchNorm1d, (128, 128), _DIGITS_FEATURES, _DIGITS_CLASSES, nn.ReLU)


@functools.lru_cache(maxsize=1)
def hastie_binary() -> DatasetSplits:
    """scikit-learn's `make_hastie_10_2`: 12000 samples, 10 Gaussian features, a binary label."""
    from sklearn.datasets import make_hastie_10_2

    x, y = make_hastie_10_2(n_samples=12_000, random_state=_DATA_SEED)
    return standardised_splits(x, (y > 0).astype(np.int64), 2, np.random.default_rng(_DATA_SEED))


@functools.lru_cache(maxsize=1)
def breast_cancer() -> DatasetSplits:
    """scikit-learn's breast-cancer table: 569 samples, 30 features, a binary label."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return standardised_splits(bunch.data, bunch.target, 2, np.random.default_rng(_DATA_SEED))


_DECISIONS = {"steps_per_action": 5}

digits_wide = Setting("digits-wide", "digits", "mlp:512-512:relu",
                      "digits, MLP 512-512 ReLU (wider than any trained child)",
                      {"child_steps": 500, "batch_size": 64, "val_subset_size": 256, **_DECISIONS})
digits_deep_leaky = Setting("digits-deep-leaky", "digits", "mlp:128-128-128-128:leaky_relu",
                            "digits, MLP of 4 hidden layers, LeakyReLU (deeper, an unseen activation)",
                            {"child_steps": 500, "batch_size": 64, "val_subset_size": 256, **_DECISIONS})
digits_layernorm = Setting("digits-layernorm", "digits", layernorm_mlp, "digits, MLP 128-128 with LayerNorm, GELU",
                           {"child_steps": 500, "batch_size": 64, "val_subset_size": 256, **_DECISIONS})
digits_batchnorm_long = Setting("digits-batchnorm-long", "digits", batchnorm_mlp,
                                "digits, MLP 128-128 with BatchNorm, 1500 steps",
                                {"child_steps": 1500, "batch_size": 64, "val_subset_size": 256, **_DECISIONS})
digits_short = Setting("digits-short", "digits", "mlp:128-64:relu", "digits, MLP 128-64, a budget of 200 steps",
                       {"child_steps": 200, "batch_size": 32, "val_subset_size": 256, **_DECISIONS})
digits_long = Setting("digits-long", "digits", "mlp:64-64:tanh", "digits, MLP 64-64 tanh, a budget of 3000 steps",
                      {"child_steps": 3000, "batch_size": 128, "val_subset_size": 256, **_DECISIONS})
hastie = Setting("hastie-binary", hastie_binary, "mlp:64-64:relu",
                 "make_hastie_10_2 (binary, 10 features), MLP 64-64, 1000 steps",
                 {"child_steps": 1000, "batch_size": 128, "val_subset_size": 1000, **_DECISIONS})
hastie_sgd = Setting("hastie-sgd", hastie_binary, "mlp:64-64:relu",
                     "make_hastie_10_2 (binary, 10 features), MLP 64-64, SGD with momentum 0.9, 1000 steps",
                     {"child_steps": 1000, "batch_size": 128, "val_subset_size": 1000, "optimizer": "sgd",
                      "momentum": 0.9, **_DECISIONS})
cancer = Setting("breast-cancer", breast_cancer, "mlp:32:relu",
                 "scikit-learn breast cancer (binary, 30 features, 569 samples), MLP 32, 300 steps",
                 {"child_steps": 300, "batch_size": 32, "val_subset_size": 91, **_DECISIONS})

FAMILIES: dict[str, str] = {
    setting.name: f"{__name__}:{attribute}"
    for attribute, setting in (("digits_wide", digits_wide), ("digits_deep_leaky", digits_deep_leaky),
                               ("digits_layernorm", digits_layernorm), ("digits_batchnorm_long", digits_batchnorm_long),
                               ("hastie_sgd", hastie_sgd), ("digits_short", digits_short), ("digits_long", digits_long),
                               ("hastie", hastie), ("cancer", cancer))
}
"""Each family's name and the import path that names it as a setting."""
