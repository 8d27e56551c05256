"""The forward pass of K stacked children: `vmap` of `functional_call`, or batched products for MLPs.

Both forms take the children's parameters as {name: (K, *shape)} and inputs (K, B, ...) and return
(K, B, C) logits; autograd gives each child's gradients through either. A plain MLP (Flatten, then
Linear layers, each optionally followed by an elementwise activation) runs as one `torch.baddbmm` per layer instead: for children this small,
vmap's per-operation batching costs as much as the products themselves (eight digits-mlp children: a
forward and backward pass take about 45% less time). Both forms compute the same function, within
float rounding; a test pins it.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call, vmap

BatchedForward = Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


# Activations that act elementwise, so they apply to (K, B, H) as to (B, H).
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.GELU, nn.LeakyReLU)


class _Dense(NamedTuple):
    """One Linear layer of a plain MLP, by the names of its parameters, and the activation after it."""

    weight: str
    bias: str | None
    activation: nn.Module | None


def batched_forward(template: nn.Module) -> BatchedForward:
    """The K-children forward pass for children shaped like `template` (which it does not keep)."""
    layers = _plain_mlp_layers(template)
    if layers is not None:
        return functools.partial(_mlp_forward, layers)
    base = copy.deepcopy(template).to("meta")  # structure only; the parameters come with each call
    return vmap(lambda params, x: functional_call(base, params, (x,)))


def _plain_mlp_layers(model: nn.Module) -> list[_Dense] | None:
    """The Linear layers of `model` if it is Flatten followed by Linear layers and elementwise
    activations; else None."""
    if not isinstance(model, nn.Sequential) or type(model).forward is not nn.Sequential.forward:
        return None
    modules = list(model.named_children())
    if not modules or type(modules[0][1]) is not nn.Flatten or modules[0][1].start_dim != 1 \
            or modules[0][1].end_dim != -1:
        return None
    layers: list[_Dense] = []
    for name, module in modules[1:]:
        if type(module) is nn.Linear:
            layers.append(_Dense(f"{name}.weight", f"{name}.bias" if module.bias is not None else None, None))
        elif type(module) in _ELEMENTWISE and layers and layers[-1].activation is None:
            layers[-1] = layers[-1]._replace(activation=copy.deepcopy(module))
        else:
            return None
    return layers or None


def _mlp_forward(layers: list[_Dense], params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    h = x.flatten(2)
    for layer in layers:
        weight = params[layer.weight].transpose(1, 2)  # (K, in, out)
        if layer.bias is None:
            h = torch.bmm(h, weight)
        else:
            h = torch.baddbmm(params[layer.bias].unsqueeze(1), h, weight)
        if layer.activation is not None:
            h = layer.activation(h)
    return h
