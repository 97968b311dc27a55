"""The engine: every training loop (a comparison, a learning-rate sweep, a worker's
warm-up), the reusable compiled trainers they borrow, and `run_request`, which runs
any request by its task name.

Read top to bottom: `train_comparison` is the loop (seeds, then epochs: both
models' epoch side by side, then its rows recorded), then the steps it calls,
the sweep and the warm-up, then `epochs_of`, the one way every loop trains a
model, and last the trainers themselves (`ModelTrainer`, its compiled epoch,
`TRAINER_POOL`).

Both models see exactly the same images in the same order: each epoch's batch
order comes from a numpy generator seeded with ``(seed, epoch)``, and every
random choice inside the models (initial weights, dropout) has an explicit
seed. No global random state is read or written, so two trainings can run in
two threads of one process without disturbing each other.

Speed (measured by ``bench/speed.py``): one epoch (all steps plus the test-set
evaluation) is a single compiled ``tf.function`` over data kept as tensors,
instead of Keras ``fit``'s Python loop per batch; the two models train their
epoch concurrently, since batch-64 convolutions leave a second core idle, each
operation with half the cores, with TensorFlow's oneDNN kernels on (both set by
`bnviz.tf_settings`); and the epochs are traced without AutoGraph, one at a time,
so the first epoch comes soon.
The maths is the blog's: Adam with Keras defaults, categorical cross-entropy on
softmax outputs, train metrics averaged over the epoch's batches in training mode,
test metrics in inference mode.

Memory: a compiled trainer is kept and reused (`TrainerPool`), since every new
trace would keep its graph for the life of the process.

Names: a *trainer* (`ModelTrainer`) is one model with its optimizer and compiled
epoch; `TRAINER_POOL` keeps them. A *runner* (`run_request` here,
`bnviz.worker.ProcessRunner` in a process of its own) runs a whole request.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bnviz import tf_settings
from bnviz.comparison import (
    ComparisonRequest,
    ComparisonResult,
    history_frame,
    model_placements,
)
from bnviz.config import BASELINE_PLACEMENT, CNN, ExperimentConfig
from bnviz.data import IMAGE_SHAPE, NUM_CLASSES, Split, split_of
from bnviz.inside import (
    PROBE_IMAGES,
    ReluInputProbe,
    bn_layer_values,
    mode_accuracies,
    mode_forward,
)
from bnviz.landscape import (
    DIRECTIONS,
    MEASURES,
    STEP_MULTIPLES,
    landscape_frame,
    landscape_measures,
)
from bnviz.models import build_model, layer_table, model_label
from bnviz.request import ProgressCallback, Request, StopCheck, TrainingStopped
from bnviz.snapshots import (
    Predictions,
    checkpoint_epochs,
    prediction_epochs,
    thin_features,
    to_percent,
)
from bnviz.summary import diverged, outcome
from bnviz.sweep import SWEEP_COLUMNS, SweepRequest, SweepResult
from bnviz.variants import BATCH_NORM

if TYPE_CHECKING:
    import keras


# Before anything imports TensorFlow (its settings: `bnviz.tf_settings`); a script that only
# imports this module gets them too.
tf_settings.apply()

# Test images per forward pass: the whole test set at once would hold all of its
# activations at the same time.
EVAL_SLICE = 250
# How often a training polls its stop check while an epoch runs.
STOP_POLL_SECONDS = 0.05

# What a comparison's training gets back from one model's epoch: its metrics (`epochs_of`)
# and its ReLU probe's percentiles (`bnviz.inside.ReluInputProbe`).
EpochOutputs = tuple[dict[str, Any], list[dict[str, Any]]]


# -- a comparison --------------------------------------------------------------------


def train_comparison(
    config: ExperimentConfig,
    on_epoch: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    checkpoints: bool = True,
) -> ComparisonResult:
    """Train the baseline and the configured BN model, once per seed.

    Both models run each epoch at the same time (one thread each); ``seconds``
    in the history is each model's own wall time for the epoch, so the two
    overlap. ``on_epoch`` receives each new history row (a dict with
    `HISTORY_COLUMNS`) as soon as an epoch ends, baseline first, so viewers
    see both curves grow together. ``should_stop`` is polled between epochs and every
    `STOP_POLL_SECONDS` during one; once it returns True the training ends (an epoch under
    way ends at its next step and counts for nothing), and the result holds the whole
    epochs done, marked partial (`ComparisonResult.stopped_seed`, ``stopped_epoch``), its
    answers those after the last whole epoch. Stopped before any epoch ended, it raises
    `TrainingStopped` (there is nothing to show).

    Besides the history, every epoch records the percentiles of what each
    model's last ReLU receives (`bnviz.inside`), and every ``config.landscape_every``
    steps the loss landscape along the step taken and along the gradient
    (`bnviz.landscape`). The first seed's run also keeps (`bnviz.snapshots`) each model's
    answers on the test set after every kept epoch, and at the checkpoints the BN model's
    layer values and its two modes (``checkpoints`` False: the answers after the last epoch
    alone, and no checkpoint: for a seed trained apart whose outputs are not kept,
    `bnviz.comparison.merge_seeds`); its parameter tables are the result's.
    """
    record = _Record(config, on_epoch)
    with ExitStack() as borrowed, ThreadPoolExecutor(
            max_workers=len(model_placements(config)), thread_name_prefix="bnviz-epoch") as pool:
        trainers, split = _borrow_trainers_and_read_images(config, pool, borrowed)
        probe_images = split.x_test[:PROBE_IMAGES]
        for seed_index, seed in enumerate(config.seed_list, start=1):
            runs = {label: epochs_of(trainer, seed, config.learning_rate, split, config.epochs,
                                     config.landscape_every)
                    for label, trainer in trainers.items()}
            for epoch in range(1, config.epochs + 1):
                finished = _both_epochs_unless_stopped(pool, trainers, runs, epoch,
                                                       probe_images, should_stop)
                if finished is None:
                    record.stopped(seed_index, epochs_done=epoch - 1)
                    break
                record.epoch(seed, epoch, finished)
                if seed_index == 1:  # what the scrubber and shorter runs are served from
                    record.keep_first_seed(epoch, finished, trainers, split,
                                           checkpoints and not (should_stop and should_stop()))
            if seed_index == 1:  # the trainers are reset for the next seed: take these now
                record.layer_tables = {label: layer_table(t.model)
                                       for label, t in trainers.items()}
            if record.partial:
                break
    return record.result(split)


def _borrow_trainers_and_read_images(config: ExperimentConfig, pool: ThreadPoolExecutor,
                                     borrowed: ExitStack
                                     ) -> tuple[dict[str, ModelTrainer], Split]:
    """A trainer for each model of the comparison (by label, baseline first), lent by
    `TRAINER_POOL` until ``borrowed`` closes, and the images."""
    # The images are read (zlib lets go of the GIL) while TensorFlow is imported and the
    # models are built: both are part of the wait for the first epoch.
    reading = pool.submit(split_of, config)
    trainers = {model_label(placement, config.normalization):
                borrowed.enter_context(TRAINER_POOL.lend(placement, config))
                for placement in model_placements(config)}
    return trainers, reading.result()


def _both_epochs_unless_stopped(pool: ThreadPoolExecutor, trainers: dict[str, ModelTrainer],
                                runs: dict[str, Iterator[dict[str, Any]]], epoch: int,
                                probe_images: np.ndarray, should_stop: StopCheck | None
                                ) -> dict[str, EpochOutputs] | None:
    """Each model's next epoch of ``runs`` with its ReLU probe, side by side; None when
    ``should_stop`` says so before the epoch or while it runs (an epoch under way then ends
    at its next step and counts for neither model). The one place a training stops."""
    if should_stop is not None and should_stop():
        return None
    # Each model's epoch in its own thread: batch-64 convolutions leave a core idle.
    futures = {label: pool.submit(_epoch_and_probe, trainers[label], run, epoch, probe_images)
               for label, run in runs.items()}
    if should_stop is not None:  # a Stop during a long epoch ends it at once
        _abort_when_asked(list(futures.values()), list(trainers.values()), should_stop)
    finished = {}
    for label, future in futures.items():
        with contextlib.suppress(EpochAborted):
            finished[label] = future.result()
    return finished if len(finished) == len(futures) else None


def _epoch_and_probe(trainer: ModelTrainer, run: Iterator[dict[str, Any]], epoch: int,
                     probe_images: np.ndarray) -> EpochOutputs:
    # The ReLU probe runs in the model's own thread, beside the other model's epoch.
    return next(run), trainer.probe.percentiles(probe_images)


def _abort_when_asked(futures: list[Future], trainers: list[ModelTrainer],
                      should_stop: StopCheck) -> None:
    """Wait for an epoch's ``futures``; if ``should_stop`` says so meanwhile, abort the
    ``trainers``' epochs (they end at their next step) and wait for them to end."""
    pending = set(futures)
    stopping = False
    while pending:
        _, pending = wait(pending, timeout=STOP_POLL_SECONDS)
        stopping = stopping or bool(pending and should_stop())
        if stopping:
            # Again at every poll: a trainer still starting (its `start` clears the flag)
            # would otherwise run its whole epoch.
            for trainer in trainers:
                trainer.abort()


