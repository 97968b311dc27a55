"""A comparison: the request to train both models of one configuration, and its result.

`ComparisonRequest` is what the job manager and the store handle (see
`bnviz.request`): its hash is the configuration's, its result is kept as one
compressed ``.npz`` file, and `bnviz.training` runs it. Nothing here imports
TensorFlow: stored results are read with numpy and pandas alone, so the page
can draw them without loading a trainer.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from bnviz import prefix
from bnviz.config import BASELINE_PLACEMENT, ExperimentConfig
from bnviz.snapshots import Predictions, at_checkpoint
from bnviz.summary import convergence_summary

FRAMES = ("relu_inputs", "bn_layers", "bn_modes", "landscape")  # extra tables kept with a result
HISTORY_COLUMNS = (
    "model", "seed", "epoch", "train_accuracy", "train_loss",
    "test_accuracy", "test_loss", "seconds",
)


def model_placements(config: ExperimentConfig) -> tuple[str, str]:
    """Where each model of a comparison of ``config`` normalises, in training order: the
    baseline (nowhere) first, then the BN model (`config.placement`)."""
    return BASELINE_PLACEMENT, config.placement


@dataclass(eq=False)  # one result is one object (the page keeps its views by identity)
class ComparisonResult:
    """Histories and test-set outputs of the baseline and the BN model."""

    config: ExperimentConfig
    history: pd.DataFrame  # tidy: one row per model, seed and epoch (HISTORY_COLUMNS)
    test_labels: np.ndarray  # (n_test,) int
    # Each model's answers on the test set after every kept epoch of the first seed
    # (`bnviz.snapshots`); its models, in training order, are the result's.
    predictions: Predictions
    layer_tables: dict[str, pd.DataFrame]  # model label -> per-layer parameter table
    # model, seed, epoch, p15, p50, p85 of the input to each model's last ReLU
    relu_inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    # epoch, model, layer, feature, gamma, beta, moving_mean, moving_variance (BN model, first
    # seed, at each checkpoint: `bnviz.snapshots.checkpoint_epochs`); read with `bn_layers_at`
    bn_layers: pd.DataFrame = field(default_factory=pd.DataFrame)
    # epoch, mode, batch_size, accuracy: the BN model evaluated with moving averages or batch
    # statistics at each checkpoint; read with `bn_modes_at`
    bn_modes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # model, seed, step, epoch and the loss-landscape measures (bnviz.landscape), per probe
    landscape: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_source: str = ""
    warnings: tuple[str, ...] = field(default=())
    train_class_counts: tuple[int, ...] = ()  # training images per class (CLASS_NAMES order)
    # A training stopped before its end (Stop on the page, Ctrl-C in the CLI): the seed that
    # was training (1-based; 0: the result is whole) and the epochs it had finished.
    stopped_seed: int = 0
    stopped_epoch: int = 0
    # Served from a run that holds it (more epochs or seeds, `bnviz.prefix`): that run's
    # configuration; None for a result trained as it is. Never stored: cut again when asked.
    cut_from: ExperimentConfig | None = None

    @property
    def partial(self) -> bool:
        """Whether the training was stopped before its end (see `stop_note`)."""
        return self.stopped_seed > 0

    def stop_note(self) -> str:
        """Where a stopped training ended, in words ("" for a whole result)."""
        if not self.partial:
            return ""
        note = f"stopped at epoch {self.stopped_epoch} of {self.config.epochs}"
        if self.config.seeds == 1:
            return note
        if self.stopped_seed == 1:
            return note + f" of the first of {self.config.seeds} seeds"
        whole = self.stopped_seed - 1
        if self.stopped_epoch == 0:  # between two seeds
            return (f"stopped after {whole} of {self.config.seeds} seeds: the whole "
                    f"seed{'s are' if whole > 1 else ' is'} shown")
        return (note + f" of seed {self.stopped_seed} of {self.config.seeds}: the {whole} "
                f"whole seed{'s are' if whole > 1 else ' is'} shown, the unfinished one left "
                "out")

    def cut_note(self) -> str:
        """Which run this result was cut from, in words ("" when it was trained as it is)."""
        source = self.cut_from
        if source is None:
            return ""
        parts = []
        if self.config.epochs < source.epochs:
            parts.append(f"cut at epoch {self.config.epochs}")
        if self.config.seeds < source.seeds:
            parts.append("its first seed" if self.config.seeds == 1
                         else f"its first {self.config.seeds} seeds")
        return (f"from the {source.epochs}-epoch, {source.seeds}-seed run, "
                + " and ".join(parts))

    @property
    def seeds_shown(self) -> int:
        """How many seeds the history holds (fewer than asked for after a stop)."""
        return int(self.history["seed"].nunique())

    @property
    def models(self) -> list[str]:
        """Model labels in training order (baseline first)."""
        return self.predictions.models

    @property
    def final_epoch(self) -> int:
        """The last epoch whose answers the result kept (the first seed's last epoch): what
        the tabs show unless asked for another."""
        return self.predictions.last_epoch

    def answers_at(self, epoch: int | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per model, its predicted classes and confidences on the test set after ``epoch``
        (default the last): `bnviz.snapshots.Predictions.at`."""
        return self.predictions.at(epoch)

    def bn_layers_at(self, epoch: int | None = None) -> tuple[pd.DataFrame, int | None]:
        """BN's values at the last checkpoint at or before ``epoch`` (default the last), and
        that checkpoint's epoch."""
        return at_checkpoint(self.bn_layers, epoch)

    def bn_modes_at(self, epoch: int | None = None) -> tuple[pd.DataFrame, int | None]:
        """BN's two modes compared at the last checkpoint at or before ``epoch`` (default the
        last), and that checkpoint's epoch."""
        return at_checkpoint(self.bn_modes, epoch)

    @property
    def baseline_model(self) -> str:
        """The baseline's label: "baseline"."""
        return self.models[0]

    @property
    def normalized_model(self) -> str:
        """The BN model's label, its variant and placement: "BN after", "GroupNorm before"."""
        return self.models[-1]

    def summary(self) -> pd.DataFrame:
        """Convergence statistics per model and seed (`bnviz.summary.convergence_summary`)."""
        return convergence_summary(self.history)


def history_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Progress rows (one per model and epoch, as training reports them) as a tidy history."""
    return pd.DataFrame(list(rows), columns=list(HISTORY_COLUMNS))


@dataclass(frozen=True)
class ComparisonRequest:
    """Train the baseline and the BN model of ``config`` (a `bnviz.request.Request`)."""

    config: ExperimentConfig
    task: ClassVar[str] = "comparison"
    suffix: ClassVar[str] = ".npz"
    stoppable: ClassVar[bool] = True  # a stop ends it early with a partial result

    @property
    def model_count(self) -> int:
        """How many models train: each reports one progress row per epoch and seed."""
        return len(model_placements(self.config))

    def progress_rows(self) -> int:
        """One row per model, epoch and seed."""
        return self.model_count * self.config.epochs * self.config.seeds

    def work(self) -> float:
        """Images seen by both models over every epoch and seed, in images of the blog's CNN
        (`bnviz.config.IMAGE_COST`)."""
        return self.model_count * self.config.work

    def config_hash(self) -> str:
        """The configuration's hash: stored results and links are keyed by it."""
        return self.config.config_hash()

    def answer_from(self, result: object) -> ComparisonResult | None:
        """This comparison cut from a finished comparison that holds it (`bnviz.prefix`), or
        None when ``result`` does not."""
        if not isinstance(result, ComparisonResult) or not prefix.can_cut(result, self.config):
            return None
        return prefix.cut(result, self.config)

    def encode_result(self, result: ComparisonResult) -> bytes:
        """Numeric table columns and the answers as arrays, text and the rest as JSON, in one
        compressed ``.npz``."""
        arrays = result.predictions.arrays()
        tables = {}
        for name in ("history", *FRAMES):
            tables[name] = _table_arrays(name, getattr(result, name), arrays)
        meta = {
            "config": result.config.to_mapping(),
            "tables": tables,
            "models": result.models,
            "layer_tables": {k: v.to_dict(orient="list") for k, v in result.layer_tables.items()},
            "data_source": result.data_source,
            "warnings": list(result.warnings),
            "train_class_counts": list(result.train_class_counts),
            "stopped": [result.stopped_seed, result.stopped_epoch],
        }
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)),
                            test_labels=result.test_labels, **arrays)
        return buffer.getvalue()

    def decode_result(self, data: bytes) -> ComparisonResult:
        """The result from `encode_result` bytes; raises if they are damaged or belong to
        another configuration."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if "tables" in meta:
                tables = {name: _table_from(archive, name, described)
                          for name, described in meta["tables"].items()}
            else:  # saved before tables were kept as arrays: all of them JSON
                tables = {"history": pd.DataFrame(meta["history"]),
                          **{name: pd.DataFrame(meta["frames"].get(name, {}))
                             for name in FRAMES}}
            history = tables["history"].reindex(columns=list(HISTORY_COLUMNS))
            # Results saved before answers were kept per epoch hold the last epoch's softmax
            # outputs: they read as answers kept after that epoch alone.
            last = _first_seed_epochs(history)
            predictions = Predictions.from_arrays(archive, meta["models"]) \
                if "prediction_epochs" in archive else Predictions.from_probabilities(
                    {name: archive[f"probabilities_{i}"]
                     for i, name in enumerate(meta["models"])}, last)
            test_labels = archive["test_labels"]
        if ExperimentConfig.from_mapping(meta["config"]) != self.config:
            raise ValueError("entry belongs to another configuration")
        frames = {name: tables.get(name, pd.DataFrame()) for name in FRAMES}
        for name in ("bn_layers", "bn_modes"):  # likewise kept at the last epoch alone
            if "epoch" not in frames[name] and not frames[name].empty:
                frames[name].insert(0, "epoch", last)
        return ComparisonResult(
            config=self.config,
            history=history,
            test_labels=test_labels,
            predictions=predictions,
            layer_tables={k: pd.DataFrame(v) for k, v in meta["layer_tables"].items()},
            **frames,
            data_source=meta.get("data_source", ""),
            warnings=tuple(meta.get("warnings", ())),
            train_class_counts=tuple(meta.get("train_class_counts", ())),
            stopped_seed=int(meta.get("stopped", (0, 0))[0]),
            stopped_epoch=int(meta.get("stopped", (0, 0))[1]),
        )


def _table_arrays(name: str, frame: pd.DataFrame, arrays: dict[str, np.ndarray]
                  ) -> dict[str, Any]:
    """A table for `ComparisonRequest.encode_result`: its numeric columns added to
    ``arrays`` (exact, and a third of their JSON once compressed), its text columns and its
    column order returned for the JSON part."""
    text = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind in "fiub":
            arrays[f"{name}.{column}"] = values.to_numpy()
        else:
            text[str(column)] = values.tolist()
    return {"columns": [str(c) for c in frame.columns], "text": text}


def _table_from(archive: Any, name: str, described: dict[str, Any]) -> pd.DataFrame:
    """A table back from `_table_arrays`."""
    columns = described["columns"]
    if not columns:
        return pd.DataFrame()
    return pd.DataFrame({c: described["text"][c] if c in described["text"]
                         else archive[f"{name}.{c}"] for c in columns}, columns=columns)


def _first_seed_epochs(history: pd.DataFrame) -> int:
    """How many epochs the first seed of ``history`` trained."""
    if history.empty:
        return 0
    return int(history[history["seed"] == history["seed"].iloc[0]]["epoch"].max())


def merge_seeds(config: ExperimentConfig, parts: list[ComparisonResult]) -> ComparisonResult:
    """The result of ``config`` from one result per seed, each trained on its own (in
    ``config.seed_list`` order): what training the seeds one after another gives. The
    per-epoch tables are concatenated; predictions, parameter tables and BN values are
    the first seed's, as in one run."""
    first = parts[0]

    def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [frame for frame in frames if not frame.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return ComparisonResult(
        config=config,
        history=joined([part.history for part in parts]),
        test_labels=first.test_labels,
        predictions=first.predictions,
        layer_tables=first.layer_tables,
        relu_inputs=joined([part.relu_inputs for part in parts]),
        bn_layers=first.bn_layers,
        bn_modes=first.bn_modes,
        landscape=pd.concat([part.landscape for part in parts], ignore_index=True),
        data_source=first.data_source,
        warnings=first.warnings,
        train_class_counts=first.train_class_counts,
    )
