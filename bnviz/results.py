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

log = logging.getLogger(__name__)

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


def headline(summary: pd.DataFrame) -> str:
    """One sentence on how much sooner (or later) the BN model learned, from the summary."""
    baseline, bn = summary.iloc[0], summary.iloc[-1]
    for level in (90, 99):
        column = f"epochs_to_{level}_train"
        base_epochs, bn_epochs = baseline[column], bn[column]
        if not (np.isnan(base_epochs) and np.isnan(bn_epochs)):
            break
    else:
        return "Neither model reached 90 % training accuracy; try more epochs."

    def when(epochs: float) -> str:
        return "never" if np.isnan(epochs) else f"after {epochs:.0f} epochs"

    return (f"{bn['model']} reached {level} % training accuracy {when(bn_epochs)}, the baseline "
            f"{when(base_epochs)}. Best test accuracy: {bn['best_test_accuracy']:.3f} with BN, "
            f"{baseline['best_test_accuracy']:.3f} without.")


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

    def path_for(self, config: ExperimentConfig) -> Path:
        """Where the results of ``config`` live."""
        return self.directory / f"{config.config_hash()}.npz"

    def __contains__(self, config: ExperimentConfig) -> bool:
        return self.path_for(config).exists()

    def save(self, result: ComparisonResult) -> Path:
        """Persist a result atomically; returns its path."""
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.path_for(result.config)
        meta = {
            "config": result.config.to_mapping(),
            "history": result.history.to_dict(orient="list"),
            "models": result.models,
            "layer_tables": {k: v.to_dict(orient="list") for k, v in result.layer_tables.items()},
            "data_source": result.data_source,
            "warnings": list(result.warnings),
        }
        arrays = {f"probabilities_{i}": p for i, p in enumerate(result.probabilities.values())}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, meta=np.array(json.dumps(meta)),
                            test_labels=result.test_labels, **arrays)
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=f"{result.config.config_hash()}.{os.getpid()}.",
            suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(buffer.getvalue())
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, target)
            self.discarded.pop(result.config.config_hash(), None)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def load(self, config: ExperimentConfig) -> ComparisonResult | None:
        """The stored result of ``config``, or None if absent or unreadable."""
        path = self.path_for(config)
        if not path.exists():
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
                data_source=meta.get("data_source", ""),
                warnings=tuple(meta.get("warnings", ())),
            )
        except Exception as error:  # any fault in an entry means: recompute it
            log.warning("results store: discarding unreadable entry %s (%s)", path, error)
            self.discarded[config.config_hash()] = f"{type(error).__name__}: {error}"[:200]
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None
