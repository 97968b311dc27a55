"""The ``distinct`` scenario of `bench/load.py`: a class told "everyone try your own settings".

S websocket sessions (`bench.wsclient`), each from its own loopback address (127.0.0.2,
127.0.0.3, …: to the server, as many devices), open within ``window`` seconds, each its own
configuration with ``run=1``. A few are what-ifs the gallery holds (the blog's settings with
one knob moved, one seed: answered at once, cut from the stored run); the rest are distinct
configurations nobody trained. One server, ``BNVIZ_MAX_JOBS=1``, the default queue caps
(`bnviz.caps`).

Reported: the time until each session sees its result (p50, p95, max) and the order they
were served in against the order they asked; for every queued session the first estimated
wait it was shown ("it starts in about 40 s") against when its training really started
(from the server log); the sessions turned away by a cap, with what they were told; the
server tree's memory and the server's CPU; exceptions in the log; and sessions lost
(neither served nor told why).
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import random
import re
import time
from pathlib import Path

from bench.wsclient import ProtocolSession, run_session
from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.presets import WHAT_IFS
from tests.server import Server

LOGGED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO bnviz\.jobs: training "
                    r"(started|finished) config=(\w+)", re.MULTILINE)
STARTS_IN = re.compile(r"it starts in about (?:(\d+) h )?(\d+) (s|min)")
REFUSED = re.compile(r"as many as (it takes on|one address may have)")
GALLERY_WHAT_IFS = ("Batch size 128", "Learning rate 0.01", "Optimizer SGD",
                    "Normalisation layer", "Official test split")


def what_ifs(sessions: int, epochs: int, train_size: int, seed: int = 0) -> list[
        tuple[str, ExperimentConfig]]:
    """``sessions`` configurations, no two alike, shuffled: the gallery's what-ifs above (one
    seed, so cut from its 5-seed run) and, for the rest, small configurations of the blog's
    knobs that nobody trained."""
    rng = random.Random(seed)
    chosen = [(f"gallery: {name}", WHAT_IFS[name].replace(seeds=1))
              for name in GALLERY_WHAT_IFS[:max(0, min(len(GALLERY_WHAT_IFS), sessions // 6))]]
    knobs = [{"batch_size": size} for size in (16, 32, 48, 96, 128)] + \
        [{"learning_rate": rate} for rate in (3e-4, 2e-3, 5e-3)] + \
        [{"placement": "before"}, {"optimizer": "sgd", "learning_rate": 0.05}]
    index = 0
    while len(chosen) < sessions:
        knob = knobs[index % len(knobs)]
        config = ExperimentConfig(epochs=epochs, train_size=train_size, scale_pixels=True,
                                  seed=1 + index // len(knobs), **knob)
        chosen.append((f"own: {config.describe()}", config))
        index += 1
    rng.shuffle(chosen)
    return chosen


def _seconds(match: re.Match) -> float:
    hours, amount, unit = match.groups()
    return int(hours or 0) * 3600 + int(amount) * (60 if unit == "min" else 1)


def _logged_times(log: str, clock_offset: float) -> dict[str, dict[str, float]]:
    """Per config hash, when its training started and finished, on time.monotonic()'s clock
    (the log's local wall-clock time less ``clock_offset`` = time.time() − monotonic)."""
    times: dict[str, dict[str, float]] = {}
    for stamp, kind, key in LOGGED.findall(log):
        wall = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        times.setdefault(key, {})[kind] = wall - clock_offset
    return times


def _percentile(values: list[float], q: float) -> float | None:
    from bench.load import percentile

    return round(percentile(values, q), 2) if values else None


async def _class(base: str, asked: list[tuple[str, ExperimentConfig]], window: float,
                 timeout: float, seed: int) -> list[tuple[str, ExperimentConfig, float,
                                                          ProtocolSession]]:
    from bench.load import link

    rng = random.Random(seed)
    delays = sorted(rng.uniform(0, window) for _ in asked)

    async def one(index: int, name: str, config: ExperimentConfig, delay: float):
        await asyncio.sleep(delay)
        # A what-if the server holds opens as its link (Train would show it too); one of
        # a student's own settings is asked to train (run=1), as pressing Train does.
        own = not name.startswith("gallery")
        session = ProtocolSession(link(config, run=own).lstrip("/?"),
                                  source=f"127.0.0.{2 + index}", stop_on=REFUSED)
        return name, config, delay, await run_session(base, session, timeout)

    return list(await asyncio.gather(*(one(i, name, config, delay) for i, ((name, config),
                                                                          delay)
                                       in enumerate(zip(asked, delays, strict=True)))))


def scenario_distinct(workdir: Path, sessions: int = 30, window: float = 60.0,
                      epochs: int = 3, train_size: int = 256, seed: int = 0) -> dict:
    """Run the scenario; its figures (see the module's docstring)."""
    from bench.load import _sampling, _settle

    asked = what_ifs(sessions, epochs, train_size, seed)
    server = Server(workdir / "distinct-cache", workdir / "distinct.log",
                    env={"BNVIZ_MAX_JOBS": "1"})
    figures: dict = {"scenario": "distinct", "sessions": sessions, "window_s": window}
    try:
        _settle(server)
        cpu_before = server.cpu_seconds()
        clock_offset = time.time() - time.monotonic()
        with _sampling(server, interval=0.5) as memory:
            seen = asyncio.run(_class(server.url, asked, window,
                                      timeout=60 + sessions * 30 * max(1, epochs / 3), seed=seed))
        figures["server_cpu_s"] = round(server.cpu_seconds() - cpu_before, 1)
        figures.update({key: round(value) for key, value in memory.items()})
        log = server.log()
    finally:
        server.stop()
    times = _logged_times(log, clock_offset)
    served, refused, lost, errors, trained_order = [], [], [], [], []
    for name, config, _, session in seen:
        key = ComparisonRequest(config).config_hash()
        if session.seconds_to_charts is not None:
            served.append((name, session.seconds_to_charts))
        elif session.stopped_by is not None:
            refused.append(session.stopped_by)
        else:
            lost.append(f"{name}: {session.problems[:1]}")
        if key in times and "started" in times[key]:
            trained_order.append((session.opened_at, times[key]["started"]))
        estimate = next(((when, _seconds(match)) for when, body in session.alerts
                         if (match := STARTS_IN.search(body))), None)
        if estimate is not None and key in times and "started" in times[key]:
            shown_at, said = estimate
            waited = times[key]["started"] - shown_at
            if waited >= 5:  # a wait worth estimating
                errors.append(abs(shown_at + said - times[key]["started"]) / waited)
        queued = any("in the queue" in body for _, body in session.alerts)
        if queued and estimate is None and session.seconds_to_charts is not None:
            errors.append(float("nan"))  # waited in the queue without a figure
    waits = [seconds for _, seconds in served]
    at_once = [seconds for name, seconds in served if name.startswith("gallery")]
    starts = [start for _, start in sorted(trained_order)]
    figures.update({
        "served": len(served), "refused_by_a_cap": len(refused), "lost": len(lost),
        "lost_sessions": lost[:5],
        "wait_p50_s": _percentile(waits, 0.5), "wait_p95_s": _percentile(waits, 0.95),
        "wait_max_s": round(max(waits), 1) if waits else None,
        "gallery_what_ifs_max_s": round(max(at_once), 2) if at_once else None,
        "trainings": sum(1 for t in times.values() if "finished" in t),
        "served_out_of_asking_order": sum(1 for a, b in itertools.pairwise(starts)
                                          if b < a),
        "estimates_compared": sum(1 for e in errors if e == e),
        "queued_without_an_estimate": sum(1 for e in errors if e != e),
        "estimate_error_p50": _percentile([e for e in errors if e == e], 0.5),
        "estimate_error_p95": _percentile([e for e in errors if e == e], 0.95),
        "refusal_said": refused[0][:160] if refused else None,
        "log_tracebacks": log.count("Traceback"),
    })
    return figures
