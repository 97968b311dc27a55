"""What a comparison produces, the figures drawn from it, and where it is kept.

Nothing here imports TensorFlow: stored results are read and summarised with
numpy and pandas alone, so the page can draw them without loading a trainer.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bnviz.config import ExperimentConfig
from bnviz.sweep import SWEEP_COLUMNS, SweepRequest, SweepResult

log = logging.getLogger(__name__)

FRAMES = ("relu_inputs", "bn_layers", "bn_modes")  # extra tables kept with a result
HISTORY_COLUMNS = (
    "model", "seed", "epoch", "train_accuracy", "train_loss",
    "test_accuracy", "test_loss", "seconds",
)


@dataclass
class ComparisonResult:
    """Histories and test-set outputs of the baseline and the BN model."""

    config: ExperimentConfig
    history: pd.DataFrame  # tidy: one row per model, seed and epoch (HISTORY_COLUMNS)
    test_labels: np.ndarray  # (n_test,) int
    probabilities: dict[str, np.ndarray]  # model label -> (n_test, 10) softmax outputs
    layer_tables: dict[str, pd.DataFrame]  # model label -> per-layer parameter table
    # model, seed, epoch, p15, p50, p85 of the input to each model's last ReLU
    relu_inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    # model, layer, feature, gamma, beta, moving_mean, moving_variance (BN model, first seed)
    bn_layers: pd.DataFrame = field(default_factory=pd.DataFrame)
    # mode, batch_size, accuracy: the BN model evaluated with moving averages or batch statistics
    bn_modes: pd.DataFrame = field(default_factory=pd.DataFrame)
    data_source: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def models(self) -> list[str]:
        """Model labels in training order (baseline first)."""
        return list(self.probabilities)

    def summary(self) -> pd.DataFrame:
        """Convergence figures per model (see `convergence_summary`)."""
        return convergence_summary(self.history)


def epochs_to_reach(values: pd.Series, epochs: pd.Series, threshold: float) -> float:
    """First epoch at which ``values`` reaches ``threshold`` (NaN if never)."""
    reached = epochs[values.to_numpy() >= threshold]
    return float(reached.iloc[0]) if len(reached) else float("nan")


def convergence_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Per model: epochs to 90 % / 99 % train accuracy, final and best test accuracy, seconds."""
    rows = []
    for model, runs in history.groupby("model", sort=False):
        for seed, run in runs.groupby("seed", sort=False):
            run = run.sort_values("epoch")
            rows.append({
                "model": model,
                "seed": seed,
                "epochs_to_90_train": epochs_to_reach(run.train_accuracy, run.epoch, 0.90),
                "epochs_to_99_train": epochs_to_reach(run.train_accuracy, run.epoch, 0.99),
                "final_test_accuracy": float(run.test_accuracy.iloc[-1]),
                "best_test_accuracy": float(run.test_accuracy.max()),
                "best_test_epoch": int(run.epoch.iloc[int(np.argmax(run.test_accuracy))]),
                "seconds": float(run.seconds.sum()),
            })
    return pd.DataFrame(rows)


FIGURES = ("epochs_to_90_train", "epochs_to_99_train", "best_test_accuracy",
           "final_test_accuracy", "seconds")


