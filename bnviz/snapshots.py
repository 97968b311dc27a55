"""What a comparison keeps of its first seed as training goes: the models' answers on the
test set after each epoch, and BN's own values and two modes at checkpoints.

A run of E epochs holds, epoch for epoch, every shorter run with the same other settings
(the batch order of an epoch depends on the seed and the epoch alone), so what it kept
at epoch k is what a k-epoch run ends with. That lets the page move through a finished
training (its scrubber) and answer a request for fewer epochs from a longer stored run
(`bnviz.prefix`) without training.

Kept compactly, since the gallery ships them: per test image and epoch, the predicted class
(a byte) and its confidence in whole percent (a byte, all that the page shows of it).
The BN values and the mode comparison (a few hundred numbers, and a pass over the test set
at four batch sizes) are kept at `checkpoint_epochs` only: 1, 2, 5, 10, 20, 50, … and the
last epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Up to this many epochs the answers are kept after every epoch; beyond, after every
# `THINNED_EVERY`-th epoch (Ioffe & Szegedy's 1,000 epochs would otherwise be the largest
# part of the gallery).
EVERY_EPOCH_UP_TO = 100
THINNED_EVERY = 10
# The checkpoints: a 1-2-5 series, as a visitor's round numbers of epochs are.
CHECKPOINT_SERIES = (1, 2, 5)


def prediction_epochs(epochs: int) -> tuple[int, ...]:
    """The epochs after which a training of ``epochs`` epochs keeps its answers."""
    kept = [e for e in range(1, epochs + 1)
            if e <= EVERY_EPOCH_UP_TO or e % THINNED_EVERY == 0 or e == epochs]
    return tuple(kept)


def checkpoint_epochs(epochs: int) -> tuple[int, ...]:
    """The epochs after which a training of ``epochs`` epochs keeps BN's values and modes:
    1, 2, 5, 10, 20, 50, 100, … up to ``epochs``, and ``epochs`` itself."""
    series = set()
    scale = 1
    while scale <= epochs:
        series |= {step * scale for step in CHECKPOINT_SERIES if step * scale <= epochs}
        scale *= 10
    return tuple(sorted(series | {epochs}))


def latest_checkpoint(epochs: tuple[int, ...] | list[int], epoch: int) -> int | None:
    """The last of ``epochs`` at or before ``epoch`` (None when there is none)."""
    before = [e for e in epochs if e <= epoch]
    return max(before) if before else None


def to_percent(confidence: np.ndarray) -> np.ndarray:
    """Confidences in [0, 1] as whole percents, one byte each (a diverged model's NaN: 0)."""
    return np.rint(np.clip(np.nan_to_num(confidence, nan=0.0), 0.0, 1.0) * 100).astype(np.uint8)


@dataclass(eq=False)
class Predictions:
    """Each model's answers on the test set after the kept epochs (first seed): the predicted
    class and its confidence in percent, one row per kept epoch."""

    epochs: tuple[int, ...] = ()
    classes: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (epochs, n) uint8
    percent: dict[str, np.ndarray] = field(default_factory=dict)  # model -> (epochs, n) uint8

    @classmethod
    def from_probabilities(cls, probabilities: dict[str, np.ndarray], epoch: int
                           ) -> Predictions:
        """The answers of softmax outputs (model -> (n, 10)) after one epoch."""
        return cls((epoch,),
                   {m: p.argmax(axis=1).astype(np.uint8)[None] for m, p in probabilities.items()},
                   {m: to_percent(p.max(axis=1))[None] for m, p in probabilities.items()})

    @property
    def models(self) -> list[str]:
        """Model labels in training order."""
        return list(self.classes)

    @property
    def last_epoch(self) -> int:
        """The last epoch kept (0 when nothing is)."""
        return self.epochs[-1] if self.epochs else 0

    def at(self, epoch: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per model, the predicted classes and confidences (in [0, 1]) after ``epoch``
        (default the last kept); KeyError when that epoch was not kept."""
        epoch = self.last_epoch if epoch is None else epoch
        if epoch not in self.epochs:
            raise KeyError(f"answers after epoch {epoch} were not kept")
        row = self.epochs.index(epoch)
        return {m: (self.classes[m][row], self.percent[m][row] / 100.0) for m in self.models}

    def until(self, epoch: int) -> Predictions:
        """The answers kept up to and including ``epoch``."""
        rows = [i for i, e in enumerate(self.epochs) if e <= epoch]
        return Predictions(tuple(self.epochs[i] for i in rows),
                           {m: c[rows] for m, c in self.classes.items()},
                           {m: p[rows] for m, p in self.percent.items()})

    def arrays(self) -> dict[str, np.ndarray]:
        """The answers as named arrays (`from_arrays` reads them back), each image's epochs
        side by side: an image's answer changes little from one epoch to the next, so they
        compress to about two thirds of the epochs side by side."""
        arrays = {"prediction_epochs": np.array(self.epochs, np.int32)}
        for i, model in enumerate(self.models):
            arrays[f"classes_{i}"] = np.ascontiguousarray(self.classes[model].T)
            arrays[f"percent_{i}"] = np.ascontiguousarray(self.percent[model].T)
        return arrays

    @classmethod
    def from_arrays(cls, archive: Any, models: list[str]) -> Predictions:
        """The answers from `arrays` as an ``.npz`` archive holds them."""
        return cls(tuple(int(e) for e in archive["prediction_epochs"]),
                   {m: np.ascontiguousarray(archive[f"classes_{i}"].T)
                    for i, m in enumerate(models)},
                   {m: np.ascontiguousarray(archive[f"percent_{i}"].T)
                    for i, m in enumerate(models)})


# BN values kept per layer at most: layer norm has a gain and bias per feature of a whole map
# (4,608 in the CNN's first layer), more than a browser draws quickly or an eye can tell
# apart, and seven checkpoints of them would be most of a gallery entry.
MAX_TICKS_PER_LAYER = 512


def thin_features(bn_layers: pd.DataFrame, limit: int = MAX_TICKS_PER_LAYER) -> pd.DataFrame:
    """At most ``limit`` features of each layer, evenly spaced over its features (all of
    them when it has no more)."""
    kept = []
    for _, layer in bn_layers.groupby("layer", sort=False):
        step = -(-len(layer) // limit)
        kept.append(layer.iloc[::step])
    return pd.concat(kept, ignore_index=True) if kept else bn_layers


def feature_steps(bn_layers: pd.DataFrame) -> dict[str, int]:
    """Per layer that `thin_features` thinned, every how many features it kept."""
    steps = {}
    for name, layer in bn_layers.groupby("layer", sort=False):
        features = layer["feature"].to_numpy()
        if len(features) > 1 and features[1] - features[0] > 1:
            steps[str(name)] = int(features[1] - features[0])
    return steps


def at_checkpoint(frame: pd.DataFrame, epoch: int | None) -> tuple[pd.DataFrame, int | None]:
    """The rows of a table kept at checkpoints (its ``epoch`` column) at the last checkpoint
    at or before ``epoch`` (default the last), without that column, and the checkpoint's
    epoch (None when the table holds none so early)."""
    if "epoch" not in frame:
        return frame, None
    if frame.empty:
        return frame.drop(columns="epoch"), None
    kept = sorted(int(e) for e in frame["epoch"].unique())
    found = kept[-1] if epoch is None else latest_checkpoint(kept, epoch)
    if found is None:
        return frame.iloc[0:0].drop(columns="epoch"), None
    rows = frame[frame["epoch"] == found].drop(columns="epoch").reset_index(drop=True)
    return rows, found
