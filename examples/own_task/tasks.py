"""An own setting for lrctl: scikit-learn's breast-cancer data (ships with scikit-learn) and a small MLP.

Name it by its import path wherever a built-in setting goes, from the repository root:

    python train_controller.py --set env.setting=examples.own_task.tasks:breast_cancer_mlp
    python evaluate.py --setting examples.own_task.tasks:breast_cancer_mlp --quick
    gymnasium.make("lrctl/LRControl-v0", setting="examples.own_task.tasks:breast_cancer_mlp")
"""

from __future__ import annotations

import torch
from torch import nn

import lrctl


def load_breast_cancer_splits() -> dict[str, torch.Tensor]:
    """569 samples, 30 features, 2 classes: a seeded 60/20/20 split, standardised on the training part."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    test, val, train = order[:114], order[114:228], order[228:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0)
    x = (x - mean) / std
    return {"train_x": x[train], "train_y": y[train], "val_x": x[val], "val_y": y[val],
            "test_x": x[test], "test_y": y[test]}


def small_mlp() -> nn.Module:
    """A fresh child network: 30 inputs, two hidden layers, 2 logits (the last Linear is the output layer)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))


breast_cancer_mlp = lrctl.define_setting(
    "breast-cancer-mlp",
    data=load_breast_cancer_splits,  # a function: each worker process loads its own copy
    model=small_mlp,
    child_steps=300,
    batch_size=32,
    optimizer="adam",
    initial_lrs=(1e-2, 1e-3, 1e-4),
    steps_per_action=5,
    val_subset_size=114,
)
