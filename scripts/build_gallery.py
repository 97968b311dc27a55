"""Train every preset and every what-if (`bnviz.presets.gallery_configs`) with
`bnviz.gallery.GALLERY_SEEDS` seeds (and a preset's learning-rate sweep, where it has one) and
keep the results in bnviz/gallery/, with an index.

Usage: python scripts/build_gallery.py [--force] [--ray ADDRESS] [NAME ...]
       (default: all, in index order; --ray: each entry's seeds as parallel tasks on the Ray
       cluster at ADDRESS, `bnviz.cluster.RayRunner`, as `python -m bnviz run --ray` trains)

Resumable: an entry the gallery would serve today (same configuration hash, results version
and images, its answers kept after every epoch, and its sweep present) is kept as it is, unless
``--force``; each entry is written as soon as it is trained, so an interrupted build goes on
where it stopped. Names are trained in the order given.

Each entry is trained by bnviz's own trainer, in this process, at the preset's settings with
`bnviz.gallery.GALLERY_SEEDS` seeds. ``GALLERY.json`` records, per entry, when it was trained,
the versions of Python, TensorFlow, Keras and numpy, the git commit, the CPU, the data source
and a fingerprint of the images (`bnviz.data.split_fingerprint`). Rebuild whenever the gallery
test says an entry no longer matches (a new results version, a new configuration field, other
images).
"""

from __future__ import annotations

import datetime
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402
from bnviz.comparison import ComparisonRequest  # noqa: E402
from bnviz.config import RESULTS_VERSION  # noqa: E402
from bnviz.data import split_fingerprint  # noqa: E402
from bnviz.gallery import (  # noqa: E402
    GALLERY_DIR,
    GalleryEntry,
    gallery_config,
    read_index,
    write_index,
)
from bnviz.presets import gallery_configs, preset_sweep  # noqa: E402
from bnviz.training import run_request  # noqa: E402


def versions() -> dict[str, str]:
    """The versions that decide what a training computes."""
    import keras
    import numpy
    import tensorflow

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__,
            "keras": keras.__version__, "numpy": numpy.__version__,
            "bnviz commit": commit or "unknown"}


def _up_to_date(entry: GalleryEntry | None, name: str) -> bool:
    """Whether ``entry`` is what ``name`` would be trained into now, files and all."""
    import numpy as np

    if entry is None or entry.problem() is not None:
        return False
    config = gallery_config(CONFIGS[name])
    sweep = preset_sweep(name, config)
    if entry.config != config or entry.sweep != sweep:
        return False
    files = [entry.file] + ([entry.sweep_file] if entry.sweep_file else [])
    if not all((GALLERY_DIR / file).exists() for file in files):
        return False
    with np.load(GALLERY_DIR / entry.file) as archive:  # older entries kept the end alone
        return "prediction_epochs" in archive.files


CONFIGS = gallery_configs()


def main() -> None:
    arguments = sys.argv[1:]
    force = "--force" in arguments
    address = None
    if "--ray" in arguments:
        at = arguments.index("--ray")
        address = arguments[at + 1] if at + 1 < len(arguments) else None
        if address is None:
            raise SystemExit("--ray needs the cluster's address (host:port)")
        del arguments[at: at + 2]
    train = run_request
    if address is not None:
        from bnviz.cluster import RayRunner

        train = RayRunner(address)
    chosen = [name for name in arguments if name != "--force"] or list(CONFIGS)
    unknown = [name for name in chosen if name not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown name(s): {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
    began_all = time.perf_counter()
    GALLERY_DIR.mkdir(exist_ok=True)
    entries = {entry.preset: entry for entry in read_index()}
    for name in chosen:
        if not force and _up_to_date(entries.get(name), name):
            print(f"keeping {name!r}: up to date", flush=True)
            continue
        config = gallery_config(CONFIGS[name])
        request = ComparisonRequest(config)
        began = time.perf_counter()
        print(f"training {name!r} ({config.seeds} seeds, {config.epochs} epochs) …", flush=True)
        result = train(request)
        (GALLERY_DIR / f"{request.config_hash()}{request.suffix}").write_bytes(
            request.encode_result(result))
        sweep = preset_sweep(name, config)
        if sweep is not None:
            print(f"  and its sweep ({len(sweep.learning_rates)} rates, {sweep.epochs} epochs) …",
                  flush=True)
            (GALLERY_DIR / f"{sweep.config_hash()}{sweep.suffix}").write_bytes(
                sweep.encode_result(train(sweep)))
        entries[name] = GalleryEntry(
            preset=name, config=config, config_hash=request.config_hash(),
            results_version=RESULTS_VERSION,
            data_fingerprint=split_fingerprint(config.split, config.train_size),
            data_source=result.data_source,
            trained_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            versions=versions(), cpu=cpu_name(),
            sweep_rates=sweep.learning_rates if sweep else (),
            sweep_epochs=sweep.epochs if sweep else 0)
        # Keep the index in the gallery's order, and drop files no entry points to.
        write_index([entries[p] for p in CONFIGS if p in entries])
        print(f"  wrote {entries[name].file} in {time.perf_counter() - began:.0f} s", flush=True)
    kept = {file for preset in CONFIGS if preset in entries
            for file in (entries[preset].file, entries[preset].sweep_file) if file}
    for path in [*GALLERY_DIR.glob(f"*{ComparisonRequest.suffix}"), *GALLERY_DIR.glob("*.csv")]:
        if path.name not in kept:
            path.unlink()
    total = sum(path.stat().st_size for path in GALLERY_DIR.iterdir())
    print(f"gallery: {len(entries)} entries, {total / 1e6:.2f} MB; this build took "
          f"{time.perf_counter() - began_all:.0f} s on {cpu_name()}")


if __name__ == "__main__":
    main()
