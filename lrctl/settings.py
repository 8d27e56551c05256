"""Named child-training problems (settings): which dataset, which child network, which defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One child-training problem: a dataset, a child network and the environment defaults for it."""

    name: str
    dataset: str
    model: str
    description: str
    env_defaults: dict[str, Any] = field(default_factory=dict)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "digits-mlp",
            dataset="digits",
            model="digits-mlp",
            description="scikit-learn digits (8x8), 2-hidden-layer MLP; no download, minutes on a CPU",
            env_defaults={"child_steps": 500, "steps_per_action": 5, "batch_size": 64, "val_subset_size": 256},
        ),
        Setting(
            "mnist-mlp",
            dataset="mnist",
            model="mlp",
            description="MNIST, MLP with 3 hidden layers",
            env_defaults={"child_steps": 1000, "batch_size": 256, "val_subset_size": 1000},
        ),
        Setting(
            "fmnist-mlp",
            dataset="fashion-mnist",
            model="mlp",
            description="Fashion-MNIST, MLP with 3 hidden layers (for transfer from digits-mlp)",
            env_defaults={"child_steps": 500, "batch_size": 256, "val_subset_size": 1000},
        ),
        Setting(
            "fmnist-lenet5",
            dataset="fashion-mnist",
            model="lenet5",
            description="Fashion-MNIST, LeNet-5 (the paper's main setting)",
            env_defaults={"child_steps": 1000, "batch_size": 256, "val_subset_size": 1000},
        ),
        Setting(
            "cifar10-resnet18",
            dataset="cifar10",
            model="resnet18",
            description="CIFAR-10, torchvision ResNet-18 with a CIFAR stem; GPU-sized",
            env_defaults={
                "child_steps": 1000,
                "batch_size": 128,
                "val_subset_size": 1000,
                "device": "auto",
            },
        ),
    )
}


def get_setting(name: str) -> Setting:
    """Look a setting up by name; an unknown name is a ValueError that lists the known ones."""
    try:
        return SETTINGS[name]
    except KeyError:
        raise ValueError(
            f"unknown setting {name!r}; choose one of: {', '.join(SETTINGS)}"
        ) from None