@dataclass
class _Record:
    """What a comparison's training has recorded so far, and the result it makes."""

    config: ExperimentConfig
    on_epoch: ProgressCallback | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    relu_inputs: list[dict[str, Any]] = field(default_factory=list)
    landscape: list[dict[str, Any]] = field(default_factory=list)
    # The first seed's answers after each kept epoch, BN's values and modes at checkpoints
    # (`bnviz.snapshots`), and the parameter tables.
    answers: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    bn_layers: list[pd.DataFrame] = field(default_factory=list)
    bn_modes: list[pd.DataFrame] = field(default_factory=list)
    layer_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    latest: tuple[int, dict[str, tuple[np.ndarray, np.ndarray]]] | None = None
    stopped_seed: int = 0  # as in `ComparisonResult`
    stopped_epoch: int = 0

    @property
    def partial(self) -> bool:
        """Whether the training was stopped."""
        return self.stopped_seed > 0

    def epoch(self, seed: int, epoch: int, finished: dict[str, EpochOutputs]) -> None:
        """Both models' rows of one finished epoch, each passed on as it is recorded."""
        for label, (metrics, percentiles) in finished.items():
            metrics = {k: v for k, v in metrics.items() if k != "answers"}
            self.landscape += [{"model": label, "seed": seed, "step": step, "epoch": epoch,
                                "direction": direction, **measures}
                               for step, direction, measures in metrics.pop("landscape", ())]
            row = {"model": label, "seed": seed, "epoch": epoch, **metrics}
            self.rows.append(row)
            self.relu_inputs += [{"model": label, "seed": seed, "epoch": epoch, **values}
                                 for values in percentiles]
            if self.on_epoch is not None:
                self.on_epoch(row)

    def keep_first_seed(self, epoch: int, finished: dict[str, EpochOutputs],
                        trainers: dict[str, ModelTrainer], split: Split,
                        checkpoints: bool = True) -> None:
        """What the first seed's ``epoch`` leaves for the scrubber and for shorter runs: the
        answers on the test set after it (measured by its evaluation), and at a checkpoint
        (unless ``checkpoints`` is False: a stop was asked, or the run keeps none) the BN
        model's layer values and its two modes."""
        answers = {label: metrics["answers"] for label, (metrics, _) in finished.items()}
        self.latest = (epoch, answers)  # kept too if the training stops after it
        if epoch in prediction_epochs(self.config.epochs) and checkpoints:
            self.answers[epoch] = answers
        if not checkpoints or epoch not in checkpoint_epochs(self.config.epochs):
            return
        bn_label = model_label(self.config.placement, self.config.normalization)
        bn_model = trainers[bn_label]
        self.bn_layers.append(thin_features(bn_layer_values(bn_model.model, bn_label))
                              .assign(epoch=epoch))
        # Without moving statistics both modes compute the same: nothing to compare.
        if self.config.variant.keeps_moving_statistics:
            self.bn_modes.append(bn_model.mode_accuracies(split.x_test, split.y_test)
                                 .assign(epoch=epoch))

    def predictions(self) -> Predictions:
        """The answers kept, as a result holds them, and those after the first seed's last
        epoch (where a stop, or a run that keeps no checkpoints, ended it)."""
        if self.latest is not None:
            self.answers.setdefault(*self.latest)
        epochs = sorted(self.answers)
        models = list(self.answers[epochs[0]]) if epochs else []
        return Predictions(
            tuple(epochs),
            {m: np.stack([self.answers[e][m][0] for e in epochs]) for m in models},
            {m: np.stack([self.answers[e][m][1] for e in epochs]) for m in models})

    def stopped(self, seed_index: int, epochs_done: int) -> None:
        """The training stopped in this seed (1-based) after ``epochs_done`` of its epochs;
        `TrainingStopped` when no epoch had ended (there is nothing to show)."""
        if not self.rows:
            raise TrainingStopped("stopped before the first epoch ended")
        self.stopped_seed, self.stopped_epoch = seed_index, epochs_done

    def result(self, split: Split) -> ComparisonResult:
        """The comparison's result (partial after a stop)."""
        rows, relu_inputs, landscape = self.rows, self.relu_inputs, self.landscape
        if self.stopped_seed > 1:
            # Whole seeds only: one seed cut short among whole ones would skew every
            # statistic over seeds (the note says it was left out).
            unfinished = self.config.seed_list[self.stopped_seed - 1]
            rows = [row for row in rows if row["seed"] != unfinished]
            relu_inputs = [row for row in relu_inputs if row["seed"] != unfinished]
            landscape = [row for row in landscape if row["seed"] != unfinished]
        return ComparisonResult(
            config=self.config,
            history=history_frame(rows),
            test_labels=split.y_test,
            relu_inputs=pd.DataFrame(relu_inputs),
            landscape=landscape_frame(landscape),
            data_source=split.source,
            warnings=split.warnings,
            train_class_counts=tuple(split.class_counts()),
            stopped_seed=self.stopped_seed,
            stopped_epoch=self.stopped_epoch,
            predictions=self.predictions(),
            layer_tables=self.layer_tables,
            bn_layers=_checkpoints(self.bn_layers),
            bn_modes=_checkpoints(self.bn_modes),
        )


