"""Looking inside the networks: what a nonlinearity receives, BN's own numbers, BN's two modes.

* `ReluInputProbe`: the input of each model's last ReLU (the third convolution's
  pre-activation, Wx + b, or in the ``before`` model the BN output that feeds
  the ReLU) on a fixed batch of test images, for three channels, summarised per
  epoch by its 15th, 50th and 85th percentiles, as in Ioffe & Szegedy (2015),
  Fig. 1 (b, c); in training mode (batch statistics) and in inference mode. In the
  sigmoid MLP, the input of its last sigmoid, for three units of the last hidden layer:
  their Fig. 1 itself.
* `bn_layer_values`: each BN layer's learned gamma and beta and its moving mean
  and variance, per feature.
* `mode_accuracies`: the BN model's test accuracy with BN using its moving
  averages (inference, how Keras evaluates) against using the statistics of
  the evaluation batch (training mode), for several evaluation batch sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import keras

PERCENTILES = (15, 50, 85)
PROBE_IMAGES = 256
# Three fixed channels of the last convolution's 32 (units of the MLP's last hidden layer's 100).
PROBE_CHANNELS = (0, 11, 22)
PROBE_MODES = ("training", "inference")
# The steps at which the Inside BN tab tabulates the percentiles of Ioffe & Szegedy's MLP: early,
# a fifth of the way, and the end of their 50,000 steps.
FIGURE_1_STEPS = (1_000, 10_000, 50_000)
# The largest is 250, not the whole test set: with oneDNN, TensorFlow keeps the memory of its
# largest forward pass pooled for the life of the process.
MODE_BATCH_SIZES = (1, 8, 64, 250)


class ReluInputProbe:
    """What a few channels of a model's last nonlinearity receive, on a fixed probe batch.

    Measured two ways, each compiled once: in *training* mode, BN normalising with the
    probe batch's own statistics, which is how the network sees its inputs while it
    learns (Ioffe & Szegedy's Fig. 1 follows a unit during training); and in
    *inference* mode, BN using its moving averages. The probe changes nothing: the
    moving averages that a training-mode call updates are put back at once, and no
    dropout lies on the probed path.
    """

    def __init__(self, model: keras.Model) -> None:
        import keras
        import tensorflow as tf

        from bnviz.norms import changes_in_training

        names = [layer.name for layer in model.layers]
        images = tf.TensorSpec([None, *model.input_shape[1:]], tf.float32)
        # What a training-mode call changes: moving averages and random states (noise, also
        # in the noise-only model, which has no batch statistics).
        moving = model.non_trainable_variables if any(
            changes_in_training(layer) for layer in model.layers) else []
        # The last nonlinearity's own layer: "relu3" in the "before" CNN, "sigmoid3" in every
        # MLP (its sigmoids are layers of their own).
        own = next((name for name in ("relu3", "sigmoid3") if name in names), None)
        if own is not None:
            self.nonlinearity = "sigmoid" if own.startswith("sigmoid") else "ReLU"
            self.description = (f"{names[names.index(own) - 1]} output entering the "
                                f"last {self.nonlinearity}")
            feature = keras.Model(model.inputs, model.get_layer(own).input)

            def probed(x: Any, training: bool) -> Any:
                return feature(x, training=training)
        else:  # the ReLU is built into conv3: recompute Wx + b without it
            self.nonlinearity = "ReLU"
            self.description = "third convolution's Wx + b, entering its ReLU"
            conv = model.get_layer("conv3")
            below = keras.Model(model.inputs, conv.input)

            def probed(x: Any, training: bool) -> Any:
                return conv.convolution_op(below(x, training=training), conv.kernel) + conv.bias

        def training_mode(x: Any) -> Any:
            saved = [tf.identity(v) for v in moving]  # read before the call updates them
            values = probed(x, True)
            with tf.control_dependencies([values]):
                for variable, value in zip(moving, saved, strict=True):
                    variable.assign(value)
            return tf.identity(values)

        # Without batch statistics or noise in the model (the baseline, layer and group
        # norm), both modes compute the very same values: one pass serves both (a forward
        # pass saved per epoch for the baseline).
        self._one_pass = not moving
        self._values = {
            "training": tf.function(training_mode, input_signature=[images], autograph=False),
            "inference": tf.function(lambda x: probed(x, False), input_signature=[images],
                                    autograph=False),
        }

    def percentiles(self, images: np.ndarray) -> list[dict[str, Any]]:
        """Per mode and probed channel, the 15th, 50th and 85th percentiles of its values over
        the images and positions, now."""
        rows = []
        values = None
        for mode, values_of in self._values.items():
            if values is None or not self._one_pass:
                values = values_of(images).numpy()
            for channel in PROBE_CHANNELS:
                found = np.percentile(values[..., channel], PERCENTILES)
                rows.append({"mode": mode, "channel": channel,
                             **{f"p{q}": float(v) for q, v in zip(PERCENTILES, found,
                                                                  strict=True)}})
        return rows


def percentiles_at_steps(relu_inputs: pd.DataFrame, steps_per_epoch: int,
                         steps: tuple[int, ...], mode: str = "training") -> pd.DataFrame:
    """The first seed's probe percentiles (`ReluInputProbe`) at the end of the epochs where
    each of ``steps`` falls (the probe runs once an epoch), per model and probed feature:
    Ioffe & Szegedy's Fig. 1 as a table. Steps past the training's end are left out."""
    data = relu_inputs[(relu_inputs["seed"] == relu_inputs["seed"].min())
                       & (relu_inputs["mode"] == mode)]
    last = int(data["epoch"].max()) if len(data) else 0
    # Two steps in one epoch are one probe: listed once.
    epochs = dict.fromkeys(-(-step // steps_per_epoch) for step in steps)
    rows = [data[data["epoch"] == epoch].assign(step=epoch * steps_per_epoch)
            for epoch in epochs if epoch <= last]
    columns = ["model", "channel", "step", *(f"p{q}" for q in PERCENTILES)]
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.concat(rows)[columns].sort_values(["model", "channel", "step"],
                                                kind="stable").reset_index(drop=True)


def bn_layer_values(model: keras.Model, model_label: str) -> pd.DataFrame:
    """Per normalising layer and feature: gamma, beta, moving mean and moving variance.

    What a layer does not have is filled with the value it stands for: γ = 1 and β = 0
    where they are not learned (``frozen-affine``), no moving mean (0) or variance (1)
    where it keeps none (``mean-only``, ``variance-only``, layer and group norm). Layer
    norm's gain and bias are per feature of the whole map, so they come flattened.
    """
    from bnviz.norms import is_normalizer

    frames = []
    for layer in model.layers:
        if not is_normalizer(layer):
            continue
        values = {name: getattr(layer, name, None) for name in
                  ("gamma", "beta", "moving_mean", "moving_variance")}
        features = next(int(np.prod(v.shape)) for v in values.values() if v is not None) \
            if any(v is not None for v in values.values()) else layer.input.shape[-1]
        filled = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}
        frames.append(pd.DataFrame({
            "model": model_label,
            "layer": layer.name,
            "feature": np.arange(features),
            **{name: (np.ravel(v.numpy()) if v is not None else np.full(features, filled[name]))
               for name, v in values.items()},
        }))
    # No normalising layer (the noise-only control): no rows, but the columns, so what reads
    # the table finds them.
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["model", "layer", "feature", "gamma", "beta", "moving_mean",
                 "moving_variance"])


def mode_forward(model: keras.Model) -> Callable[[Any, int, bool], Any]:
    """The model's softmax outputs over many images, ``batch_size`` at a time, in one
    compiled call per mode: BN layers (only) on each slice's own statistics when
    ``batch_statistics``, on their moving averages otherwise. Dropout stays off.

    One call loops over the slices inside the graph: a call per slice cost a Python
    round trip per image at batch size 1, most of the BN mode comparison's time.
    """
    import functools

    import tensorflow as tf

    from bnviz.norms import uses_batch_statistics

    def forward(x: Any, batch_size: Any, batch_statistics: bool) -> Any:
        count = tf.shape(x)[0]

        def one_slice(start: Any, outputs: Any) -> tuple[Any, Any]:
            h = x[start: start + batch_size]
            for layer in model.layers:
                h = layer(h, training=batch_statistics and uses_batch_statistics(layer))
            return start + batch_size, outputs.write(start // batch_size, h)

        _, outputs = tf.while_loop(
            lambda start, _: start < count, one_slice,
            (tf.constant(0), tf.TensorArray(tf.float32, size=0, dynamic_size=True,
                                            infer_shape=False)))
        return outputs.concat()

    signature = [tf.TensorSpec([None, *model.input_shape[1:]], tf.float32),
                 tf.TensorSpec([], tf.int32)]
    compiled = {mode: tf.function(functools.partial(forward, batch_statistics=mode),
                                  input_signature=signature, autograph=False)
                for mode in (False, True)}

    def call(x: Any, batch_size: int, batch_statistics: bool) -> Any:
        return compiled[batch_statistics](x, tf.constant(batch_size, tf.int32))

    return call


def mode_accuracies(model: keras.Model, x_test: np.ndarray, y_test: np.ndarray,
                    batch_sizes: tuple[int, ...] = MODE_BATCH_SIZES,
                    forward: Callable[[Any, int, bool], Any] | None = None) -> pd.DataFrame:
    """Test accuracy with BN's moving averages, and with batch statistics per batch size.

    In training mode only the BN layers use batch statistics; dropout stays off so
    that BN is the only difference. BN's moving averages are put back afterwards,
    since a training-mode call updates them. ``forward`` is `mode_forward` of the
    model, when the caller keeps one compiled across calls.
    """
    forward = forward or mode_forward(model)
    saved = [variable.numpy() for variable in model.non_trainable_variables]

    def accuracy(batch_size: int, batch_statistics: bool) -> float:
        probabilities = forward(x_test, batch_size, batch_statistics).numpy()
        return int(np.sum(np.argmax(probabilities, axis=1) == y_test)) / len(x_test)

    # Moving averages make each image's output independent of its batch: any slice size
    # gives the same accuracy, so use the largest of the sizes compared.
    rows = [{"mode": "inference (moving averages)", "batch_size": max(batch_sizes),
             "accuracy": accuracy(max(batch_sizes), False)}]
    try:
        # Batch statistics do not read the moving averages (they only move them, and are put
        # back below), so the sizes can be evaluated at once: the one-image pass, the slowest
        # (a step per image), beside all the others, on two cores.
        slowest = min(batch_sizes)
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bnviz-modes") as pool:
            alone = pool.submit(accuracy, slowest, True)
            others = {size: pool.submit(accuracy, size, True)
                      for size in batch_sizes if size != slowest}
            found = {slowest: alone.result(),
                     **{size: future.result() for size, future in others.items()}}
        rows += [{"mode": "training (batch statistics)", "batch_size": size,
                  "accuracy": found[size]} for size in batch_sizes]
    finally:
        for variable, value in zip(model.non_trainable_variables, saved, strict=True):
            variable.assign(value)
    return pd.DataFrame(rows)
