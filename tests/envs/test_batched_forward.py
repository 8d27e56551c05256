"""The K-children forward pass computes each child's own network, with each child's own gradients."""

import pytest
import torch
from torch import nn
from torch.func import functional_call

from lrctl.children.batched_forward import _plain_mlp_layers, batched_forward
from lrctl.models import CNN, MLP, LeNet5

K = 3


def _stacked(model_fn) -> tuple[nn.Module, list[nn.Module], dict[str, torch.Tensor]]:
    """A template and K differently initialised children, with their parameters stacked (K, ...)."""
    children = []
    for seed in range(K):
        torch.manual_seed(seed)
        children.append(model_fn())
    names = [n for n, _ in children[0].named_parameters()]
    stacked = {n: torch.stack([dict(c.named_parameters())[n].detach() for c in children]) for n in names}
    return children[0], children, stacked


class _DoubledMLP(nn.Sequential):
    """A Sequential of plain MLP layers whose own forward does something more."""

    def forward(self, x):
        return 2 * super().forward(x)


MODELS = {
    "mlp": lambda: MLP(12, (8, 6), 4),
    "mlp-no-bias": lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8, bias=False), nn.ReLU(), nn.Linear(8, 4)),
    "tanh-mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 4)),
    "gelu-mlp": lambda: MLP(12, (8, 6), 4, activation="gelu"),
    "layernorm-mlp": lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.LayerNorm(8), nn.Linear(8, 4)),
    "lenet5": lambda: LeNet5(4),
    "cnn": lambda: CNN(36, (3, 5), 4),
    "doubled-mlp": lambda: _DoubledMLP(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4)),
}
SHAPES = {"mlp": (3, 4), "mlp-no-bias": (12,), "tanh-mlp": (2, 6), "gelu-mlp": (12,), "layernorm-mlp": (12,),
          "lenet5": (1, 28, 28), "cnn": (36,), "doubled-mlp": (12,)}


@pytest.mark.parametrize("name", MODELS)
def test_each_child_gets_its_own_logits_and_gradients(name):
    template, children, stacked = _stacked(MODELS[name])
    x = torch.randn(K, 5, *SHAPES[name], generator=torch.Generator().manual_seed(1))
    params = {n: p.clone().requires_grad_() for n, p in stacked.items()}
    logits = batched_forward(template)(params, x)
    grads = torch.autograd.grad(logits.square().sum(), list(params.values()))
    for i, child in enumerate(children):
        expected = child(x[i])
        torch.testing.assert_close(logits[i], expected, rtol=1e-5, atol=1e-6)
        expected_grads = torch.autograd.grad(expected.square().sum(), list(child.parameters()))
        for g, e in zip(grads, expected_grads):
            torch.testing.assert_close(g[i], e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,plain", [("mlp", True), ("mlp-no-bias", True), ("tanh-mlp", True), ("gelu-mlp", True),
                                        ("layernorm-mlp", False), ("lenet5", False), ("cnn", False),
                                        ("doubled-mlp", False)])
def test_only_plain_mlps_skip_vmap(name, plain):
    assert (_plain_mlp_layers(MODELS[name]()) is not None) == plain


def test_plain_mlp_products_match_vmap_of_functional_call():
    """The shortcut is the same function as the general torch.func path, not only close to single models."""
    template, _, stacked = _stacked(MODELS["mlp"])
    general = torch.func.vmap(lambda p, x: functional_call(template, p, (x,)))
    x = torch.randn(K, 7, 12, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(batched_forward(template)(stacked, x), general(stacked, x), rtol=1e-6, atol=1e-6)
