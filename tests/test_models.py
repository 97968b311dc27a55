import numpy as np
import pytest

from bnviz.models import build_model, model_label, param_counts
from bnviz.variants import VARIANTS


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


# Per variant, from the layers' own sizes. "after": BN on 32 + 32 channels and 512 features
# (576 features; γ, β, moving mean and variance 576 each); "before": 3 × 32 channels (96).
# The baseline's 31,626 trainable weights are in every "after" model; "before" drops the
# three convolution biases (96) to 31,530.
AFTER_FEATURES, BEFORE_FEATURES = 576, 96
# Layer norm's gain and bias per feature of the map it normalises: after, 12·12·32 (pool1),
# 6·6·32 (pool2) and 512 features; before, 24·24·32, 12·12·32 and 4·4·32.
LAYER_FEATURES = {"after": 12 * 12 * 32 + 6 * 6 * 32 + 512,
                  "before": 24 * 24 * 32 + 12 * 12 * 32 + 4 * 4 * 32}


@pytest.mark.parametrize("placement", ["after", "before"])
@pytest.mark.parametrize(("normalization", "learned", "moving"), [
    ("batch", 2, 2),          # γ, β; moving mean and variance
    ("noisy-batch", 2, 2),    # the noise adds no weights (its random state is not a weight)
    ("mean-only", 2, 1),      # γ, β; moving mean only
    ("variance-only", 2, 1),  # γ, β; moving variance only
    ("frozen-affine", 0, 2),  # γ = 1, β = 0 fixed: only the moving statistics
    ("group", 2, 0),          # γ, β per channel, no moving statistics
    ("noise-only", 0, 0),     # the noise alone: nothing learned, nothing kept
])
def test_each_variant_has_its_own_parameter_counts(placement, normalization, learned, moving):
    features = AFTER_FEATURES if placement == "after" else BEFORE_FEATURES
    # the noise-only control keeps the convolutions' biases: nothing stands in for them
    convolutions = 31_626 if placement == "after" or normalization == "noise-only" else 31_530
    table = param_counts(placement, normalization)
    assert table.trainable.sum() == convolutions + learned * features
    assert table.non_trainable.sum() == moving * features
    assert table.params.sum() == convolutions + (learned + moving) * features


@pytest.mark.parametrize("placement", ["after", "before"])
def test_layer_norm_learns_a_gain_and_bias_per_feature_of_the_whole_map(placement):
    table = param_counts(placement, "layer")
    convolutions = 31_626 if placement == "after" else 31_530
    assert table.trainable.sum() == convolutions + 2 * LAYER_FEATURES[placement]
    assert table.non_trainable.sum() == 0
    assert list(table[table.type == "LayerNormalization"].layer) == ["ln1", "ln2", "ln3"]


@pytest.mark.parametrize(("placement", "total"), [
    # The baseline's convolutions and dense layer, nothing added: the noise learns nothing.
    ("after", 31_626),
    # "before" models drop the convolutions' biases (800 + 16,384 + 9,216 + 5,130 = 31,530
    # is what is left) because BN's β replaces them; the control has no β, so it keeps
    # them, as Santurkar et al.'s network without BN did: the baseline's weights exactly.
    ("before", 31_626),
])
def test_the_noise_only_control_learns_no_weights_of_its_own(placement, total):
    table = param_counts(placement, "noise-only")
    assert (table.params.sum(), table.trainable.sum(), table.non_trainable.sum()) == (
        total, total, 0)
    assert list(table[table.type == "StepNoise"].layer) == ["noise1", "noise2", "noise3"]
    assert "BatchNormalization" not in set(table.type)