def seed_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model and figure: mean, sd (NaN for one seed), min, max and how many seeds counted.

    Epochs-to-threshold figures count only the seeds that reached the threshold;
    ``reached`` says how many did.
    """
    rows = []
    for model, runs in summary.groupby("model", sort=False):
        for figure in FIGURES:
            values = runs[figure].dropna()
            rows.append({
                "model": model, "figure": figure, "mean": values.mean(),
                "sd": values.std(ddof=1) if len(values) > 1 else float("nan"),
                "low": values.min(), "high": values.max(),
                "reached": len(values), "seeds": len(runs),
            })
    return pd.DataFrame(rows)


def clearly_different(a: pd.Series, b: pd.Series) -> bool | None:
    """True if two `seed_summary` rows differ by more than their spreads (ranges do not
    overlap); None when there is a single seed and no spread to judge by."""
    if a["seeds"] < 2 or b["seeds"] < 2:
        return None
    return bool(a["high"] < b["low"] or b["high"] < a["low"])


def headline(summary: pd.DataFrame) -> str:
    """Plain words on how soon each model reached 90 % training accuracy, honest about spread."""
    spread = seed_summary(summary).set_index(["model", "figure"])
    baseline, bn = summary["model"].iloc[0], summary["model"].iloc[-1]
    seeds = int(spread.loc[(baseline, "seconds"), "seeds"])

    def value(model: str, figure: str, digits: int) -> str:
        row = spread.loc[(model, figure)]
        if row["reached"] == 0:
            return "never"
        text = f"{row['mean']:.{digits}f}"
        if seeds > 1:
            text += f" ± {row['sd']:.{digits}f}" if row["reached"] > 1 else ""
            if row["reached"] < row["seeds"]:
                text += f" ({row['reached']} of {row['seeds']} seeds)"
        return text

    reached = "90 % train accuracy"
    base_90, bn_90 = spread.loc[(baseline, "epochs_to_90_train")], spread.loc[
        (bn, "epochs_to_90_train")]
    if base_90["reached"] == 0 and bn_90["reached"] == 0:
        epochs_sentence = "Neither model reached 90 % training accuracy; try more epochs."
    else:
        epochs_sentence = (f"{bn}: {reached} after {value(bn, 'epochs_to_90_train', 0)} epochs; "
                           f"baseline: after {value(baseline, 'epochs_to_90_train', 0)}.")
    test_sentence = (f"Best test accuracy {value(bn, 'best_test_accuracy', 3)} with BN, "
                     f"{value(baseline, 'best_test_accuracy', 3)} without.")
    if seeds == 1:
        verdict = "One run per model: add seeds to see whether the differences are real."
    else:
        verdicts = []
        for figure, words in (("epochs_to_90_train", "speed to 90 % train accuracy"),
                              ("best_test_accuracy", "best test accuracy")):
            different = clearly_different(spread.loc[(bn, figure)], spread.loc[(baseline, figure)])
            if spread.loc[(bn, figure)]["reached"] and spread.loc[(baseline, figure)]["reached"]:
                verdicts.append(f"{words}: " + ("a clear difference (the seeds' ranges do not "
                                                "overlap)" if different else
                                                "no clear difference (the ranges overlap)"))
        verdict = f"Over {seeds} seeds, " + "; ".join(verdicts) + "." if verdicts else ""
    return " ".join(part for part in (epochs_sentence, test_sentence, verdict) if part)


# -- persistence --------------------------------------------------------------


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def default_cache_dir() -> Path:
    """``$BNVIZ_CACHE_DIR``, else ``~/.cache/bnviz``."""
    if os.environ.get("BNVIZ_CACHE_DIR"):
        return Path(os.environ["BNVIZ_CACHE_DIR"])
    return Path.home() / ".cache" / "bnviz"


class ResultsStore:
    """Finished results on disk, one ``<config hash>.npz`` file each.

    Writes go to a temporary file in the same directory and are renamed into
    place, so a reader (or a crash) never sees half a file. An entry that cannot
    be read is logged, removed and reported as absent, so it is recomputed.
    Temporary files carry the writer's process id, so the leftovers of a writer
    killed mid-write can be told from a write in progress and swept.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory else default_cache_dir()
        # config hash -> why its entry was discarded, so a page can say why it recomputes.
        self.discarded: dict[str, str] = {}

    def check_writable(self) -> str | None:
        """None if results can be saved here, else why not (the error, in words)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".probe-"):
                pass
        except OSError as error:
            return f"{type(error).__name__}: {error}"
        return None

    def sweep_temporary(self) -> list[Path]:
        """Remove temporary files left by writers that died mid-write; returns them.

        A ``<hash>.<pid>.<random>.tmp`` file whose process is gone will never be
        renamed into place. Files without a pid (older versions) go after an hour.
        """
        removed = []
        try:
            candidates = list(self.directory.glob("*.tmp"))
        except OSError:
            return removed
        for path in candidates:
            parts = path.name.split(".")
            try:
                pid = int(parts[1]) if len(parts) >= 4 else None
                stale = (not _process_alive(pid)) if pid is not None \
                    else time.time() - path.stat().st_mtime > 3600
                if stale:
                    path.unlink()
                    removed.append(path)
            except (OSError, ValueError):
                continue
        if removed:
            log.warning("results store: removed %d unfinished write(s) left by a killed "
                        "process: %s", len(removed), ", ".join(p.name for p in removed))
        return removed

    def path_for(self, config: ExperimentConfig | SweepRequest) -> Path:
        """Where the results of ``config`` (or of a sweep) live."""
        suffix = ".csv" if isinstance(config, SweepRequest) else ".npz"
        return self.directory / f"{config.config_hash()}{suffix}"

    def __contains__(self, config: ExperimentConfig | SweepRequest) -> bool:
        return self.path_for(config).exists()

    def _write_atomically(self, target: Path, content: bytes) -> None:
        # The temporary name carries the writer's pid, so `sweep_temporary` can tell the
        # leftovers of a killed writer from a write in progress.
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=f"{target.stem}.{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
            self.discarded.pop(target.stem, None)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _discard(self, path: Path, error: Exception) -> None:
        log.warning("results store: discarding unreadable entry %s (%s)", path, error)
        self.discarded[path.stem] = f"{type(error).__name__}: {error}"[:200]
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)

    def save(self, result: ComparisonResult | SweepResult) -> Path:
        """Persist a result atomically (temporary file, then rename); returns its path."""
        target = self.path_for(result.config)
        if isinstance(result, SweepResult):
            self._write_atomically(target, result.table.to_csv(index=False).encode())
            return target
        meta = {
            "config": result.config.to_mapping(),
            "history": result.history.to_dict(orient="list"),
            "models": result.models,
            "layer_tables": {k: v.to_dict(orient="list") for k, v in result.layer_tables.items()},
            "frames": {name: getattr(result, name).to_dict(orient="list") for name in FRAMES},
            "data_source": result.data_source,
            "warnings": list(result.warnings),
        }
        arrays = {f"probabilities_{i}": p for i, p in enumerate(result.probabilities.values())}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)),
                            test_labels=result.test_labels, **arrays)
        self._write_atomically(target, buffer.getvalue())
        return target

    def load(self, config: ExperimentConfig | SweepRequest
             ) -> ComparisonResult | SweepResult | None:
        """The stored result of ``config`` (or of a sweep), or None if absent or unreadable."""
        path = self.path_for(config)
        if not path.exists():
            return None
        if isinstance(config, SweepRequest):
            try:
                table = pd.read_csv(path)
                if tuple(table.columns) != SWEEP_COLUMNS:
                    raise ValueError(f"columns {list(table.columns)}")
                return SweepResult(config, table)
            except Exception as error:
                self._discard(path, error)
                return None
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                probabilities = {
                    name: archive[f"probabilities_{i}"] for i, name in enumerate(meta["models"])
                }
                test_labels = archive["test_labels"]
            stored_config = ExperimentConfig.from_mapping(meta["config"])
            if stored_config != config:
                raise ValueError("entry belongs to another configuration")
            return ComparisonResult(
                config=config,
                history=pd.DataFrame(meta["history"], columns=list(HISTORY_COLUMNS)),
                test_labels=test_labels,
                probabilities=probabilities,
                layer_tables={k: pd.DataFrame(v) for k, v in meta["layer_tables"].items()},
                **{name: pd.DataFrame(meta["frames"][name]) for name in FRAMES},
                data_source=meta.get("data_source", ""),
                warnings=tuple(meta.get("warnings", ())),
            )
        except Exception as error:  # any fault in an entry means: recompute it
            self._discard(path, error)
            return None
