"""The gallery: every preset's result, precomputed and shipped, ready at first sight.

Each entry is a preset's configuration trained with `GALLERY_SEEDS` seeds by the
project's own trainer, and the preset's learning-rate sweep where it has one
(`bnviz.presets.PRESET_SWEEPS`), both made (``python scripts/build_gallery.py``), kept in
``bnviz/gallery/`` as the store keeps results (``<hash>.npz``), and described in
``GALLERY.json``: when, with which versions and on which data it was trained. An
entry is served only while it still matches: the same configuration hash (which
covers `RESULTS_VERSION`) and the same images (`bnviz.data.split_fingerprint`);
otherwise it is skipped with a log line, never shown as if trained on other data.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnviz import prefix
from bnviz.comparison import ComparisonRequest, ComparisonResult
from bnviz.config import RESULTS_VERSION, ExperimentConfig
from bnviz.data import split_fingerprint
from bnviz.sweep import SweepRequest, SweepResult

log = logging.getLogger(__name__)

GALLERY_DIR = Path(__file__).with_name("gallery")
INDEX = "GALLERY.json"
GALLERY_SEEDS = 5
REBUILD = "rebuild the gallery: python scripts/build_gallery.py"


@dataclass(frozen=True)
class GalleryEntry:
    """What the index says of one precomputed result."""

    preset: str
    config: ExperimentConfig
    config_hash: str
    results_version: int
    data_fingerprint: str
    data_source: str
    trained_at: str  # ISO date and time, UTC
    versions: dict[str, str]
    cpu: str
    # The preset's learning-rate sweep, when it has one: its rates and epochs per run.
    sweep_rates: tuple[float, ...] = ()
    sweep_epochs: int = 0

    @property
    def file(self) -> str:
        """The entry's file name in the gallery folder."""
        return f"{self.config_hash}{ComparisonRequest.suffix}"

    @property
    def sweep(self) -> SweepRequest | None:
        """The entry's learning-rate sweep, if it has one."""
        if not self.sweep_rates:
            return None
        return SweepRequest(self.config, self.sweep_rates, self.sweep_epochs)

    @property
    def sweep_file(self) -> str | None:
        """The file of the entry's sweep, if it has one."""
        sweep = self.sweep
        return None if sweep is None else f"{sweep.config_hash()}{SweepRequest.suffix}"

    def problem(self) -> str | None:
        """Why this entry may not be served today (None when it may)."""
        if self.results_version != RESULTS_VERSION:
            return (f"trained with results version {self.results_version}, "
                    f"not {RESULTS_VERSION}")
        if self.config_hash != self.config.config_hash():
            return "its configuration hashes differently now"
        current = split_fingerprint(self.config.split, self.config.train_size)
        if self.data_fingerprint != current:
            return "trained on other images than the split uses now"
        return None

    def to_dict(self) -> dict[str, Any]:
        """The entry as the index stores it."""
        return {"preset": self.preset, "config": self.config.to_mapping(),
                "config_hash": self.config_hash, "results_version": self.results_version,
                "data_fingerprint": self.data_fingerprint, "data_source": self.data_source,
                "trained_at": self.trained_at, "versions": self.versions, "cpu": self.cpu,
                **({"sweep": {"learning_rates": list(self.sweep_rates),
                              "epochs": self.sweep_epochs}} if self.sweep_rates else {})}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GalleryEntry:
        """The entry from the index (raises on anything missing or malformed)."""
        return cls(preset=values["preset"],
                   config=ExperimentConfig.from_mapping(values["config"]),
                   config_hash=values["config_hash"],
                   results_version=int(values["results_version"]),
                   data_fingerprint=values["data_fingerprint"],
                   data_source=values["data_source"], trained_at=values["trained_at"],
                   versions=dict(values["versions"]), cpu=values["cpu"],
                   sweep_rates=tuple(float(rate) for rate in
                                     values.get("sweep", {}).get("learning_rates", ())),
                   sweep_epochs=int(values.get("sweep", {}).get("epochs", 0)))


def gallery_config(preset_config: ExperimentConfig) -> ExperimentConfig:
    """The configuration a preset's gallery entry is trained with."""
    return preset_config.replace(seeds=GALLERY_SEEDS)