def _checkpoints(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables kept at checkpoints as one, their ``epoch`` column first."""
    if not frames:
        return pd.DataFrame()
    joined = pd.concat(frames, ignore_index=True)
    return joined[["epoch", *[c for c in joined.columns if c != "epoch"]]]


# -- a learning-rate sweep, a warm-up ------------------------------------------------


def sweep_learning_rates(request: SweepRequest,
                         on_point: ProgressCallback | None = None) -> SweepResult:
    """Train both models at each learning rate; report best test accuracy or divergence
    (the rules are `bnviz.summary`'s). ``on_point`` receives each table row as it is done."""
    base = request.config
    split = split_of(base)
    rows = []
    # Both models of a rate at once, as a comparison trains its two: each operation has half
    # the cores (`bnviz.tf_settings`), and one trainer per placement is all the
    # memory a comparison needs too. Every point is a training of its own, so the table is
    # the same in any order; rows are passed on in the table's order.
    points = request.points()
    models = len(model_placements(base))
    with ThreadPoolExecutor(max_workers=models, thread_name_prefix="bnviz-sweep") as pool:
        for start in range(0, len(points), models):
            rate_points = points[start: start + models]
            for row in pool.map(lambda point: sweep_point(request, *point, split), rate_points):
                rows.append(row)
                if on_point is not None:
                    on_point(row)
    return SweepResult(request, pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)))


