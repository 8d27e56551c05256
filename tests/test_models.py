"""Child networks: shapes, the CIFAR stem, output-layer lookup."""

import pytest
import torch
from torch import nn

from lrctl.models import build_model, find_output_layer


@pytest.mark.parametrize("name,shape", [("digits-mlp", (2, 64)), ("mlp", (2, 1, 28, 28)),
                                        ("lenet5", (2, 1, 28, 28)), ("resnet18", (2, 3, 32, 32))])
def test_models_map_inputs_to_ten_logits(name, shape):
    model = build_model(name)
    assert model(torch.randn(*shape)).shape == (2, 10)
    assert find_output_layer(model).out_features == 10


def test_mlp_has_three_hidden_layers():
    assert sum(isinstance(m, nn.Linear) for m in build_model("mlp").modules()) == 4


def test_resnet18_has_the_cifar_stem():
    model = build_model("resnet18")
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)


def test_model_without_linear_layer_is_a_clear_error():
    with pytest.raises(ValueError, match="output_layer="):
        find_output_layer(nn.Sequential(nn.Conv2d(1, 1, 3)))
