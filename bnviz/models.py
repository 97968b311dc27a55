"""The two CNNs of the comparison, built with Keras layers.

``placement="none"`` is the blog's baseline; ``"after"`` is the blog's BN model
(BN after each conv block's ReLU and pooling, and on the flattened features);
``"before"`` puts BN where Ioffe & Szegedy do, on each convolution's output
before its ReLU (Conv → BN → ReLU). In ``"before"`` the convolutions drop their
bias, since BN's beta replaces it, and the third block's BN is per channel on
the 4×4×32 map (not on the 512 flattened features as in ``"after"``). The dense
end is the same everywhere: Flatten → Dropout(0.2) → Dense(10) → softmax, no BN
on the logits.

``normalization`` (a `bnviz.variants.Variant` by name) says what stands where BN stands:
batch norm itself (the default), a piece of it, or another normaliser (`bnviz.norms`).

``architecture="mlp-sigmoid"`` is Ioffe & Szegedy's own test network (2015, §4.1, Fig. 1): the
image flattened, three fully connected hidden layers of `MLP_UNITS` sigmoid units, then
Dense(10) → softmax, no dropout. Each sigmoid is a layer of its own (``sigmoid1..3``), so what it
receives can be probed; ``"before"`` puts BN between each hidden layer's Wx and its sigmoid (the
paper's place; the hidden layers then drop their bias), ``"after"`` on each sigmoid's output.

TensorFlow is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from bnviz.config import BASELINE_PLACEMENT, CNN, MLP_SIGMOID, PLACEMENTS
from bnviz.data import IMAGE_SHAPE, NUM_CLASSES
from bnviz.variants import BATCH_NORM, variant

if TYPE_CHECKING:
    import keras

MODEL_PLACEMENTS = (BASELINE_PLACEMENT, *PLACEMENTS)
BASELINE = "baseline"
CHANNELS = 32  # of each convolution
MLP_UNITS = 100  # of each hidden layer of Ioffe & Szegedy's MLP


def model_label(placement: str, normalization: str = BATCH_NORM) -> str:
    """The name a model goes by in histories, tables and charts: "baseline", "BN after",
    "GroupNorm before", … (the variant's `bnviz.variants.Variant.label`)."""
    if placement == BASELINE_PLACEMENT:
        return BASELINE
    return f"{variant(normalization).label} {placement}"


def build_model(placement: str, seed: int, normalization: str = BATCH_NORM,
                architecture: str = CNN) -> keras.Sequential:
    """Build one comparison model.

    Weight layers draw their initial values from seeds derived from ``seed`` and
    their position (conv or hidden layer 1..3, dense), so the baseline and the BN model
    built with the same seed start from identical weights in every layer they share.
    """
    if placement not in MODEL_PLACEMENTS:
        raise ValueError(f"placement must be one of {MODEL_PLACEMENTS}, not {placement!r}")
    builders = {CNN: _cnn_layers, MLP_SIGMOID: _mlp_layers}
    if architecture not in builders:
        raise ValueError(f"architecture must be one of {tuple(builders)}, not {architecture!r}")
    import keras

    stack = builders[architecture](placement, seed, normalization)
    name = model_label(placement, normalization)
    # Keras' scope names take ASCII letters, digits and underscores only.
    return keras.Sequential(stack, name="".join(
        c if c.isascii() and c.isalnum() else "_" for c in name))


def _initializer(seed: int, position: int) -> keras.initializers.Initializer:
    import keras

    return keras.initializers.GlorotUniform(seed=seed * 16 + position)


def _cnn_layers(placement: str, seed: int, normalization: str) -> list[keras.layers.Layer]:
    """The blog's CNN (the module's docstring)."""
    import keras
    from keras import layers

    from bnviz.norms import normalizing_layers

    def init(position: int) -> keras.initializers.Initializer:
        return _initializer(seed, position)

    before = placement == "before"
    after = placement == "after"
    kind = variant(normalization)
    conv_activation = None if before else "relu"
    # Before the activation a normaliser's β stands in for the convolution's bias; the
    # noise-only control has no β, so its convolutions keep theirs (as the network without
    # BN it is compared with).
    conv_bias = not before or not kind.normalizes
    stack: list[keras.layers.Layer] = [keras.Input(shape=(*IMAGE_SHAPE, 1))]

    def conv_block(index: int, kernel: int, padding: str, pool: bool) -> None:
        stack.append(layers.Conv2D(
            CHANNELS, kernel, padding=padding, activation=conv_activation, use_bias=conv_bias,
            kernel_initializer=init(index), name=f"conv{index}",
        ))
        if before:
            stack.extend(normalizing_layers(kind, index, seed, rank=4, features=CHANNELS))
            stack.append(layers.ReLU(name=f"relu{index}"))
        if pool:
            stack.append(layers.MaxPooling2D(2, name=f"pool{index}"))
            if after:
                stack.extend(normalizing_layers(kind, index, seed, rank=4, features=CHANNELS))

    conv_block(1, 5, "valid", pool=True)
    conv_block(2, 4, "same", pool=True)
    conv_block(3, 3, "valid", pool=False)
    stack.append(layers.Flatten(name="flatten"))
    if after:
        stack.extend(normalizing_layers(kind, 3, seed, rank=2, features=4 * 4 * CHANNELS))
    stack += [
        layers.Dropout(0.2, seed=seed, name="dropout"),
        layers.Dense(NUM_CLASSES, kernel_initializer=init(4), name="dense"),
        layers.Activation("softmax", name="softmax"),
    ]
    return stack


def _mlp_layers(placement: str, seed: int, normalization: str) -> list[keras.layers.Layer]:
    """Ioffe & Szegedy's MLP (the module's docstring)."""
    import keras
    from keras import layers

    from bnviz.norms import normalizing_layers

    kind = variant(normalization)
    before, after = placement == "before", placement == "after"
    stack: list[keras.layers.Layer] = [keras.Input(shape=(*IMAGE_SHAPE, 1)),
                                       layers.Flatten(name="flatten")]
    for index in (1, 2, 3):
        stack.append(layers.Dense(MLP_UNITS, use_bias=not before or not kind.normalizes,
                                  kernel_initializer=_initializer(seed, index),
                                  name=f"fc{index}"))
        if before:
            stack.extend(normalizing_layers(kind, index, seed, rank=2, features=MLP_UNITS))
        stack.append(layers.Activation("sigmoid", name=f"sigmoid{index}"))
        if after:
            stack.extend(normalizing_layers(kind, index, seed, rank=2, features=MLP_UNITS))
    return [*stack,
            layers.Dense(NUM_CLASSES, kernel_initializer=_initializer(seed, 4), name="dense"),
            layers.Activation("softmax", name="softmax")]


def layer_table(model: keras.Model) -> pd.DataFrame:
    """Per-layer summary, as Keras' ``summary()`` prints it, as data."""
    rows = []
    for layer in model.layers:
        trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
        frozen = sum(int(w.numpy().size) for w in layer.non_trainable_weights)
        rows.append({
            "layer": layer.name,
            "type": type(layer).__name__,
            "output_shape": str(tuple(layer.output.shape)).replace("None", "batch"),
            "params": trainable + frozen,
            "trainable": trainable,
            "non_trainable": frozen,
        })
    return pd.DataFrame(rows)


def param_counts(placement: str, normalization: str = BATCH_NORM,
                 architecture: str = CNN) -> pd.DataFrame:
    """The per-layer table of a freshly built model of this placement, normalisation and
    network."""
    return layer_table(build_model(placement, seed=0, normalization=normalization,
                                   architecture=architecture))
