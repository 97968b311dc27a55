"""The normalising layers of the BN model: one builder per kind of layer, named by each
variant's `bnviz.variants.Variant.builder`.

Each variant takes one piece of batch norm away, or swaps it for another normaliser,
so a student can ask which piece makes training fast (`bnviz.variants` says what each
one does and asks); here is how each is built:

* ``batch_norm``: Keras' ``BatchNormalization`` (Ioffe & Szegedy 2015), the blog's; with
  ``center`` and ``scale`` off, γ = 1 and β = 0, not learned (``frozen-affine``).
* ``noisy_batch_norm``: batch norm, then `StepNoise`: every activation scaled and shifted by
  random amounts from distributions its channel draws anew at every training step
  (Santurkar et al. 2018, App. A.2.1, Algorithm 1: the input distribution of the next
  layer is made to move at every step on purpose).
* ``step_noise``: `StepNoise` alone where batch norm would stand, nothing normalised
  (``noise-only``: Santurkar et al.'s control, the same noise without BN).
* ``partial_batch_norm``: `PartialBatchNormalization`, batch norm with only the centring
  or only the division by the batch's standard deviation (d2l.ai, §8.5's exercises).
* ``layer_norm``: ``LayerNormalization`` over all of an image's features in the layer,
  with a gain and bias per feature (Ba, Kiros & Hinton 2016).
* ``group_norm``: ``GroupNormalization`` with `GROUPS` groups of channels (Wu & He 2018).

Only the batch-statistics kinds keep moving averages for inference; layer and group
normalisation compute the same thing in training and in inference.

Importing this module imports Keras; `bnviz.models` imports it only when it builds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import keras
from keras import layers, ops

from bnviz.variants import Variant

# Santurkar et al.'s noise, as their App. A.2.1, Algorithm 1 defines it: for each layer, unit
# (channel) and training step, μ ~ U(−n_μ, n_μ) and σ ~ U(1, n_σ); for each activation of each
# sample (a convolution's positions count as batch, so every position draws its own),
# m ~ U(μ − r_μ, μ + r_μ) and s ~ N(σ, r_σ); then a ← s·a + m. Named as in the paper. The
# scale multiplies and the shift adds, so the next layer sees a distribution whose mean moves
# by up to half a standard deviation and whose spread grows by up to a quarter, differently at
# every step. r_σ is read as the normal's standard deviation.
N_MU, N_SIGMA = 0.5, 1.25
R_MU, R_SIGMA = 0.1, 0.1
GROUPS = 8  # GroupNormalization: 32 channels in 8 groups of 4 (512 features: 8 of 64)
# Keras' BatchNormalization defaults, for the partial kinds' moving averages.
MOMENTUM, EPSILON = 0.99, 1e-3


class PartialBatchNormalization(layers.Layer):
    """Batch norm with only one of its two steps: subtract the batch mean (``center``) or
    divide by the batch standard deviation (``scale``), then the learned γ and β.

    Like ``BatchNormalization`` it keeps a moving average of the statistic it uses and
    uses that in inference.
    """

    def __init__(self, center: bool, scale: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if center == scale:
            raise ValueError("exactly one of center and scale: both is BatchNormalization")
        self.center, self.scale = center, scale

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        channels = (input_shape[-1],)
        self.gamma = self.add_weight(shape=channels, initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=channels, initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=channels, initializer="zeros", trainable=False, name="moving_mean"
        ) if self.center else None
        self.moving_variance = self.add_weight(
            shape=channels, initializer="ones", trainable=False, name="moving_variance"
        ) if self.scale else None

    def call(self, x: Any, training: bool = False) -> Any:
        if training:
            mean, variance = ops.moments(x, axes=list(range(len(x.shape) - 1)))
            for moving, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
                if moving is not None:
                    moving.assign(moving * MOMENTUM + value * (1 - MOMENTUM))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        if self.center:
            x = x - mean
        if self.scale:
            x = x * ops.rsqrt(variance + EPSILON)
        return x * self.gamma + self.beta

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple:
        return input_shape


class StepNoise(layers.Layer):
    """Santurkar et al.'s noise (App. A.2.1, Algorithm 1): in training, each channel draws
    μ ~ U(±`N_MU`) and σ ~ U(1, `N_SIGMA`) afresh at every step (every call), every activation
    its own m ~ U(μ ± `R_MU`) and s ~ N(σ, `R_SIGMA`), and becomes s·a + m; in inference it
    does nothing."""

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x: Any, training: bool = False) -> Any:
        if not training:
            return x
        channels, shape = (x.shape[-1],), ops.shape(x)
        mu = keras.random.uniform(channels, -N_MU, N_MU, seed=self.seed_generator)
        sigma = keras.random.uniform(channels, 1.0, N_SIGMA, seed=self.seed_generator)
        shift = mu + keras.random.uniform(shape, -R_MU, R_MU, seed=self.seed_generator)
        scale = sigma + R_SIGMA * keras.random.normal(shape, seed=self.seed_generator)
        return scale * x + shift

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple:
        return input_shape


# A builder makes the layers of one position: (layer name, position, model seed, input rank,
# features (channels or units) of its input, the variant's options) → layers.
Builder = Callable[..., list[layers.Layer]]


def batch_norm(name: str, index: int, seed: int, rank: int, features: int, **options: Any
               ) -> list[layers.Layer]:
    """Keras' batch norm (``options``: its ``center`` and ``scale``)."""
    return [layers.BatchNormalization(name=name, **options)]


