"""Why BN helps: Santurkar et al.'s loss-landscape measures, taken during training.

Santurkar, Tsipras, Ilyas & Madry (2018), "How does batch normalization help
optimization?", found that BN makes the loss smoother and its gradient more
predictive along the direction training moves in. They train with plain SGD, whose
step from weights w is −lr·g (g = ∇L(w), the step's batch gradient), and measure
along it, for step sizes η from ½ to 4 times the learning rate (their Fig. 4):

* loss landscape: L(w − ηg) for each η; its range over η;
* gradient predictiveness: ‖∇L(w − ηg) − g‖, how much the gradient changes along
  the step; its range over η;
* effective β-smoothness: the largest ratio ‖∇L(w − ηg) − g‖ / ‖ηg‖ over η.

With Adam (the blog's optimizer) the step is not −lr·g: Adam divides each weight's
gradient by its own running scale, so −ηg would probe distances that differ between
the models about as much as their gradients' sizes do, and the measures would mostly
compare those sizes. So every probe measures along two directions (`DIRECTIONS`):
``update``, the step the optimizer actually took (its update Δ, probed at ½ to 4
times Δ; for SGD this is Santurkar's measure exactly), and ``gradient``, −ηg as in the
paper. Each row says the distance of the one-times step (``distance``: ‖Δ‖, or
lr·‖g‖), so the page can say how far it looked.

Here L is the loss on the step's own batch with BN on batch statistics (as the
step sees it) and dropout off, so the measures carry no dropout noise. The probe runs
right after the training step it looks along, from the weights that step started
at, and puts every variable it moves back to where the step left it (the weights,
and BN's moving averages, which a training-mode pass updates), so training is the
same with or without it (a test checks the histories are identical).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import keras

STEP_MULTIPLES = (0.5, 1.0, 2.0, 4.0)  # multiples of the step (of the learning rate, for −ηg)
DIRECTIONS = ("update", "gradient")  # the optimizer's step Δ; −ηg, Santurkar's for SGD
MEASURES = ("loss_min", "loss_max", "grad_change_min", "grad_change_max", "beta_smoothness",
            "distance")
LANDSCAPE_COLUMNS = ("model", "seed", "step", "epoch", "direction", *MEASURES)
# Passes over a batch per probe: the gradient at w, then loss and gradient at each step size
# along each direction.
PASSES_PER_PROBE = 1 + len(DIRECTIONS) * len(STEP_MULTIPLES)


def landscape_measures(model: keras.Model) -> Callable[[Any, Any, Any, Any], Any]:
    """A function, to call inside a compiled training step right after the step, that
    returns the `MEASURES` of ``model`` on the step's batch ``(x, y)``, for each of the
    `DIRECTIONS` in turn (a float32 vector of ``len(DIRECTIONS) * len(MEASURES)``), given
    the weights the step started from (``start``) and the step sizes ``etas`` of the
    gradient direction (`STEP_MULTIPLES` times the learning rate). It leaves every variable
    of the model as the step left it."""
    import keras
    import tensorflow as tf

    from bnviz.norms import is_normalizer

    weights = model.trainable_variables
    # Every other variable (BN's moving averages, which a training-mode pass updates; the
    # random states): put back too, so training goes on as if nothing had been measured.
    moving = model.non_trainable_variables
    count = len(STEP_MULTIPLES)
    multiples = tf.constant(STEP_MULTIPLES, tf.float32)

    def loss_and_gradient(x: Any, y: Any) -> tuple[Any, list[Any]]:
        with tf.GradientTape() as tape:
            h = x
            # Normalisers in training mode (BN on batch statistics); dropout and the noisy
            # variants' noise off, so every step size sees the same network.
            for layer in model.layers:
                h = layer(h, training=is_normalizer(layer))
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, h))
        return loss, tape.gradient(loss, weights)

    def measure(x: Any, y: Any, start: list[Any], etas: Any) -> Any:
        after = [tf.identity(v) for v in weights]
        averages = [tf.identity(v) for v in moving]
        update = [a - b for a, b in zip(after, start, strict=True)]
        # Point 0 is w itself (its gradient g); then `count` points along each direction, in
        # the order of DIRECTIONS: k·Δ, then −ηg. One graph loop, so the forward and backward
        # pass is traced once, not once per point: tracing is most of the wait for a
        # trainer's first epoch.
        nothing = tf.zeros([count])
        along_update = tf.concat([tf.zeros([1]), multiples, nothing], axis=0)
        along_gradient = tf.concat([tf.zeros([1]), nothing, etas], axis=0)

        def look_ahead(index: Any, gradient: list[Any], losses: Any,
                       changes: Any) -> tuple[Any, ...]:
            eta, k = along_gradient[index], along_update[index]
            for variable, value, slope, step in zip(weights, start, gradient, update,
                                                    strict=True):
                variable.assign(value - eta * slope + k * step)  # at point 0: exactly w
            loss, moved = loss_and_gradient(x, y)
            change = tf.linalg.global_norm(
                [now - then for now, then in zip(moved, gradient, strict=True)])
            at_w = tf.equal(index, 0)
            gradient = [tf.where(at_w, now, then)
                        for now, then in zip(moved, gradient, strict=True)]
            return index + 1, gradient, losses.write(index, loss), changes.write(index, change)

        points = 1 + len(DIRECTIONS) * count
        _, gradient, losses, changes = tf.while_loop(
            lambda index, *_: index < points, look_ahead,
            (tf.constant(0), [tf.zeros_like(v) for v in weights],
             tf.TensorArray(tf.float32, size=points), tf.TensorArray(tf.float32, size=points)))
        for variable, value in zip([*weights, *moving], [*after, *averages], strict=True):
            variable.assign(value)
        losses, changes = losses.stack(), changes.stack()
        lengths = {"update": tf.linalg.global_norm(update),
                   "gradient": etas[STEP_MULTIPLES.index(1.0)] * tf.linalg.global_norm(gradient)}
        measured = []
        for number, direction in enumerate(DIRECTIONS):
            these = slice(1 + number * count, 1 + (number + 1) * count)
            loss, change = losses[these], changes[these]
            # the distance of each point: its multiple of the one-times step
            distances = multiples * lengths[direction]
            measured += [tf.reduce_min(loss), tf.reduce_max(loss), tf.reduce_min(change),
                         tf.reduce_max(change), tf.reduce_max(change / distances),
                         lengths[direction]]
        return tf.stack(measured)

    return measure


def landscape_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Landscape rows (one per model, seed and probed step) as a table."""
    return pd.DataFrame(rows, columns=list(LANDSCAPE_COLUMNS))
