"""Train the baseline and the BN model of one configuration, epoch by epoch.

Both models see exactly the same images in the same order: each epoch's batch
order comes from a numpy generator seeded with ``(seed, epoch)``, and every
random choice inside the models (initial weights, dropout) has an explicit
seed. No global random state is read or written, so two trainings can run in
two threads of one process without disturbing each other.

Speed (measured by ``bench/speed.py``): one epoch (all steps plus the test-set
evaluation) is a single compiled ``tf.function`` over data kept as tensors,
instead of Keras ``fit``'s Python loop per batch; the two models train their
epoch concurrently, since batch-64 convolutions leave a second core idle; and
TensorFlow's oneDNN kernels are switched on (they are off by default on CPUs
without AVX-512, and twice as fast here). The maths is the blog's: Adam with
Keras defaults, categorical cross-entropy on softmax outputs, train metrics
averaged over the epoch's batches in training mode, test metrics in inference
mode.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bnviz.config import ExperimentConfig
from bnviz.data import NUM_CLASSES, Split, make_split
from bnviz.models import build_model, layer_table, model_label
from bnviz.results import HISTORY_COLUMNS, ComparisonResult

if TYPE_CHECKING:
    import keras

# Must be set before TensorFlow is first imported; a value set by the user wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

EpochCallback = Callable[[dict[str, Any]], None]
EVAL_SLICE = 250  # test images per forward pass: 1000 at once costs ~150 MB of activations


class TrainingStopped(Exception):
    """Raised when a caller asked a running training to stop."""


def make_optimizer(config: ExperimentConfig) -> keras.optimizers.Optimizer:
    """The configured optimizer with Keras' defaults apart from the learning rate."""
    import keras

    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=config.learning_rate)
    return keras.optimizers.SGD(learning_rate=config.learning_rate)


class ModelTrainer:
    """Trains one model on one split, one compiled epoch at a time."""

    def __init__(self, model: keras.Model, config: ExperimentConfig, split: Split) -> None:
        import tensorflow as tf

        self.model = model
        self.batch_size = config.batch_size
        self.optimizer = make_optimizer(config)
        self.optimizer.build(model.trainable_variables)
        self.x_train = tf.constant(split.x_train)
        self.y_train = tf.one_hot(split.y_train, NUM_CLASSES)
        self.x_test = tf.constant(split.x_test)
        self.y_test = tf.one_hot(split.y_test, NUM_CLASSES)
        self._epoch = tf.function(self._epoch_graph)

    def _epoch_graph(self, order: Any) -> tuple[Any, Any, Any, Any]:
        import keras
        import tensorflow as tf

        count = tf.shape(order)[0]
        steps = (count + self.batch_size - 1) // self.batch_size
        loss_sum = tf.constant(0.0)
        correct = tf.constant(0.0)
        variables = self.model.trainable_variables
        for step in tf.range(steps):
            batch = order[step * self.batch_size: (step + 1) * self.batch_size]
            x = tf.gather(self.x_train, batch)
            y = tf.gather(self.y_train, batch)
            with tf.GradientTape() as tape:
                probabilities = self.model(x, training=True)
                loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, probabilities))
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            batch_count = tf.cast(tf.shape(batch)[0], tf.float32)
            loss_sum += loss * batch_count
            correct += _count_correct(y, probabilities)
        total = tf.cast(count, tf.float32)
        test_loss, test_accuracy = self._evaluate()
        return loss_sum / total, correct / total, test_loss, test_accuracy

    def _evaluate(self) -> tuple[Any, Any]:
        """Test loss and accuracy in inference mode, in slices to bound activation memory."""
        import keras
        import tensorflow as tf

        count = tf.shape(self.y_test)[0]
        loss_sum = tf.constant(0.0)
        correct = tf.constant(0.0)
        for start in tf.range(0, count, EVAL_SLICE):
            x = self.x_test[start: start + EVAL_SLICE]
            y = self.y_test[start: start + EVAL_SLICE]
            probabilities = self.model(x, training=False)
            loss_sum += tf.reduce_sum(keras.losses.categorical_crossentropy(y, probabilities))
            correct += _count_correct(y, probabilities)
        total = tf.cast(count, tf.float32)
        return loss_sum / total, correct / total

    def run_epoch(self, order: np.ndarray) -> dict[str, float]:
        """Train one epoch in the given image order, then evaluate on the test set."""
        start = time.perf_counter()
        train_loss, train_accuracy, test_loss, test_accuracy = self._epoch(order)
        return {
            "train_accuracy": float(train_accuracy),
            "train_loss": float(train_loss),
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "seconds": time.perf_counter() - start,
        }

    def test_probabilities(self) -> np.ndarray:
        """Softmax outputs on the test set, BN in inference mode."""
        return self.model.predict(self.x_test, batch_size=EVAL_SLICE, verbose=0)


