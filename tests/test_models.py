"""Child networks: shapes, the CIFAR stem, named MLP and CNN children, output-layer lookup."""

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


@pytest.mark.parametrize("shape", [(2, 64), (2, 1, 8, 8)])
def test_cnn_takes_flat_or_image_inputs_and_halves_the_side_per_block(shape):
    model = build_model("cnn:4-6-5:tanh", num_classes=3, in_features=64)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [4, 6, 5] and all(c.stride == (2, 2) for c in convs)
    assert find_output_layer(model).in_features == 5 * 1 * 1  # 8 -> 4 -> 2 -> 1
    assert model(torch.randn(*shape)).shape == (2, 3)


@pytest.mark.parametrize("name,in_features,message", [
    ("cnn:8-x:relu", 64, "bad CNN model name 'cnn:8-x:relu'; expected e.g. cnn:8-16:relu"),
    ("cnn:8:swish", 64, "activation one of"),
    ("cnn:0:relu", 64, "channels >= 1"),
    ("cnn:8:relu", 63, "needs square single-channel images, got 63 input features"),
    ("mlp:16-:relu", 64, "bad MLP model name"),
])
def test_bad_named_children_are_one_line_errors(name, in_features, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as err:
        build_model(name, in_features=in_features)
    assert "\n" not in str(err.value)