def sweep_point(request: SweepRequest, rate: float, placement: str,
                split: Split | None = None) -> dict[str, Any]:
    """One point of a sweep: the model of ``placement`` trained at ``rate`` for the sweep's
    epochs, stopped early when it diverges; its row of the sweep's table."""
    base = request.config
    if split is None:
        split = split_of(base)
    config = base.replace(learning_rate=float(rate), epochs=request.epochs, seeds=1)
    best, blew_up, epochs_run = float("nan"), False, 0
    first_loss = last_loss = float("nan")
    last_accuracy = 0.0
    with TRAINER_POOL.lend(placement, config) as trainer:
        for metrics in epochs_of(trainer, base.seed, config.learning_rate, split,
                                 request.epochs):
            epochs_run += 1
            loss = metrics["train_loss"]
            if diverged(loss, None if epochs_run == 1 else first_loss):
                blew_up = True
                break
            first_loss = loss if epochs_run == 1 else first_loss
            last_loss, last_accuracy = loss, metrics["train_accuracy"]
            best = metrics["test_accuracy"] if math.isnan(best) else max(
                best, metrics["test_accuracy"])
    result = outcome(blew_up, first_loss, last_loss, last_accuracy)
    return {"model": model_label(placement, base.normalization), "learning_rate": float(rate),
            "best_test_accuracy": float(best), "diverged": result == "diverged",
            "outcome": result, "epochs_run": epochs_run}


