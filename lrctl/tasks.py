"""Child-training tasks drawn per episode from a configured distribution (`env.tasks`).

A general policy must not learn one problem's quirks, so its training episodes each train a different
child: a dataset (digits, a fresh synthetic classification problem, MNIST or Fashion-MNIST), an MLP or
(on images) a small CNN of drawn size, depth and activation, a batch size, a budget and an optimizer.
Every draw comes from the episode's seeded RNG, so a seed gives the same task, bit for bit.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from lrctl.checks import check_choice
from lrctl.data import DatasetSplits, load_dataset
from lrctl.models import ACTIVATIONS, cnn_name, mlp_name

if TYPE_CHECKING:  # the config checks task names through this module, which needs it for types only
    from lrctl.config import EnvConfig, TaskDistribution

TASK_DATASETS = ("digits", "synthetic", "mnist", "fashion-mnist")
IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")


@dataclass(frozen=True)
class _Family:
    """What a child family draws and builds: its size list in `env.tasks`, its model namer, and whether
    it needs image inputs."""

    sizes: str
    namer: Callable[[tuple[int, ...], str], str]
    needs_images: bool


_FAMILIES = {"mlp": _Family("widths", mlp_name, needs_images=False),
             "cnn": _Family("channels", cnn_name, needs_images=True)}
ARCHITECTURES = tuple(_FAMILIES)

# Ranges of the synthetic problems (scikit-learn's make_classification).
_SYNTHETIC_SAMPLES = (600, 3000)
_SYNTHETIC_FEATURES = (8, 64)
_SYNTHETIC_CLASSES = (2, 10)
_SYNTHETIC_CLASS_SEP = (0.5, 2.0)
_SYNTHETIC_LABEL_NOISE = (0.0, 0.05)
_SPLIT_FRACTION = 0.2  # test, then validation, as for digits


@dataclass(frozen=True)
class ChildTask:
    """One drawn task: what a child trains on and how."""

    dataset: str
    data_seed: int
    """Seed of a synthetic problem (0 for the fixed datasets)."""
    model: str
    """A model name `lrctl.models.build_model` builds (`mlp:WIDTHS:ACTIVATION` or `cnn:CHANNELS:ACTIVATION`)."""
    batch_size: int
    child_steps: int
    optimizer: str

    def env(self, base: EnvConfig) -> EnvConfig:
        """`base` with this task's batch size, budget and optimizer."""
        return dataclasses.replace(base, batch_size=self.batch_size, child_steps=self.child_steps,
                                   optimizer=self.optimizer)

    def data(self, base: EnvConfig, device: torch.device | str) -> DatasetSplits:
        """The task's dataset on `device` (a synthetic one is made from its seed; others are cached)."""
        if self.dataset == "synthetic":
            return synthetic_classification(self.data_seed).to(device)
        return load_dataset(self.dataset, base.data_root, device, base.download)


def draws_tasks(cfg: EnvConfig) -> bool:
    """Whether `cfg`'s episodes draw their task (`env.tasks.datasets` is set)."""
    return bool(cfg.tasks.datasets)


def episode_task(cfg: EnvConfig, rng: np.random.Generator) -> ChildTask | None:
    """The task of an episode, drawn from `rng` when `cfg` draws tasks (before the child seed and initial
    LR, which `episode_start` then draws); None: the setting's own task."""
    return draw_task(cfg, rng) if draws_tasks(cfg) else None


def _choice(rng: np.random.Generator, values: tuple) -> object:
    return values[int(rng.integers(len(values)))]


def check_task_names(tasks: TaskDistribution, prefix: str) -> None:
    """A ConfigError naming the first dataset, architecture or activation of `tasks` that is not known."""
    for key, allowed in (("datasets", TASK_DATASETS), ("architectures", ARCHITECTURES),
                         ("activations", tuple(ACTIVATIONS))):
        for i, value in enumerate(getattr(tasks, key)):
            check_choice(f"{prefix}{key}[{i}]", value, allowed)


def architectures_for(dataset: str, architectures: tuple[str, ...]) -> tuple[str, ...]:
    """The child families of `architectures` that can train on `dataset` (a CNN needs images)."""
    return tuple(a for a in architectures if not _FAMILIES[a].needs_images or dataset in IMAGE_DATASETS)


def draw_task(cfg: EnvConfig, rng: np.random.Generator) -> ChildTask:
    """A task drawn uniformly from `cfg.tasks`' choices with `rng`. A choice among one value draws
    nothing, so adding a choice list with one entry leaves every existing draw as it was."""
    tasks = cfg.tasks
    dataset = str(_choice(rng, tasks.datasets))
    data_seed = int(rng.integers(2**31 - 1))
    family = _FAMILIES[str(_choice(rng, architectures_for(dataset, tasks.architectures)))]
    depth = int(_choice(rng, tasks.depths))
    sizes = tuple(int(_choice(rng, getattr(tasks, family.sizes))) for _ in range(depth))
    activation = str(_choice(rng, tasks.activations))
    return ChildTask(
        dataset=dataset,
        data_seed=data_seed if dataset == "synthetic" else 0,
        model=family.namer(sizes, activation),
        batch_size=int(_choice(rng, tasks.batch_sizes)),
        child_steps=int(_choice(rng, tasks.child_steps)),
        optimizer=str(_choice(rng, tasks.optimizers)),
    )


@functools.lru_cache(maxsize=4)  # an episode's child and its constant-LR twin train on the same problem
def synthetic_classification(seed: int) -> DatasetSplits:
    """A classification problem from scikit-learn's `make_classification` whose size, number of
    features and classes, class separation and label noise are drawn from `seed`; standardised with
    the training part's statistics, split into train, validation and test."""
    from sklearn.datasets import make_classification

    rng = np.random.default_rng(seed)
    n_samples = int(rng.integers(*_SYNTHETIC_SAMPLES, endpoint=True))
    n_features = int(rng.integers(*_SYNTHETIC_FEATURES, endpoint=True))
    n_classes = int(rng.integers(*_SYNTHETIC_CLASSES, endpoint=True))
    # make_classification needs n_classes * n_clusters_per_class (2) <= 2 ** n_informative.
    least_informative = math.ceil(math.log2(2 * n_classes))
    n_informative = int(rng.integers(min(least_informative, n_features), n_features, endpoint=True))
    x, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=n_informative,
        n_redundant=int(rng.integers(0, n_features - n_informative, endpoint=True)),
        n_classes=n_classes, class_sep=float(rng.uniform(*_SYNTHETIC_CLASS_SEP)),
        flip_y=float(rng.uniform(*_SYNTHETIC_LABEL_NOISE)), random_state=int(rng.integers(2**31 - 1)),
    )
    return standardised_splits(x, y, n_classes, rng)


def standardised_splits(x: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator) -> DatasetSplits:
    """Tabular data split at random (by `rng`) into test, validation and training parts, each feature
    standardised with the training part's mean and standard deviation."""
    n_samples = len(x)
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    perm = torch.as_tensor(rng.permutation(n_samples))
    n_test = int(round(_SPLIT_FRACTION * n_samples))
    n_val = int(round(_SPLIT_FRACTION * (n_samples - n_test)))
    test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
    mean, std = x[train].mean(dim=0), x[train].std(dim=0).clamp_min(1e-6)
    x = (x - mean) / std
    return DatasetSplits(x[train], y[train], x[val], y[val], x[test], y[test], n_classes)