def _count_correct(y: Any, probabilities: Any) -> Any:
    import tensorflow as tf

    hits = tf.equal(tf.argmax(y, axis=-1), tf.argmax(probabilities, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.float32))


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The batch order of one epoch: a permutation fixed by seed and epoch."""
    return np.random.default_rng([seed, epoch]).permutation(count).astype(np.int32)


def train_comparison(
    config: ExperimentConfig,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ComparisonResult:
    """Train the baseline and the configured BN model, once per seed.

    Both models run each epoch at the same time (one thread each); ``seconds``
    in the history is each model's own wall time for the epoch, so the two
    overlap. ``on_epoch`` receives each new history row (a dict with
    `HISTORY_COLUMNS`) as soon as an epoch ends, baseline first, so viewers
    see both curves grow together. ``should_stop`` is polled between epochs;
    returning True raises `TrainingStopped`.

    Besides the history, every epoch records the percentiles of what each
    model's last ReLU receives (`bnviz.inside`). Predictions, parameter tables,
    BN layer values and the BN mode comparison come from the first seed's run.
    """
    from bnviz.inside import ReluInputProbe, bn_layer_values, mode_accuracies

    split = make_split(config.split, config.train_size, config.scale_pixels)
    rows: list[dict[str, Any]] = []
    relu_inputs: list[dict[str, Any]] = []
    first: dict[str, ModelTrainer] = {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bnviz-epoch") as pool:
        for seed in config.seed_list:
            trainers = {
                model_label(p): ModelTrainer(build_model(p, seed), config, split)
                for p in ("none", config.placement)
            }
            probes = {label: ReluInputProbe(t.model, split.x_test) for label, t in trainers.items()}
            first = first or trainers
            for epoch in range(1, config.epochs + 1):
                if should_stop is not None and should_stop():
                    raise TrainingStopped(f"stopped before epoch {epoch} of seed {seed}")
                order = epoch_order(seed, epoch, len(split.y_train))
                futures = {label: pool.submit(t.run_epoch, order) for label, t in trainers.items()}
                for label, future in futures.items():
                    row = {"model": label, "seed": seed, "epoch": epoch, **future.result()}
                    rows.append(row)
                    relu_inputs.append({"model": label, "seed": seed, "epoch": epoch,
                                        **probes[label].percentiles()})
                    if on_epoch is not None:
                        on_epoch(row)
    bn_label = model_label(config.placement)
    return ComparisonResult(
        config=config,
        history=pd.DataFrame(rows, columns=list(HISTORY_COLUMNS)),
        test_labels=split.y_test,
        probabilities={label: t.test_probabilities() for label, t in first.items()},
        layer_tables={label: layer_table(t.model) for label, t in first.items()},
        relu_inputs=pd.DataFrame(relu_inputs),
        bn_layers=bn_layer_values(first[bn_label].model, bn_label),
        bn_modes=mode_accuracies(first[bn_label].model, split.x_test, split.y_test),
        data_source=split.source,
        warnings=split.warnings,
    )
