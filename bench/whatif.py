"""What-ifs answered at once: how many of the links a visitor tries first open without a
training, on a fresh real server (127.0.0.1).

    .venv/bin/python bench/whatif.py                 # every link below (~3 min)
    .venv/bin/python bench/whatif.py --timeout 5

The links, each the page's own link of a configuration (only what differs from the blog's):

* every one-knob change of the blog's settings a visitor tries first (`one_knob_changes`:
  batch size 16, 32, 128, 256; learning rate 1e-4 and 1e-2; BN before the ReLU; each other
  normalisation; SGD; 300 and 3,000 training images; the official test split; scaled pixels),
  with one seed, whether the gallery holds it (`bnviz.presets.WHAT_IFS`) or not;
* every preset at 10, 20 and 50 epochs, and with 1 and 3 seeds.

Each link is opened alone, one after another, by a websocket session (`bench.wsclient`: the
messages a browser tab exchanges), after one warm-up visit and with the server idle. A link
counts as answered at once when the results' charts arrive within ``--within`` seconds (2)
and no training started for it (the server's ``training started`` lines); a link the server
cannot answer shows "press Train" and waits out ``--timeout``. Printed: the share answered
at once, the time to the charts (p50, p95, max) over those, the server's CPU seconds per
answer, and each link that was not answered with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402  (after the path set-up)
from bench.load import _settle, link, percentile  # noqa: E402
from bench.wsclient import ProtocolSession, run_session  # noqa: E402
from bnviz.config import NORMALIZATIONS, ExperimentConfig  # noqa: E402
from bnviz.presets import PRESETS  # noqa: E402
from tests.server import Server  # noqa: E402

EPOCH_CUTS = (10, 20, 50)
SEED_CUTS = (1, 3)


def one_knob_changes() -> dict[str, ExperimentConfig]:
    """The one-knob changes of the blog's settings a visitor tries first (issue 26's list),
    whether the gallery holds them or not: this benchmark's yardstick, kept apart from
    `bnviz.presets.WHAT_IFS` (what the gallery holds) so that a gap shows."""
    blog = ExperimentConfig()
    return {
        **{f"batch size {size}": blog.replace(batch_size=size) for size in (16, 32, 128, 256)},
        **{f"learning rate {rate:g}": blog.replace(learning_rate=rate) for rate in (1e-4, 1e-2)},
        "BN before the ReLU": blog.replace(placement="before"),
        **{f"normalisation {name}": blog.replace(normalization=name)
           for name in NORMALIZATIONS if name != blog.normalization},
        "optimizer SGD": blog.replace(optimizer="sgd"),
        **{f"{size:,} training images": blog.replace(train_size=size) for size in (300, 3000)},
        "official test split": blog.replace(split="official"),
        "scaled pixels": blog.replace(scale_pixels=True),
    }


def what_if_links() -> dict[str, ExperimentConfig]:
    """Every link the benchmark opens, by a name that says what it is (no two alike)."""
    asked: dict[str, ExperimentConfig] = {f"what-if: {name}": config
                                         for name, config in one_knob_changes().items()}
    for name, (config, _) in PRESETS.items():
        for epochs in EPOCH_CUTS:
            asked[f"{name}, {epochs} epochs"] = config.replace(epochs=epochs, seeds=1)
        for seeds in SEED_CUTS:
            asked[f"{name}, {seeds} seed{'s' if seeds > 1 else ''}"] = config.replace(
                seeds=seeds)
    unique: dict[str, ExperimentConfig] = {}
    for name, config in asked.items():
        if config not in unique.values():
            unique[name] = config
    return unique


def measure(server: Server, url: str, timeout: float) -> tuple[float | None, bool, float, list]:
    """Open ``url`` alone: seconds to the charts (None if they never came), whether a
    training started, the server's CPU seconds meanwhile, and any problem seen."""
    before, cpu = len(server.started()), server.cpu_seconds()
    seen = asyncio.run(run_session(server.url, ProtocolSession(url.lstrip("/?")), timeout))
    return (seen.seconds_to_charts, len(server.started()) > before,
            server.cpu_seconds() - cpu, seen.problems)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--within", type=float, default=2.0,
                        help="seconds within which the charts count as at once")
    parser.add_argument("--timeout", type=float, default=8.0,
                        help="seconds to wait for a link's charts before giving up on it")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    links = what_if_links()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bnviz-whatif-") as tmp, \
            Server(Path(tmp) / "cache", Path(tmp) / "server.log") as server:
        measure(server, "/", 60)  # the first visit builds the job manager and reads the gallery
        _settle(server)
        for name, config in links.items():
            # The seeds always named: without, the blog's own settings would be the landing
            # page, which shows the gallery's 5-seed run itself, not a cut.
            url = link(config, run=False)
            if "seeds=" not in url:
                url += ("&" if url != "/?" else "") + f"seeds={config.seeds}"
            seconds, trained, cpu, problems = measure(server, url, args.timeout)
            at_once = seconds is not None and seconds <= args.within and not trained
            rows.append({"link": name, "url": url, "seconds": seconds, "trained": trained,
                         "server_cpu_seconds": round(cpu, 3), "at_once": at_once,
                         "problems": [p for p in problems if not p.startswith("no charts")]})
            print(f"  {'at once' if at_once else 'NOT    '} {seconds if seconds else '-':>6} "
                  f"{name}", flush=True)
            time.sleep(0.2)
        log = server.log()
    answered = [r for r in rows if r["at_once"]]
    times = [r["seconds"] for r in answered]
    figures = {
        "cpu": cpu_name(),
        "links": len(rows),
        "answered_at_once": len(answered),
        "share_answered_at_once": round(len(answered) / len(rows), 3),
        "p50_seconds": round(percentile(times, 0.5), 3) if times else None,
        "p95_seconds": round(percentile(times, 0.95), 3) if times else None,
        "max_seconds": round(max(times), 3) if times else None,
        "server_cpu_seconds_per_answer": round(
            sum(r["server_cpu_seconds"] for r in answered) / len(answered), 3)
        if answered else None,
        "trainings_started": sum(r["trained"] for r in rows),
        "exceptions_in_log": log.count("Traceback"),
        "not_answered": [r["link"] for r in rows if not r["at_once"]],
        "problems": sorted({p for r in rows for p in r["problems"]}),
    }
    print("\n== what-ifs at once")
    for key, value in figures.items():
        print(f"  {key:32s} {value}")
    if args.json:
        args.json.write_text(json.dumps({"figures": figures, "links": rows}, indent=2))


if __name__ == "__main__":
    main()
