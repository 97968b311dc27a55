"""The gallery: every preset's result, precomputed and shipped, ready at first sight.

Each entry is a preset's configuration trained with `GALLERY_SEEDS` seeds by the
project's own trainer (``python scripts/build_gallery.py``), kept in
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

from bnviz.comparison import ComparisonRequest, ComparisonResult
from bnviz.config import RESULTS_VERSION, ExperimentConfig
from bnviz.data import split_fingerprint

log = logging.getLogger(__name__)

GALLERY_DIR = Path(__file__).with_name("gallery")
INDEX = "GALLERY.json"
GALLERY_SEEDS = 3
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

    @property
    def file(self) -> str:
        """The entry's file name in the gallery folder."""
        return f"{self.config_hash}{ComparisonRequest.suffix}"

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
                "trained_at": self.trained_at, "versions": self.versions, "cpu": self.cpu}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GalleryEntry:
        """The entry from the index (raises on anything missing or malformed)."""
        return cls(preset=values["preset"],
                   config=ExperimentConfig.from_mapping(values["config"]),
                   config_hash=values["config_hash"],
                   results_version=int(values["results_version"]),
                   data_fingerprint=values["data_fingerprint"],
                   data_source=values["data_source"], trained_at=values["trained_at"],
                   versions=dict(values["versions"]), cpu=values["cpu"])


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
        for entry in read_index(self.directory):  # judged once, and logged once
            problem = entry.problem()
            if problem is None:
                self._servable[entry.config_hash] = entry
            else:
                log.warning("gallery: not serving %s (%s): %s; %s", entry.preset, entry.file,
                            problem, REBUILD)
        self._loaded: dict[str, ComparisonResult] = {}
        self._lock = threading.Lock()

    def entry(self, request: ComparisonRequest) -> GalleryEntry | None:
        """The servable entry of ``request``, if the gallery has one."""
        return self._servable.get(request.config_hash())

    def preset_config(self, preset_config: ExperimentConfig) -> ExperimentConfig:
        """What a preset shows: its gallery configuration when the gallery can serve it,
        else the preset itself (which then trains, with its own seed count)."""
        precomputed = gallery_config(preset_config)
        return precomputed if self.entry(ComparisonRequest(precomputed)) else preset_config

    def load(self, request: Any) -> ComparisonResult | None:
        """The precomputed result of ``request``, or None."""
        if not isinstance(request, ComparisonRequest):
            return None  # the gallery holds comparisons only
        entry = self.entry(request)
        if entry is None:
            return None
        with self._lock:
            if entry.config_hash not in self._loaded:
                try:
                    data = (self.directory / entry.file).read_bytes()
                    self._loaded[entry.config_hash] = request.decode_result(data)
                except Exception as error:  # not remembered: the next visit tries again
                    log.warning("gallery: cannot read %s (%s); %s", entry.file, error, REBUILD)
                    return None
            return self._loaded[entry.config_hash]
