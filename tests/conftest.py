"""Shared fixtures: tiny synthetic datasets and small environment settings."""

from __future__ import annotations

import pytest
import torch

from lrctl.data import DatasetSplits


def make_splits(shape: tuple[int, ...] = (64,), n_train: int = 96, n_val: int = 32, n_test: int = 32,
                num_classes: int = 10, seed: int = 0) -> DatasetSplits:
    """Random inputs whose labels depend on them (so a child can learn something)."""
    g = torch.Generator().manual_seed(seed)
    total = n_train + n_val + n_test
    x = torch.randn(total, *shape, generator=g)
    w = torch.randn(x[0].numel(), num_classes, generator=g)
    y = (x.flatten(1) @ w).argmax(dim=1)
    parts = torch.split(torch.arange(total), [n_train, n_val, n_test])
    return DatasetSplits(*(t for idx in parts for t in (x[idx], y[idx])), num_classes=num_classes)


@pytest.fixture
def digits_like() -> DatasetSplits:
    """Synthetic data shaped like scikit-learn digits (64 features, 10 classes)."""
    return make_splits()


SMALL_ENV = dict(child_steps=20, steps_per_action=5, batch_size=8, val_subset_size=16)
"""A four-decision episode on tiny batches: enough to exercise every path in milliseconds."""


@pytest.fixture(scope="session")
def local_ray():
    """A small local Ray (2 CPUs) shared by the Ray tests; lrctl uses it as it finds it."""
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def members():
    """Two seeded random policies that act differently: the members of a file of policies by initial LR."""
    from tests.policy_helpers import make_policy  # it imports this module's settings

    return make_policy("discrete", seed=0), make_policy("discrete", seed=1)
