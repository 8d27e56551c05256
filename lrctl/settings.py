"""Child-training problems (settings): which dataset, which child network, which defaults.

The built-in settings are named (`digits-mlp`, ...). A user's own setting is a `Setting` object in their
own module, made with `define_setting` and named by its import path, `package.module:attribute`, wherever
a built-in name goes (`env.setting`, `--setting`, `gymnasium.make(..., setting=...)`).
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from lrctl.error_text import describe
from lrctl.errors import ConfigError, SettingError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lrctl.data import DatasetSplits

ModelFactory = Callable[[], "nn.Module"]
"""Builds a freshly initialised child network (lrctl seeds the global torch RNG around the call)."""
SplitsLike = Union["DatasetSplits", Mapping[str, "torch.Tensor"]]
DataSource = Union[SplitsLike, Callable[[], SplitsLike]]
"""A user's data: a `DatasetSplits`, a mapping with the tensors train_x, train_y, val_x, val_y, test_x,
test_y (and optionally num_classes), or a function of no arguments that returns either (called once per
process, so a worker process loads its own copy)."""


@dataclass(frozen=True)
class Setting:
    """One child-training problem: a dataset, a child network and the environment defaults for it.

    `dataset` is a built-in dataset's name or a user's `DataSource`; `model` a built-in model's name or a
    `ModelFactory`. `env_defaults` are `EnvConfig` fields (child_steps, batch_size, optimizer,
    initial_lrs, ...) that a config file or `--set` may still override.
    """

    name: str
    dataset: str | DataSource
    model: str | ModelFactory
    description: str = ""
    env_defaults: dict[str, Any] = field(default_factory=dict)


def define_setting(name: str, data: DataSource, model: ModelFactory, *, child_steps: int,
                   batch_size: int, optimizer: str = "adam",
                   initial_lrs: tuple[float, ...] = (1e-2, 1e-3, 1e-4), **env_defaults: Any) -> Setting:
    """A user's own setting, to be named by its import path (`mypkg.tasks:my_setting`).

    Args:
        name: a short name, used for default run and output folders.
        data: the splits as tensors (inputs float, labels int64 in [0, num_classes)), or a function of
            no arguments that returns them (see `DataSource`).
        model: a function of no arguments that returns a fresh `nn.Module` mapping a batch of inputs to
            (batch, num_classes) logits; its last `nn.Linear` is the output layer the features describe.
        child_steps: the training budget in optimizer steps.
        batch_size: the mini-batch size.
        optimizer: `adam` or `sgd`.
        initial_lrs: the initial LRs episodes draw from.
        **env_defaults: any other `EnvConfig` field (steps_per_action, val_subset_size, momentum, ...).

    Everything is checked when the setting is first used: a bad value is a one-line error.
    """
    if not isinstance(name, str) or not name or any(c in name for c in "/\\: "):
        raise SettingError(f"setting name {name!r}: give a short name without '/', ':' or spaces, e.g. 'my-task'")
    if isinstance(data, str) or not (callable(data) or isinstance(data, Mapping) or hasattr(data, "train_x")):
        raise SettingError(f"setting {name!r}: data must be a DatasetSplits, a mapping of tensors or a function "
                           f"returning one, got {type(data).__name__}")
    if not callable(model):
        raise SettingError(f"setting {name!r}: model must be a function of no arguments returning an nn.Module, "
                           f"got {type(model).__name__}")
    defaults = {"child_steps": child_steps, "batch_size": batch_size, "optimizer": optimizer,
                "initial_lrs": list(initial_lrs), **env_defaults}
    return Setting(name, data, model, description=f"user setting {name}", env_defaults=defaults)


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
            description="Fashion-MNIST, MLP with 3 hidden layers",
            env_defaults={"child_steps": 500, "steps_per_action": 5, "batch_size": 256, "val_subset_size": 1000},
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


def is_import_path(name: str) -> bool:
    """Whether `name` names a user's setting (`module:attribute`) rather than a built-in one."""
    return ":" in name


def get_setting(name: str) -> Setting:
    """The built-in setting `name`, or the user's setting at the import path `module:attribute`.

    An unknown name, a module that cannot be imported or an attribute that is not a `Setting` is a
    `SettingError` (a ValueError) that says what to do.
    """
    if is_import_path(name):
        return _import_setting(name)
    try:
        return SETTINGS[name]
    except KeyError:
        raise SettingError(
            f"unknown setting {name!r}; choose one of: {', '.join(SETTINGS)}, or name your own as "
            "module:attribute"
        ) from None


def setting_env_defaults(key: str, name: str) -> dict[str, Any]:
    """The environment defaults of setting `name` (built-in or an import path), or a ConfigError naming `key`."""
    try:
        return dict(get_setting(name).env_defaults)
    except SettingError as err:
        raise ConfigError(f"{key}: {err}") from None


def setting_label(name: str) -> str:
    """A short name for folders and titles: the setting's own name (an import path's is its `name`)."""
    return get_setting(name).name if is_import_path(name) else name


@functools.lru_cache(maxsize=None)
def _import_setting(path: str) -> Setting:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute or ":" in attribute:
        raise SettingError(f"setting {path!r}: an own setting is named module:attribute, "
                           "e.g. mypkg.tasks:my_setting")
    # As `python -m` and uvicorn do, the working directory is importable: a module beside the command works.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        raise SettingError(f"setting {path!r}: cannot import {module_name!r} ({err}); install the package "
                           "or run from the folder that holds it") from None
    except Exception as err:  # the user's module itself failed while importing
        raise SettingError(f"setting {path!r}: importing {module_name!r} failed: "
                           f"{describe(err)}") from None
    try:
        value = getattr(module, attribute)
    except AttributeError:
        raise SettingError(f"setting {path!r}: module {module_name!r} has no attribute {attribute!r}") from None
    if not isinstance(value, Setting):
        raise SettingError(f"setting {path!r}: {attribute} is a {type(value).__name__}, not a Setting; "
                           "make it with lrctl.define_setting(...)")
    return value