def test_the_noise_is_santurkars_algorithm_1():
    from bnviz.norms import N_MU, N_SIGMA, R_MU, R_SIGMA, StepNoise

    # Two layers with one seed draw the same noise: on zeros it is the shift m, on ones
    # s + m, so their difference is the scale s of each activation.
    zeros, ones = np.zeros((64, 6, 6, 32), "float32"), np.ones((64, 6, 6, 32), "float32")
    shift = StepNoise(7)(zeros, training=True).numpy()
    scale = StepNoise(7)(ones, training=True).numpy() - shift
    assert len(np.unique(shift[..., 3])) == shift[..., 3].size  # each activation its own
    # Per channel μ ~ U(±0.5), each activation within μ ± 0.1 of it.
    mu = shift.mean(axis=(0, 1, 2))
    assert np.abs(mu).max() < N_MU + 0.01 and np.ptp(mu) > N_MU
    assert np.ptp(shift, axis=(0, 1, 2)).max() <= 2 * R_MU + 1e-5
    # Per channel σ ~ U(1, 1.25), each activation's scale normal around it with sd 0.1.
    sigma = scale.mean(axis=(0, 1, 2))
    assert sigma.min() > 1 - 0.01 and sigma.max() < N_SIGMA + 0.01 and np.ptp(sigma) > 0.1
    np.testing.assert_allclose(scale.std(axis=(0, 1, 2)), R_SIGMA, rtol=0.1)
    # Multiplicative: a twice as large input gets its scale twice.
    doubled = StepNoise(7)(2 * ones, training=True).numpy() - shift
    np.testing.assert_allclose(doubled, 2 * scale, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("normalization", "without_noise"), [
    ("noisy-batch", ("after", "batch")),  # the noisy BN model is then BN's
    ("noise-only", ("none", "batch")),    # and the control the baseline (the same weights)
])
def test_the_noise_changes_at_every_step_and_is_gone_in_inference(normalization,
                                                                   without_noise):
    model = build_model("after", seed=1, normalization=normalization)
    noise = model.get_layer("noise1")
    big = np.ones((64, 6, 6, 32), "float32")
    first, second = noise(big, training=True).numpy(), noise(big, training=True).numpy()
    # A new μ and σ per channel at every step (call).
    assert not np.allclose(first.mean(axis=(0, 1, 2)), second.mean(axis=(0, 1, 2)), atol=0.1)
    np.testing.assert_array_equal(noise(big[:4], training=False).numpy(), big[:4])
    x = np.random.default_rng(0).normal(size=(8, 28, 28, 1)).astype("float32")
    placement, reference = without_noise
    np.testing.assert_allclose(model(x, training=False).numpy(),
                               build_model(placement, 1, reference)(x, training=False).numpy(),
                               rtol=1e-5)


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


@pytest.mark.parametrize("placement", ["after", "before"])
@pytest.mark.parametrize("variant", VARIANTS.values(), ids=list(VARIANTS))
def test_each_variant_builds_what_its_description_says(variant, placement):
    # The page decides what to show from the description alone (bnviz.variants): it must
    # hold for the layers the model really has.
    from bnviz.norms import is_normalizer, uses_batch_statistics

    model = build_model(placement, seed=0, normalization=variant.name)
    # The layers standing in BN's places: normalisers, or the noise-only control's noise.
    stand_ins = [layer for layer in model.layers if is_normalizer(layer)
                 or (not variant.normalizes and layer.name.startswith(variant.layer_prefix))]
    assert [layer.name for layer in stand_ins] == [f"{variant.layer_prefix}{index}"
                                                   for index in (1, 2, 3)]
    assert all(is_normalizer(layer) == variant.normalizes for layer in stand_ins)
    assert model_label(placement, variant.name) == f"{variant.label} {placement}"
    for layer in stand_ins:
        values = {name: getattr(layer, name, None)
                  for name in ("gamma", "beta", "moving_mean", "moving_variance")}
        assert uses_batch_statistics(layer) == variant.uses_batch_statistics
        assert variant.keeps_moving_statistics == (
            values["moving_mean"] is not None or values["moving_variance"] is not None)
        assert variant.has_every_bn_value == all(v is not None for v in values.values())
    gamma = getattr(stand_ins[0], "gamma", None)
    assert variant.learns_per_position == (gamma is not None and len(gamma.shape) > 1)
