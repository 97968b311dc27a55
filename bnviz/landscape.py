"""Why BN helps: Santurkar et al.'s loss-landscape measures, taken during training.

Santurkar, Tsipras, Ilyas & Madry (2018), "How does batch normalization help
optimization?", found that BN makes the loss smoother and its gradient more
predictive along the direction training moves in. Their measures (Fig. 4), at a
training step with weights w and the step's batch gradient g = ∇L(w):

* loss landscape: L(w − ηg) for each step size η of a grid; its range over η;
* gradient predictiveness: ‖∇L(w − ηg) − g‖, how much the gradient changes along
  the step; its range over η;
* effective β-smoothness: the largest ratio ‖∇L(w − ηg) − g‖ / ‖ηg‖ over η.

Here L is the loss on the step's own batch with BN on batch statistics (as the
step sees it) and dropout off, so the measures carry no dropout noise. The step
sizes are multiples of the learning rate (`STEP_MULTIPLES`). Every variable the
measures move (the weights, and BN's moving averages, which a training-mode pass
updates) is put back before the step trains, so training is the same with or
without them (a test checks the histories are identical).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import keras

STEP_MULTIPLES = (0.5, 1.0, 2.0, 4.0)  # η as multiples of the learning rate
MEASURES = ("loss_min", "loss_max", "grad_change_min", "grad_change_max", "beta_smoothness")
LANDSCAPE_COLUMNS = ("model", "seed", "step", "epoch", *MEASURES)
# Passes over a batch per probe: the gradient at w, then loss and gradient at each step size.
PASSES_PER_PROBE = 1 + len(STEP_MULTIPLES)


def landscape_measures(model: keras.Model) -> Callable[[Any, Any, Any], Any]:
    """A function, to call inside a compiled training step, that returns the `MEASURES` of
    ``model`` on the batch ``(x, y)`` for step sizes ``etas`` (a float32 vector) and leaves
    every variable of the model as it found it."""
    import keras
    import tensorflow as tf

    from bnviz.norms import is_normalizer

    weights = model.trainable_variables
    # Every other variable (BN's moving averages, which a training-mode pass updates; the
    # random states): put back too, so the step trains as if nothing had been measured.
    moving = model.non_trainable_variables

    def loss_and_gradient(x: Any, y: Any) -> tuple[Any, list[Any]]:
        with tf.GradientTape() as tape:
            h = x
            # Normalisers in training mode (BN on batch statistics); dropout and the noisy
            # variant's noise off, so every step size sees the same network.
            for layer in model.layers:
                h = layer(h, training=is_normalizer(layer))
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, h))
        return loss, tape.gradient(loss, weights)

    def measure(x: Any, y: Any, etas: Any) -> Any:
        start = [tf.identity(v) for v in weights]
        averages = [tf.identity(v) for v in moving]
        # One graph loop over η = 0 (the gradient at w itself) and then each step size, so
        # the forward and backward pass is traced once, not once per use: tracing is most of
        # the wait for a trainer's first epoch, the one a student sees.
        steps = tf.concat([tf.zeros([1]), etas], axis=0)

        def look_ahead(index: Any, gradient: list[Any], losses: Any,
                       changes: Any) -> tuple[Any, ...]:
            eta = steps[index]
            for variable, value, slope in zip(weights, start, gradient, strict=True):
                variable.assign(value - eta * slope)  # at η = 0 the weights stay exactly w
            loss, moved = loss_and_gradient(x, y)
            change = tf.linalg.global_norm(
                [after - before for after, before in zip(moved, gradient, strict=True)])
            at_w = tf.equal(index, 0)
            gradient = [tf.where(at_w, after, before)
                        for after, before in zip(moved, gradient, strict=True)]
            return index + 1, gradient, losses.write(index, loss), changes.write(index, change)

        count = len(STEP_MULTIPLES) + 1
        _, gradient, losses, changes = tf.while_loop(
            lambda index, *_: index < count, look_ahead,
            (tf.constant(0), [tf.zeros_like(v) for v in weights],
             tf.TensorArray(tf.float32, size=count), tf.TensorArray(tf.float32, size=count)))
        for variable, value in zip([*weights, *moving], [*start, *averages], strict=True):
            variable.assign(value)
        losses, changes = losses.stack()[1:], changes.stack()[1:]  # index 0 is w itself
        beta = tf.reduce_max(changes / (etas * tf.linalg.global_norm(gradient)))
        return tf.stack([tf.reduce_min(losses), tf.reduce_max(losses), tf.reduce_min(changes),
                         tf.reduce_max(changes), beta])

    return measure


def landscape_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Landscape rows (one per model, seed and probed step) as a table."""
    return pd.DataFrame(rows, columns=list(LANDSCAPE_COLUMNS))