def read_index(directory: Path = GALLERY_DIR) -> list[GalleryEntry]:
    """Every entry the index lists (an unreadable index reads as an empty gallery)."""
    try:
        values = json.loads((directory / INDEX).read_text())
        return [GalleryEntry.from_dict(entry) for entry in values["entries"]]
    except FileNotFoundError:
        return []
    except Exception as error:
        log.warning("gallery: cannot read %s (%s); serving no precomputed results",
                    directory / INDEX, error)
        return []


def write_index(entries: list[GalleryEntry], directory: Path = GALLERY_DIR) -> None:
    """Write the index of ``entries``."""
    text = json.dumps({"entries": [entry.to_dict() for entry in entries]}, indent=2)
    (directory / INDEX).write_text(text + "\n")


class Gallery:
    """Read-only access to the precomputed results, each read from disk once."""

    def __init__(self, directory: Path = GALLERY_DIR) -> None:
        self.directory = Path(directory)
        self._servable: dict[str, GalleryEntry] = {}
        self._sweeps: dict[str, GalleryEntry] = {}  # by the sweep's hash
        for entry in read_index(self.directory):  # judged once, and logged once
            problem = entry.problem()
            if problem is None:
                self._servable[entry.config_hash] = entry
                if entry.sweep is not None:
                    self._sweeps[entry.sweep.config_hash()] = entry
            else:
                log.warning("gallery: not serving %s (%s): %s; %s", entry.preset, entry.file,
                            problem, REBUILD)
        self._loaded: dict[str, ComparisonResult | SweepResult] = {}
        self._lock = threading.Lock()

    def entry(self, request: ComparisonRequest) -> GalleryEntry | None:
        """The servable entry of ``request``, if the gallery has one."""
        return self._servable.get(request.config_hash())

    def preset_config(self, preset_config: ExperimentConfig) -> ExperimentConfig:
        """What a preset shows: its gallery configuration when the gallery can serve it,
        else the preset itself (which then trains, with its own seed count)."""
        precomputed = gallery_config(preset_config)
        return precomputed if self.entry(ComparisonRequest(precomputed)) else preset_config

    def sweep_for(self, config: ExperimentConfig) -> SweepRequest | None:
        """The gallery's learning-rate sweep of ``config``'s entry, if it has one (a sweep
        does not depend on the seed count or the landscape probes)."""
        for entry in self._sweeps.values():
            if entry.sweep is not None and entry.sweep.config_hash() == SweepRequest(
                    config, entry.sweep_rates, entry.sweep_epochs).config_hash():
                return entry.sweep
        return None

    def holding(self, request: Any) -> list[ComparisonResult]:
        """The precomputed comparisons that hold ``request`` (the same settings with more
        epochs or seeds: `bnviz.prefix.holds`), loaded, the smallest run first (the quickest
        to read, and one answer for a request whatever the index's order); none for anything
        else."""
        if not isinstance(request, ComparisonRequest):
            return []
        found = []
        for entry in sorted(self._servable.values(),
                            key=lambda e: (e.config.work, e.config.seeds, e.config_hash)):
            if prefix.holds(entry.config, request.config):
                result = self.load(ComparisonRequest(entry.config))
                if isinstance(result, ComparisonResult):
                    found.append(result)
        return found

    def load(self, request: Any) -> ComparisonResult | SweepResult | None:
        """The precomputed result of ``request`` (a comparison, or a preset's sweep), or
        None."""
        if isinstance(request, ComparisonRequest):
            entry = self.entry(request)
            file = entry.file if entry is not None else None
        elif isinstance(request, SweepRequest):
            entry = self._sweeps.get(request.config_hash())
            file = entry.sweep_file if entry is not None else None
        else:
            return None
        if file is None:
            return None
        with self._lock:
            if file not in self._loaded:
                try:
                    data = (self.directory / file).read_bytes()
                    self._loaded[file] = request.decode_result(data)
                except Exception as error:  # not remembered: the next visit tries again
                    log.warning("gallery: cannot read %s (%s); %s", file, error, REBUILD)
                    return None
            return self._loaded[file]