def noise_seed(seed: int, index: int) -> int:
    """The seed of the noise at position ``index``: its own per position, the same in the
    noisy BN model and in the noise-only control, so both draw the same noise."""
    return seed * 16 + 8 + index


def noisy_batch_norm(name: str, index: int, seed: int, rank: int, features: int
                     ) -> list[layers.Layer]:
    """Batch norm, then `StepNoise` (Santurkar et al.: the noise after each BN layer)."""
    return [layers.BatchNormalization(name=name),
            StepNoise(noise_seed(seed, index), name=f"noise{index}")]


def step_noise(name: str, index: int, seed: int, rank: int, features: int) -> list[layers.Layer]:
    """`StepNoise` alone, named ``name``: the noise where batch norm would be, and no batch
    norm (Santurkar et al.'s control)."""
    return [StepNoise(noise_seed(seed, index), name=name)]


def partial_batch_norm(name: str, index: int, seed: int, rank: int, features: int, center: bool,
                       scale: bool) -> list[layers.Layer]:
    """`PartialBatchNormalization`: only the centring or only the scaling."""
    return [PartialBatchNormalization(center=center, scale=scale, name=name)]


def layer_norm(name: str, index: int, seed: int, rank: int, features: int) -> list[layers.Layer]:
    """Layer norm over every feature of an image (all axes but the batch's)."""
    return [layers.LayerNormalization(axis=list(range(1, rank)), name=name)]


def group_norm(name: str, index: int, seed: int, rank: int, features: int
               ) -> list[layers.Layer]:
    """Group norm with `GROUPS` groups of channels, or as many as divide ``features`` (the
    MLP's 100 units: 4 groups of 25)."""
    return [layers.GroupNormalization(groups=math.gcd(GROUPS, features), name=name)]


BUILDERS: dict[str, Builder] = {builder.__name__: builder for builder in (
    batch_norm, noisy_batch_norm, step_noise, partial_batch_norm, layer_norm, group_norm)}


def normalizing_layers(variant: Variant, index: int, seed: int, rank: int,
                       features: int) -> list[layers.Layer]:
    """The layers that stand where the blog's model has ``bn{index}``: the variant's
    normaliser (and, for ``noisy-batch``, its noise; for ``noise-only``, the noise alone),
    for an input of ``rank`` dimensions (batch included) and ``features`` channels or units."""
    build = BUILDERS[variant.builder]
    return build(f"{variant.layer_prefix}{index}", index, seed, rank, features,
                 **dict(variant.options))


def is_normalizer(layer: layers.Layer) -> bool:
    """Whether ``layer`` is one of the normalisers `normalizing_layers` makes."""
    return isinstance(layer, (layers.BatchNormalization, PartialBatchNormalization,
                              layers.LayerNormalization, layers.GroupNormalization))


def uses_batch_statistics(layer: layers.Layer) -> bool:
    """Whether ``layer`` normalises with the batch's statistics in training mode (and with
    moving averages in inference): the layers whose mode the BN mode comparison switches."""
    return isinstance(layer, (layers.BatchNormalization, PartialBatchNormalization))


def changes_in_training(layer: layers.Layer) -> bool:
    """Whether a training-mode call of ``layer`` computes otherwise than inference and
    changes a variable of it (moving averages, the noise's random state): the layers whose
    variables a probe that calls the model in training mode must put back."""
    return uses_batch_statistics(layer) or isinstance(layer, StepNoise)
