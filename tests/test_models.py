import numpy as np
import pytest

from bnviz.models import build_model, param_counts


@pytest.mark.parametrize(("placement", "total", "trainable", "frozen"), [
    ("none", 31_626, 31_626, 0),      # the blog's baseline summary()
    ("after", 33_930, 32_778, 1_152),  # the blog's BN model summary()
    # Conv biases dropped (800 + 16,384 + 9,216), three per-channel BN layers of 32 channels
    # (3 x 64 trainable gamma/beta, 3 x 64 moving mean/variance), dense 5,130.
    ("before", 31_914, 31_722, 192),
])
def test_parameter_counts_are_exact(placement, total, trainable, frozen):
    table = param_counts(placement)
    assert table.params.sum() == total
    assert table.trainable.sum() == trainable
    assert table.non_trainable.sum() == frozen


def test_before_places_bn_between_convolution_and_relu():
    types = list(param_counts("before").type)
    assert types[:4] == ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"]


def test_same_seed_gives_both_models_the_same_starting_weights():
    baseline, bn = build_model("none", seed=3), build_model("after", seed=3)
    for name in ("conv1", "conv2", "conv3", "dense"):
        np.testing.assert_array_equal(baseline.get_layer(name).kernel.numpy(),
                                      bn.get_layer(name).kernel.numpy())
    other = build_model("none", seed=4)
    assert not np.array_equal(other.get_layer("conv1").kernel.numpy(),
                              baseline.get_layer("conv1").kernel.numpy())
