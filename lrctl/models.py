"""Child networks of the settings, and how to find a network's output layer."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from lrctl.error_text import describe

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU,
                                           "leaky_relu": nn.LeakyReLU}


class MLP(nn.Sequential):
    """A multilayer perceptron over flattened inputs (ReLU unless `activation` names another)."""

    def __init__(self, in_features: int, hidden: tuple[int, ...], num_classes: int = 10,
                 activation: str = "relu") -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


def mlp_name(hidden: tuple[int, ...], activation: str) -> str:
    """The model name of an MLP child with these hidden widths and activation, e.g. `mlp:128-64:tanh`;
    `build_model` builds it for any input size."""
    return f"mlp:{'-'.join(str(h) for h in hidden)}:{activation}"


class CNN(nn.Sequential):
    """A small convolutional network over square single-channel images, given flat or as (1, side, side):
    blocks of a 3x3 convolution with stride 2 and an activation, then one Linear layer to the classes.
    The strided convolutions stand in for pooling, which keeps the child cheap enough to train many."""

    def __init__(self, in_features: int, channels: tuple[int, ...], num_classes: int = 10,
                 activation: str = "relu") -> None:
        side = math.isqrt(in_features)
        if side * side != in_features:
            raise ValueError(f"a CNN child needs square single-channel images, got {in_features} input features; "
                             "use an MLP child (mlp:WIDTHS:ACTIVATION) for this data")
        layers: list[nn.Module] = [nn.Flatten(), nn.Unflatten(1, (1, side, side))]
        width = 1
        for c in channels:
            layers += [nn.Conv2d(width, c, 3, stride=2, padding=1), ACTIVATIONS[activation]()]
            width, side = c, (side + 1) // 2
        layers += [nn.Flatten(), nn.Linear(width * side * side, num_classes)]
        super().__init__(*layers)


def cnn_name(channels: tuple[int, ...], activation: str) -> str:
    """The model name of a CNN child with these block channels and activation, e.g. `cnn:8-16:relu`;
    `build_model` builds it for any square single-channel input."""
    return f"cnn:{'-'.join(str(c) for c in channels)}:{activation}"


_LAYERED: dict[str, tuple[type[nn.Module], str, str]] = {
    "mlp": (MLP, "mlp:128-64:relu", "widths"), "cnn": (CNN, "cnn:8-16:relu", "channels")}
"""Named children by family: the network, an example name and what the sizes in a name count."""


def _parse_layered_name(name: str) -> tuple[type[nn.Module], tuple[int, ...], str]:
    """(network, layer sizes, activation) of a name that `mlp_name` or `cnn_name` writes."""
    network, example, sizes_label = _LAYERED[name.split(":", 1)[0]]
    label = network.__name__
    try:
        _, widths, activation = name.split(":")
        sizes = tuple(int(w) for w in widths.split("-"))
    except ValueError:
        raise ValueError(f"bad {label} model name {name!r}; expected e.g. {example}") from None
    if activation not in ACTIVATIONS or not sizes or min(sizes) < 1:
        raise ValueError(f"bad {label} model name {name!r}; {sizes_label} >= 1, activation one of "
                         f"{', '.join(ACTIVATIONS)}")
    return network, sizes, activation


class LeNet5(nn.Module):
    """LeNet-5 for 28x28 grey images, with ReLU and max-pooling."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    """torchvision ResNet-18 with the CIFAR stem: 3x3 stride-1 first convolution, no max-pool."""
    from torchvision.models import resnet18

    model = resnet18(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


MODELS = ("digits-mlp", "mlp", "lenet5", "resnet18")


def build_model(name: "str | Callable[[], nn.Module]", num_classes: int = 10,
                in_features: int | None = None) -> nn.Module:
    """Build a freshly initialised child network by name, or with a user's factory (uses the global
    torch RNG).

    `in_features` (the flattened input size) is needed by the MLPs and CNNs that `mlp_name` and `cnn_name` name.
    """
    if callable(name):
        return _from_factory(name)
    if name.split(":", 1)[0] in _LAYERED and ":" in name:
        network, sizes, activation = _parse_layered_name(name)
        if in_features is None:
            raise ValueError(f"model {name!r} needs in_features, the flattened input size")
        return network(in_features, sizes, num_classes, activation)
    if name == "digits-mlp":
        return MLP(64, (128, 64), num_classes)
    if name == "mlp":
        return MLP(28 * 28, (256, 128, 64), num_classes)
    if name == "lenet5":
        return LeNet5(num_classes)
    if name == "resnet18":
        return resnet18_cifar(num_classes)
    raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")


def find_output_layer(model: nn.Module) -> nn.Linear:
    """The last `nn.Linear` registered in `model`: the layer whose weights the features describe."""
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear):
            last = module
    if last is None:
        raise ValueError(
            f"cannot find an output layer in {type(model).__name__}: it has no nn.Linear; "
            "pass output_layer=<the final layer> explicitly"
        )
    return last


def build_seeded_model(name: "str | Callable[[], nn.Module]", seed: int, num_classes: int = 10,
                       in_features: int | None = None) -> nn.Module:
    """`build_model` initialised from `seed`, without touching the global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(name, num_classes, in_features)


def model_label(model: "str | Callable[[], nn.Module]") -> str:
    """A model's name, or its factory's qualified name, for messages."""
    return model if isinstance(model, str) else getattr(model, "__qualname__", type(model).__name__)


def _from_factory(factory: Callable[[], nn.Module]) -> nn.Module:
    label = model_label(factory)
    try:
        model = factory()
    except Exception as err:
        raise ModelError(f"model factory {label} failed: {describe(err)}") from None
    if not isinstance(model, nn.Module):
        raise ModelError(f"model factory {label} returned a {type(model).__name__}, not a torch.nn.Module; "
                         "return the network itself")
    return model


class ModelError(ValueError):
    """A child network cannot be built or used as one. The message is one line."""


def check_child_model(factory: "str | Callable[[], nn.Module]", sample_x: torch.Tensor, num_classes: int) -> None:
    """A `ModelError` unless the model builds, has an output layer, and maps `sample_x` to
    (len(sample_x), num_classes) floating-point logits."""
    label = model_label(factory)
    model = build_seeded_model(factory, 0, num_classes, sample_x[0].numel())
    if not any(isinstance(m, nn.Linear) for m in model.modules()):
        raise ModelError(f"model {label}: {type(model).__name__} has no nn.Linear, so it has no output layer "
                         "for the features to describe; end the network with an nn.Linear")
    model = model.to(sample_x.device).eval()
    try:
        with torch.no_grad():
            out = model(sample_x)
    except Exception as err:
        raise ModelError(f"model {label} fails on inputs of shape {tuple(sample_x.shape)}: {describe(err)}") from None
    expected = (len(sample_x), num_classes)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected or not out.is_floating_point():
        got = f"shape {tuple(out.shape)}, {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise ModelError(f"model {label} must return float logits of shape (batch, num_classes) = {expected} "
                         f"for inputs of shape {tuple(sample_x.shape)}, got {got}")