def warm_up() -> None:
    """Compile the default comparison's two trainers with one small epoch each, so that a
    training process's first real epoch does not pay TensorFlow's one-time set-up."""
    config = ExperimentConfig(epochs=1, train_size=100)
    split = split_of(config)
    for placement in model_placements(config):
        with TRAINER_POOL.lend(placement, config) as trainer:
            for _ in epochs_of(trainer, config.seed, config.learning_rate, split, 1):
                pass


# -- how every loop trains a model ---------------------------------------------------


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The batch order of one epoch: a permutation fixed by seed and epoch."""
    return np.random.default_rng([seed, epoch]).permutation(count).astype(np.int32)


def epochs_of(trainer: ModelTrainer, seed: int, learning_rate: float, split: Split,
              epochs: int, probe_every: int = 0) -> Iterator[dict[str, Any]]:
    """One fresh training of ``trainer``: start it, then yield each epoch's metrics.

    Every loop trains this way, so the batch order and the reset of the trainer are
    the same for a comparison, a sweep and a warm-up. Stop early by not asking for
    more. ``probe_every``: see `ModelTrainer.run_epoch` (steps count over the training).
    """
    tf_settings.check()
    trainer.start(seed, learning_rate, split)
    steps = trainer.steps_per_epoch(len(split.y_train))
    for epoch in range(1, epochs + 1):
        yield trainer.run_epoch(epoch_order(seed, epoch, len(split.y_train)),
                                first_step=(epoch - 1) * steps, probe_every=probe_every,
                                learning_rate=learning_rate)


# -- the trainers --------------------------------------------------------------------


class EpochAborted(Exception):
    """An epoch ended early by `ModelTrainer.abort`: it counts for nothing."""


# The epochs' traces one at a time: traces are Python (they hold the GIL), so two
# interleaved traces would both end late, while one after the other lets the model that
# asked first (the baseline, submitted first, as a rule) run its first epoch while the
# second is traced. The probes' small functions are traced outside it.
_TRACING = threading.Lock()


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    """The named optimizer (``adam`` or ``sgd``) with Keras' defaults apart from the rate."""
    import keras

    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate)


def _trained_normalization(placement: str, normalization: str) -> str:
    # The baseline has no normalising layer: one trainer serves every normalisation.
    return BATCH_NORM if placement == BASELINE_PLACEMENT else normalization


class ModelTrainer:
    """One model of one placement, its optimizer and its compiled epoch, reusable.

    Why reusable: every new model costs a trace of its epoch function, and a
    process kept the memory of every discarded trainer (its traced graphs and what
    they captured) for good, so one that trains many times (the CLI's sweeps, a
    notebook, a server without worker processes) grew without bound. `start` puts
    the model and optimizer back exactly where a freshly built pair would be for
    a seed and a learning rate, and the data are arguments of the compiled
    function rather than constants inside it, so one trace serves every
    training of the same placement, batch size and optimizer.
    """

    def __init__(self, placement: str, batch_size: int, optimizer: str,
                 normalization: str = BATCH_NORM, architecture: str = CNN) -> None:
        import tensorflow as tf

        self.placement = placement
        self.batch_size = batch_size
        self.optimizer_name = optimizer
        self.normalization = _trained_normalization(placement, normalization)
        self.architecture = architecture
        self.model = build_model(placement, seed=0, normalization=self.normalization,
                                 architecture=architecture)
        self.optimizer = make_optimizer(optimizer, learning_rate=0.001)
        self.optimizer.build(self.model.trainable_variables)
        self.probe = ReluInputProbe(self.model)
        # Read by the compiled epoch before every step: set from another thread, it ends the
        # epoch at the next step (a Stop during a long epoch); `start` clears it.
        self._abort = tf.Variable(False, trainable=False, name="abort")
        self._epoch = compile_epoch(self.model, self.optimizer, batch_size,
                                    landscape_measures(self.model), self._abort)
        self._data: tuple[Any, ...] = ()
        self._mode_forward: Callable[..., Any] | None = None
        self._traced = False

    def trace(self) -> float:
        """Trace the compiled epoch now (once per trainer); the seconds spent waiting for
        another trainer's trace to end."""
        if self._traced:
            return 0.0
        asked = time.perf_counter()
        with _TRACING:
            waited = time.perf_counter() - asked
            self._epoch.get_concrete_function()
        self._traced = True
        return waited

    @property
    def key(self) -> tuple[str, int, str, str, str]:
        """What a compiled trainer is specific to: everything else is reset by `start`."""
        return (self.placement, self.batch_size, self.optimizer_name, self.normalization,
                self.architecture)

    def start(self, seed: int, learning_rate: float, split: Split) -> None:
        """Make the model and optimizer those of a fresh training with this seed and rate."""
        import tensorflow as tf

        # A freshly built model holds exactly the initial state for this seed (weights,
        # BN statistics, the dropout's random state); building one traces nothing.
        fresh = build_model(self.placement, seed, self.normalization, self.architecture)
        for target, source in zip(self.model.variables, fresh.variables, strict=True):
            target.assign(source.value)
        # Likewise a fresh optimizer's state (zero moments, step 0, this rate), copied rather
        # than zeroed by hand, so an optimizer with non-zero initial state stays right.
        fresh_optimizer = make_optimizer(self.optimizer_name, learning_rate)
        fresh_optimizer.build(fresh.trainable_variables)
        for target, source in zip(self.optimizer.variables, fresh_optimizer.variables,
                                  strict=True):
            target.assign(source.value)
        self._data = (
            tf.constant(split.x_train), tf.one_hot(split.y_train, NUM_CLASSES),
            tf.constant(split.x_test), tf.one_hot(split.y_test, NUM_CLASSES),
        )
        self._abort.assign(False)

    def abort(self) -> None:
        """End the epoch running now (from another thread) at its next step; `run_epoch` then
        raises `EpochAborted`. Safe to call at any time; `start` clears it."""
        self._abort.assign(True)

    def release_data(self) -> None:
        """Drop this training's images; `start` must come before the next epoch."""
        self._data = ()

    def steps_per_epoch(self, images: int) -> int:
        """Training steps (batches) in an epoch over ``images`` images."""
        return -(-images // self.batch_size)

    def run_epoch(self, order: np.ndarray, first_step: int = 0, probe_every: int = 0,
                  learning_rate: float = 0.0) -> dict[str, Any]:
        """Train one epoch in the given image order, then evaluate on the test set.

        With ``probe_every`` above 0, the loss landscape (`bnviz.landscape`) is measured
        along every training step whose number (counted from 0 at ``first_step``) is a
        multiple of it, along the step taken and along the gradient (step sizes in
        multiples of ``learning_rate``); the metrics then carry ``landscape``: (step,
        direction, measures) triples.
        """
        if not self._data:
            raise RuntimeError("call start() before run_epoch()")
        begin = time.perf_counter()
        # An epoch's seconds include its own trace, not the wait for the other model's.
        waited = self.trace()
        etas = np.array(STEP_MULTIPLES, np.float32) * np.float32(learning_rate)
        (train_loss, train_accuracy, test_loss, test_accuracy, classes, confidence, probes,
         done) = self._epoch(order, *self._data, np.int32(first_step), np.int32(probe_every),
                             etas)
        if int(done) < self.steps_per_epoch(len(order)):
            raise EpochAborted(f"aborted after {int(done)} steps")
        metrics: dict[str, Any] = {
            "train_accuracy": float(train_accuracy),
            "train_loss": float(train_loss),
            "test_accuracy": float(test_accuracy),
            "test_loss": float(test_loss),
            "seconds": time.perf_counter() - begin - waited,
            # Each test image's predicted class and its confidence (in percent), as the
            # evaluation found them: what the tabs show of the model after this epoch.
            "answers": (classes.numpy().astype(np.uint8), to_percent(confidence.numpy())),
        }
        if probe_every > 0:
            metrics["landscape"] = [
                (first_step + step, direction,
                 dict(zip(MEASURES, map(float, measured), strict=True)))
                for step, values in enumerate(probes.numpy())
                if (first_step + step) % probe_every == 0
                for direction, measured in zip(
                    DIRECTIONS, values.reshape(len(DIRECTIONS), len(MEASURES)), strict=True)]
        return metrics

    def _forward(self) -> Callable[[Any, int, bool], Any]:
        if self._mode_forward is None:
            self._mode_forward = mode_forward(self.model)
        return self._mode_forward

    def mode_accuracies(self, x_test: np.ndarray, y_test: np.ndarray) -> pd.DataFrame:
        """`bnviz.inside.mode_accuracies` of this model, with its forward pass compiled once."""
        return mode_accuracies(self.model, x_test, y_test, forward=self._forward())


# What one landscape probe returns: each measure along each direction.
PROBED = len(DIRECTIONS) * len(MEASURES)


def compile_epoch(model: keras.Model, optimizer: keras.optimizers.Optimizer, batch_size: int,
                  landscape: Callable[[Any, Any, Any, Any], Any], abort: Any) -> Any:
    """One epoch of ``model`` as one compiled function (traced on its first call): train
    on the images of ``order``, ``batch_size`` at a time, with the landscape probe after
    every ``probe_every``-th step (counted from ``first_step``), unless ``abort`` (a boolean
    variable) is set before a step; then evaluate on the test set. It returns the train
    loss and accuracy, the test loss and accuracy, each test image's predicted class and its
    probability, the probes' measures (NaN where none was taken) and the steps done."""
    # Written with explicit graph loops and traced without AutoGraph: converting this
    # code (and the landscape's) took a large part of the trace, which a student waits
    # through before the first epoch.
    import keras
    import tensorflow as tf

    def epoch(order: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any,
              first_step: Any, probe_every: Any, etas: Any) -> tuple[Any, ...]:
        count = tf.shape(order)[0]
        steps = (count + batch_size - 1) // batch_size
        variables = model.trainable_variables
        not_probed = tf.fill([PROBED], float("nan"))

        def train_step(step: Any, loss_sum: Any, correct: Any, probes: Any) -> tuple[Any, ...]:
            batch = order[step * batch_size: (step + 1) * batch_size]
            x = tf.gather(x_train, batch)
            y = tf.gather(y_train, batch)
            global_step = first_step + step
            probe_now = tf.logical_and(probe_every > 0,
                                       tf.equal(global_step % tf.maximum(probe_every, 1), 0))
            start = [tf.identity(v) for v in variables]  # where the step starts from
            with tf.GradientTape() as tape:
                probabilities = model(x, training=True)
                loss = tf.reduce_mean(keras.losses.categorical_crossentropy(y, probabilities))
            optimizer.apply(tape.gradient(loss, variables), variables)
            # The landscape probe looks along the step just taken, from where it started,
            # and puts every variable back where the step left it: the next step trains
            # exactly as it would without it.
            measured = tf.cond(probe_now, lambda: landscape(x, y, start, etas),
                               lambda: not_probed)
            probes = probes.write(step, measured)
            batch_count = tf.cast(tf.shape(batch)[0], tf.float32)
            return (step + 1, loss_sum + loss * batch_count,
                    correct + _count_correct(y, probabilities), probes)

        def going_on(step: Any, *_: Any) -> Any:
            return tf.logical_and(step < steps, tf.logical_not(abort.read_value()))

        done, loss_sum, correct, probes = tf.while_loop(
            going_on, train_step,
            (tf.constant(0), tf.constant(0.0), tf.constant(0.0),
             tf.TensorArray(tf.float32, size=steps, element_shape=[PROBED])))
        total = tf.cast(count, tf.float32)
        test_loss, test_accuracy, classes, confidence = _evaluate(model, x_test, y_test)
        return (loss_sum / total, correct / total, test_loss, test_accuracy, classes,
                confidence, probes.stack(), done)

    images = tf.TensorSpec([None, *IMAGE_SHAPE, 1], tf.float32)
    labels = tf.TensorSpec([None, NUM_CLASSES], tf.float32)
    scalar = tf.TensorSpec([], tf.int32)
    return tf.function(epoch, autograph=False, input_signature=[
        tf.TensorSpec([None], tf.int32), images, labels, images, labels, scalar, scalar,
        tf.TensorSpec([len(STEP_MULTIPLES)], tf.float32)])


def _evaluate(model: keras.Model, x_test: Any, y_test: Any) -> tuple[Any, Any, Any, Any]:
    """Test loss and accuracy in inference mode, and each image's predicted class and its
    probability, in slices to bound activation memory (in the compiled epoch's graph)."""
    import keras
    import tensorflow as tf

    count = tf.shape(y_test)[0]

    def evaluate_slice(start: Any, loss_sum: Any, correct: Any, classes: Any,
                       confidence: Any) -> tuple[Any, ...]:
        x = x_test[start: start + EVAL_SLICE]
        y = y_test[start: start + EVAL_SLICE]
        probabilities = model(x, training=False)
        index = start // EVAL_SLICE
        return (start + EVAL_SLICE,
                loss_sum + tf.reduce_sum(keras.losses.categorical_crossentropy(
                    y, probabilities)),
                correct + _count_correct(y, probabilities),
                classes.write(index, tf.argmax(probabilities, axis=-1, output_type=tf.int32)),
                confidence.write(index, tf.reduce_max(probabilities, axis=-1)))

    def answers(dtype: Any) -> Any:
        return tf.TensorArray(dtype, size=0, dynamic_size=True, infer_shape=False)

    _, loss_sum, correct, classes, confidence = tf.while_loop(
        lambda start, *_: start < count, evaluate_slice,
        (tf.constant(0), tf.constant(0.0), tf.constant(0.0), answers(tf.int32),
         answers(tf.float32)))
    total = tf.cast(count, tf.float32)
    return loss_sum / total, correct / total, classes.concat(), confidence.concat()


def _count_correct(y: Any, probabilities: Any) -> Any:
    import tensorflow as tf

    hits = tf.equal(tf.argmax(y, axis=-1), tf.argmax(probabilities, axis=-1))
    return tf.reduce_sum(tf.cast(hits, tf.float32))


class TrainerPool:
    """Idle `ModelTrainer`s kept for reuse, each lent to one training at a time.

    Nothing is ever evicted: TensorFlow would keep a dropped trainer's traces
    anyway, so eviction would only force a new trace (and its memory) the next
    time that kind of training comes. The pool grows with the kinds of training
    a process has run at once, not with the number of trainings.
    """

    def __init__(self) -> None:
        self._idle: list[ModelTrainer] = []
        self._lock = threading.Lock()

    @contextmanager
    def lend(self, placement: str, config: ExperimentConfig) -> Iterator[ModelTrainer]:
        """A trainer for this placement and the config's batch size, optimizer,
        normalisation and network."""
        normalization = _trained_normalization(placement, config.normalization)
        key = (placement, config.batch_size, config.optimizer, normalization,
               config.architecture)
        with self._lock:
            found = next((t for t in self._idle if t.key == key), None)
            if found is not None:
                self._idle.remove(found)
        trainer = found or ModelTrainer(placement, config.batch_size, config.optimizer,
                                        normalization, config.architecture)
        try:
            yield trainer
        finally:
            trainer.release_data()
            with self._lock:
                self._idle.append(trainer)

    def __len__(self) -> int:
        """How many trainers are idle."""
        with self._lock:
            return len(self._idle)


TRAINER_POOL = TrainerPool()


# -- any request ---------------------------------------------------------------------

# The training loop of each kind of request, by its task name (`bnviz.request.Request.task`).
# A sweep's points are short and the page offers no Stop for it: it runs to its end.
TASKS: dict[str, Callable[[Any, ProgressCallback | None, StopCheck | None], Any]] = {
    ComparisonRequest.task: lambda request, on_progress, should_stop: train_comparison(
        request.config, on_epoch=on_progress, should_stop=should_stop),
    SweepRequest.task: lambda request, on_progress, should_stop: sweep_learning_rates(
        request, on_point=on_progress),
}


def run_request(request: Request, on_progress: ProgressCallback | None = None,
                should_stop: StopCheck | None = None) -> Any:
    """Run ``request`` in this process by its task, passing each progress row on and
    stopping early when ``should_stop`` says so (see `train_comparison`)."""
    try:
        task = TASKS[request.task]
    except KeyError:
        raise ValueError(f"no training loop for the task {request.task!r}") from None
    return task(request, on_progress, should_stop)
