"""Classroom load, restarts and memory, against a real ``streamlit run`` server on 127.0.0.1.

    .venv/bin/python bench/load.py                      # everything, classroom scale (~10 min)
    .venv/bin/python bench/load.py --sessions 8 --scenarios same,spread,stored   # a quick look
    .venv/bin/python bench/load.py --scenarios memory --memory-trainings 20 --default-comparison
    .venv/bin/python bench/load.py --scenarios lesson        # a class of 30 students (~1 min)

Scenarios (each starts its own server on a free port with a fresh temporary store):

* ``same``: N sessions open one untrained configuration with ``run=1`` within a few
  seconds. Exactly one ``training started config=<hash>`` line may appear in the server
  log, and every session must end up showing the results (charts drawn), with no
  exception and no error on any page.
* ``spread``: N sessions over K configurations with ``BNVIZ_MAX_JOBS`` trainings at
  once. From the server log's ``training started`` / ``training finished`` lines: each
  configuration trained once, and never more than the limit at once; sessions of
  waiting configurations are shown their queue position; all finish.
* ``stored``: N sessions open a configuration already in the store: p50 / p95 seconds
  from opening the link to the charts being drawn, and the server's CPU seconds per
  viewer; no training starts. Before them, one chromium page on the idle server times
  the first paint (the title drawn) and the first chart.
* ``landing``: N sessions open the app with no link, which shows the gallery's
  precomputed blog result (3 seeds): the same figures as ``stored``, and the first paint
  of the server's very first visit (which builds its job manager and starts the spare).
* ``restart``: one configuration finishes, a longer one is training when the server is
  SIGKILLed; its training process must exit on its own; the store holds the finished
  entry and no temporary file. A new server on the same store serves the finished one
  without training, does not show the interrupted one as finished, and trains it again
  when asked.
* ``memory``: M trainings of different configurations, one after another, in one
  server: the server's resident memory before, after the first and after the last; the
  largest resident size of the whole process tree (server and training processes).
  With ``--default-comparison`` also the blog's default comparison (100 epochs), whose
  peak must stay under 1 GB.
* ``distinct``: a class trying their own settings, each session its own configuration
  (`bench/distinct.py`): waits, serving order, estimated against real waits, the sessions a
  queue cap turned away and what they were told, memory, CPU. Not in the default run.
* ``lesson``: a live class (issue 25). A teacher's chromium page opens the class
  (``?lesson=batch-norm&teach=1``) and S websocket students (`bench.wsclass`, ``--students``)
  join with its code; they answer step 1's question within ``--answer-window`` seconds, with
  choices drawn from a fixed seed so the tally is known. The teacher's page must count
  "S of S"; after Reveal its tally caption, and every student's, must be exact; after each
  Next (``--moves``, at random moments) every student must receive the next step's title,
  p95 over all within 3 s of the click. Also the server's
  CPU seconds per student (join to Next), what following costs it while the class waits, its
  resident memory, and any exception, error or warning on a page or traceback in its log.

How sessions connect, and why: the thirty sessions speak Streamlit's own websocket
protocol (`bench.wsclient`: the same messages a tab exchanges, including the live
fragment's once-a-second reruns), and a few real chromium pages (``--observers``,
Playwright driving Debian's chromium, one context each) open alongside them and time
when the charts are *drawn*. Thirty chromium pages were tried first (``--client
browser``): on two cores the browser itself took the machine (each page parses the
frontend and draws the full results page), page loads timed out after 60 s and the
figures measured chromium, not the server; in a classroom each student's browser runs
on its own machine. The websocket sessions load the server exactly as tabs do, and the
observers show what a student sees under that load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402  (after the path set-up)
from bnviz.config import ExperimentConfig  # noqa: E402  (after the path set-up)
from tests.server import CHROMIUM, CHROMIUM_ARGS, STARTED, Server  # noqa: E402

EVENT = re.compile(r"training (started|finished) config=(\w+)")
RESULTS_CHART = "[data-testid='stTabs'] [data-testid='stVegaLiteChart']"
QUEUE_TEXT = re.compile(r"place (\d+) in the queue")


def max_concurrent(log: str) -> int:
    """Most trainings running at once, from the order of started / finished log lines."""
    running, peak = set(), 0
    for kind, key in EVENT.findall(log):
        if kind == "started":
            running.add(key)
            peak = max(peak, len(running))
        else:
            running.discard(key)
    return peak


def gone(process: psutil.Process) -> bool:
    """True once ``process`` has exited (a zombie waiting for its reaper counts as exited)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- sessions (browser pages) -------------------------------------------------------


@dataclass
class Session:
    """What one simulated student saw."""

    index: int
    link: str
    client: str = "chromium"  # or "websocket"
    opened_at: float = 0.0
    seconds_to_charts: float | None = None
    queue_places: set[int] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def link(config: ExperimentConfig, run: bool) -> str:
    """The page's link for ``config`` (only the fields that differ from the defaults)."""
    default = ExperimentConfig().to_mapping()
    query = {k: v for k, v in config.to_mapping().items() if default[k] != v}
    if run:
        query["run"] = "1"
    return "/?" + urllib.parse.urlencode(query)


async def _problems(page) -> list[str]:
    found = []
    if await page.locator("[data-testid='stException']").count():
        found.append("exception: " + " ".join(
            await page.locator("[data-testid='stException']").all_inner_texts())[:300])
    if await page.locator("[data-testid='stAlertContentError']").count():
        found.append("error: " + " ".join(
            await page.locator("[data-testid='stAlertContentError']").all_inner_texts())[:300])
    return found


async def _watch(browser, base: str, session: Session, delay: float, timeout: float,
                 poll: float) -> Session:
    """Open the link after ``delay`` seconds and watch until the results' charts are drawn."""
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        session.opened_at = time.monotonic()
        await page.goto(base + session.link, wait_until="domcontentloaded", timeout=60_000)
        chart = page.locator(RESULTS_CHART).locator("canvas, svg").first
        deadline = session.opened_at + timeout
        while True:
            try:
                await chart.wait_for(state="attached", timeout=poll * 1000)
                session.seconds_to_charts = time.monotonic() - session.opened_at
                break
            except Exception:  # not drawn yet: look at what the page says meanwhile
                pass
            for text in await page.locator("[data-testid='stAlertContentInfo']").all_inner_texts():
                session.queue_places.update(int(m) for m in QUEUE_TEXT.findall(text))
            session.problems += [p for p in await _problems(page) if p not in session.problems]
            if session.problems or time.monotonic() > deadline:
                break
        session.problems += [p for p in await _problems(page) if p not in session.problems]
        if session.seconds_to_charts is None and not session.problems:
            session.problems.append(f"no charts after {timeout:.0f} s")
    except Exception as error:  # a page that cannot even load is a failed session
        session.problems.append(f"{type(error).__name__}: {str(error)[:200]}")
    finally:
        await context.close()
    return session


async def _sessions(base: str, links: list[str], spread: float, timeout: float,
                    poll: float, seed: int, client: str, observers: int) -> list[Session]:
    from playwright.async_api import async_playwright

    from bench.wsclient import ProtocolSession, run_session

    rng = random.Random(seed)
    delays = [rng.uniform(0, spread) for _ in links]
    observer_links = [links[i % len(links)] for i in range(observers)]
    observer_delays = [rng.uniform(0, spread) for _ in observer_links]

    async def protocol(index: int, url: str, delay: float) -> Session:
        await asyncio.sleep(delay)
        seen = await run_session(base, ProtocolSession(url.lstrip("/?")), timeout)
        return Session(index, url, "websocket", seen.opened_at, seen.seconds_to_charts,
                       seen.queue_places, seen.problems)

    async with async_playwright() as playwright:
        browser = None
        if client == "browser" or observers:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
        try:
            tasks = [
                _watch(browser, base, Session(i, url, "chromium"), delay, timeout, poll)
                if client == "browser" else protocol(i, url, delay)
                for i, (url, delay) in enumerate(zip(links, delays, strict=True))]
            tasks += [_watch(browser, base, Session(len(links) + i, url, "chromium"), delay,
                             timeout, poll)
                      for i, (url, delay) in enumerate(zip(observer_links, observer_delays,
                                                           strict=True))]
            return list(await asyncio.gather(*tasks))
        finally:
            if browser is not None:
                await browser.close()


def open_sessions(base: str, links: list[str], spread: float = 3.0, timeout: float = 300,
                  poll: float = 0.5, seed: int = 0, client: str = "browser",
                  observers: int = 0) -> list[Session]:
    """Open every link as its own session, all within ``spread`` seconds.

    ``client`` is "browser" (a chromium context per link) or "websocket" (Streamlit's
    protocol, see `bench.wsclient`); ``observers`` more chromium pages open alongside.
    """
    return asyncio.run(_sessions(base, links, spread, timeout, poll, seed, client, observers))


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, linearly interpolated."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- scenarios ---------------------------------------------------------------------------


def tiny(epochs: int, train_size: int, seed: int = 1) -> ExperimentConfig:
    """A configuration that trains in seconds."""
    return ExperimentConfig(epochs=epochs, train_size=train_size, seed=seed, scale_pixels=True)


def _served(seen: list[Session], prefix: str = "") -> dict:
    """Counts of sessions with charts and with problems, per client kind."""
    out = {}
    for client in sorted({s.client for s in seen}):
        group = [s for s in seen if s.client == client]
        out[f"{prefix}{client}_sessions"] = len(group)
        out[f"{prefix}{client}_with_charts"] = sum(s.seconds_to_charts is not None for s in group)
    out["sessions_with_charts"] = sum(s.seconds_to_charts is not None for s in seen)
    out["sessions_with_problems"] = sum(bool(s.problems) for s in seen)
    out["problems"] = sorted({p for s in seen for p in s.problems})[:5]
    return out


def scenario_same(workdir: Path, sessions: int, epochs: int, train_size: int,
                  spread: float, max_jobs: int = 1, client: str = "websocket",
                  observers: int = 0) -> dict:
    """N sessions, one untrained configuration, ``run=1``: one training, everyone served."""
    config = tiny(epochs, train_size, seed=11)
    with Server(workdir / "cache-same", workdir / "same.log", max_jobs) as server:
        seen = open_sessions(server.url, [link(config, run=True)] * sessions, spread,
                             client=client, observers=observers)
        log = server.log()
    return {
        "scenario": "same", "sessions": len(seen), "config": config.config_hash(),
        "trainings_started": len(STARTED.findall(log)),
        "trainings_of_config": STARTED.findall(log).count(config.config_hash()),
        **_served(seen),
        "seconds_to_charts_max": max((s.seconds_to_charts or 0) for s in seen),
    }


def scenario_spread(workdir: Path, sessions: int, configs: int, epochs: int, train_size: int,
                    spread: float, max_jobs: int, client: str = "websocket",
                    observers: int = 0) -> dict:
    """N sessions over K configurations, at most ``max_jobs`` trainings at once."""
    chosen = [tiny(epochs, train_size, seed=20 + i) for i in range(configs)]
    links = [link(chosen[i % configs], run=True) for i in range(sessions)]
    with Server(workdir / "cache-spread", workdir / "spread.log", max_jobs) as server:
        seen = open_sessions(server.url, links, spread, timeout=600, client=client,
                             observers=observers)
        log = server.log()
    started = STARTED.findall(log)
    return {
        "scenario": "spread", "sessions": len(seen), "configs": configs, "max_jobs": max_jobs,
        "trainings_started": len(started),
        "each_config_trained_once": sorted(started) == sorted(c.config_hash() for c in chosen),
        "max_concurrent": max_concurrent(log),
        "sessions_shown_queue_place": sum(bool(s.queue_places) for s in seen),
        "queue_places_seen": sorted({p for s in seen for p in s.queue_places}),
        **_served(seen),
    }


async def _first_paint(base: str, url: str, timeout: float = 60) -> dict:
    """One chromium page on an idle server: seconds to the title drawn and to the first
    results chart drawn."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            opened = time.monotonic()
            await page.goto(base + url, wait_until="commit", timeout=timeout * 1000)
            await page.locator("h1").first.wait_for(timeout=timeout * 1000)
            title = time.monotonic() - opened
            await page.locator(RESULTS_CHART).locator("canvas, svg").first.wait_for(
                timeout=timeout * 1000)
            return {"first_paint_seconds": round(title, 2),
                    "first_chart_seconds": round(time.monotonic() - opened, 2)}
        finally:
            await browser.close()


def _settle(server: Server, timeout: float = 90) -> None:
    """Wait until the server and its processes (the warm spare's start-up) are idle: less
    than 5 % of a core over a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(_cpu(p) for p in server.tree())
        time.sleep(1.0)
        if sum(_cpu(p) for p in server.tree()) - before < 0.05:
            return


def _cpu(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return times.user + times.system
    except psutil.NoSuchProcess:
        return 0.0


def _viewers(server: Server, url: str, sessions: int, spread: float, client: str,
             observers: int, name: str, cold: bool = False) -> dict:
    """First paint on the idle server (and on its first visit, if ``cold``), then N
    sessions opening ``url`` within ``spread`` seconds: time to the charts per client
    kind, and the server's CPU seconds per viewer."""
    out = {"scenario": name}
    if cold:  # the first visit of a freshly started server: it builds its job manager
        out.update({f"cold_{k}": v for k, v in asyncio.run(_first_paint(server.url, url)).items()})
    _settle(server)
    out.update(asyncio.run(_first_paint(server.url, url)))
    _settle(server)
    before, cpu_before = len(server.started()), server.cpu_seconds()
    seen = open_sessions(server.url, [url] * sessions, spread, client=client,
                         observers=observers)
    out["server_cpu_seconds_per_viewer"] = round(
        (server.cpu_seconds() - cpu_before) / len(seen), 3)
    out.update({"sessions": len(seen), **_served(seen),
                "trainings_started_while_serving": len(server.started()) - before})
    for kind in sorted({s.client for s in seen}):
        times = [s.seconds_to_charts for s in seen
                 if s.client == kind and s.seconds_to_charts is not None]
        if times:
            out[f"{kind}_p50_seconds"] = round(percentile(times, 0.5), 2)
            out[f"{kind}_p95_seconds"] = round(percentile(times, 0.95), 2)
            out[f"{kind}_max_seconds"] = round(max(times), 2)
    return out


def scenario_stored(workdir: Path, sessions: int, epochs: int, train_size: int,
                    spread: float, client: str = "websocket", observers: int = 0) -> dict:
    """N sessions opening a stored configuration: time until the charts arrive / are drawn."""
    config = tiny(epochs, train_size, seed=31)
    with Server(workdir / "cache-stored", workdir / "stored.log") as server:
        first = open_sessions(server.url, [link(config, run=True)], 0)[0]
        if first.seconds_to_charts is None:
            raise RuntimeError(f"could not store the configuration: {first.problems}")
        return _viewers(server, link(config, run=False), sessions, spread, client, observers,
                        "stored")


def scenario_landing(workdir: Path, sessions: int, spread: float, client: str = "websocket",
                     observers: int = 0) -> dict:
    """N sessions opening the app with no link: the gallery's blog result (3 seeds)."""
    with Server(workdir / "cache-landing", workdir / "landing.log") as server:
        return _viewers(server, "/", sessions, spread, client, observers, "landing", cold=True)


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _page_state(base: str, url: str) -> str:
    """What one page shows for ``url``: 'results', 'idle' (press Train), or the problem."""
    async def look() -> str:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            page = await browser.new_page()
            await page.goto(base + url)
            results = page.locator(RESULTS_CHART).locator("canvas, svg").first
            # The main area's hint (not the sidebar's caption) says nothing is stored.
            idle = page.locator("[data-testid='stAlertContentInfo']").filter(
                has_text="press Train").first
            training = page.get_by_text("Training both models", exact=False).first
            state = "nothing"
            for _ in range(120):
                problems = await _problems(page)
                if problems:
                    state = "; ".join(problems)
                    break
                if await results.count():
                    state = "results"
                    break
                if await training.count():
                    state = "training"
                    break
                if await idle.count():
                    state = "idle"
                    break
                await asyncio.sleep(0.25)
            await browser.close()
            return state

    return asyncio.run(look())


def scenario_restart(workdir: Path, epochs: int, train_size: int, long_epochs: int) -> dict:
    """Kill the server mid-training, start it again on the same store, check what it serves."""
    finished, interrupted = tiny(epochs, train_size, seed=41), tiny(long_epochs, train_size, 42)
    cache = workdir / "cache-restart"
    out: dict = {"scenario": "restart"}
    server = Server(cache, workdir / "restart-1.log")
    try:
        first = open_sessions(server.url, [link(finished, run=True)], 0)[0]
        if first.seconds_to_charts is None:
            raise RuntimeError(f"first training did not finish: {first.problems}")

        async def start_long() -> None:
            from playwright.async_api import async_playwright

            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=CHROMIUM_ARGS)
                page = await browser.new_page()
                await page.goto(server.url + link(interrupted, run=True))
                # Kill once at least one epoch is done: the training is well under way.
                await page.get_by_text(re.compile(r"epoch [1-9]\d* of")).first.wait_for(
                    timeout=180_000)
                await browser.close()

        asyncio.run(start_long())
        workers = [p for p in server.tree()[1:] if "bnviz.worker" in " ".join(p.cmdline())]
        out["workers_at_kill"] = len(workers)
        orphans = server.kill()
        started = time.monotonic()
        try:
            _wait(lambda: all(gone(p) for p in orphans), 20, "the training processes to exit")
            out["orphans_exited_seconds"] = round(time.monotonic() - started, 1)
        except RuntimeError:
            out["orphans_exited_seconds"] = None
            for process in orphans:
                if not gone(process):
                    process.kill()
    finally:
        server.stop()
    names = sorted(p.name for p in cache.iterdir())
    out["store_after_kill"] = names
    out["finished_in_store"] = f"{finished.config_hash()}.npz" in names
    out["interrupted_in_store"] = f"{interrupted.config_hash()}.npz" in names
    out["temporary_files"] = [n for n in names if n.endswith(".tmp")]
    with Server(cache, workdir / "restart-2.log") as again:
        out["finished_after_restart"] = _page_state(again.url, link(finished, run=False))
        out["trainings_for_finished"] = again.started().count(finished.config_hash())
        out["interrupted_after_restart"] = _page_state(again.url, link(interrupted, run=False))
        retrain = open_sessions(again.url, [link(interrupted, run=True)], 0, timeout=600)[0]
        out["interrupted_trained_again"] = retrain.seconds_to_charts is not None
        out["trainings_for_interrupted"] = again.started().count(interrupted.config_hash())
    names = sorted(p.name for p in cache.iterdir())
    out["temporary_files"] += [n for n in names if n.endswith(".tmp")]
    out["store_at_end"] = names
    return out


@contextmanager
def sampling(sample: Callable[[], None], interval: float) -> Iterator[None]:
    """Call ``sample()`` every ``interval`` seconds in a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            sample()
            stop.wait(interval)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def _sampling(server: Server, interval: float = 0.2) -> Iterator[dict]:
    """Record the largest resident size of the server's process tree (summed) and of any
    single training process meanwhile. Summed RSS counts shared libraries once per process,
    so it overstates the tree a little; the single-process peak does not."""
    figures = {"tree_peak_mb": 0.0, "training_process_peak_mb": 0.0}

    def sample() -> None:
        figures["tree_peak_mb"] = max(figures["tree_peak_mb"], server.tree_rss_mb())
        for child in server.tree()[1:]:
            try:
                rss = child.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
            figures["training_process_peak_mb"] = max(figures["training_process_peak_mb"], rss)

    with sampling(sample, interval):
        yield figures


def scenario_memory(workdir: Path, trainings: int, epochs: int, train_size: int,
                    default_comparison: bool, settle: float = 0.0) -> dict:
    """Many different trainings in one server: does its resident memory stay flat?

    Each training is asked for by a websocket session that stays until its charts
    arrive. After the last, the server is left idle for ``settle`` seconds (Streamlit
    keeps a closed session's state and media for ``server.disconnectedSessionTTL``,
    120 s by default) and measured again.
    """
    out: dict = {"scenario": "memory", "trainings": trainings}
    with Server(workdir / "cache-memory", workdir / "memory.log") as server:
        time.sleep(5)  # let the spare training process finish its warm-up
        out["server_before_mb"] = round(server.rss_mb(), 1)
        after = []
        with _sampling(server) as sampled:
            for index in range(trainings):
                config = tiny(epochs, train_size, seed=100 + index).replace(
                    placement=("after", "before")[index % 2])
                seen = open_sessions(server.url, [link(config, run=True)], 0, timeout=600,
                                     client="websocket")[0]
                if seen.seconds_to_charts is None:
                    raise RuntimeError(f"training {index} failed: {seen.problems}")
                after.append(server.rss_mb())
        out["server_after_each_mb"] = [round(v) for v in after]
        out["server_after_first_mb"] = round(after[0], 1)
        out["server_after_last_mb"] = round(after[-1], 1)
        out["server_growth_first_to_last_mb"] = round(after[-1] - after[0], 1)
        out["tree_peak_mb"] = round(sampled["tree_peak_mb"], 1)
        out["training_process_peak_mb"] = round(sampled["training_process_peak_mb"], 1)
        out["trainings_started"] = len(server.started())
        if default_comparison:
            with _sampling(server) as sampled:
                seen = open_sessions(server.url, [link(ExperimentConfig(), run=True)], 0,
                                     timeout=1800, client="websocket")[0]
            out["default_comparison_ok"] = seen.seconds_to_charts is not None
            out["default_comparison_tree_peak_mb"] = round(sampled["tree_peak_mb"], 1)
            out["default_comparison_training_process_peak_mb"] = round(
                sampled["training_process_peak_mb"], 1)
            out["server_after_default_mb"] = round(server.rss_mb(), 1)
        if settle:
            time.sleep(settle)
            out[f"server_after_{settle:.0f}s_idle_mb"] = round(server.rss_mb(), 1)
    return out


# -- a live class ----------------------------------------------------------------------


LESSON = "batch-norm"  # the built-in lesson a class is opened for
FOLLOW_LIMIT_SECONDS = 3.0  # issue 25: followers' step change p95 at most this
# bnviz's own warnings in the server's log ("2026-12-01 13:38:52,129 WARNING bnviz.rooms: ..."),
# such as a room file read as damaged: the page may hide them, the class would not.
LOGGED_PROBLEM = re.compile(r"^\S+ \S+ (?:WARNING|ERROR|CRITICAL) .*$", re.M)


def tally_text(answers: list[str], counts: list[int]) -> str:
    """The caption the page writes under the class's answers (``ui.lesson._show_tally``)."""
    return ("The class's answers: " + "; ".join(
        f"{answer}, {count}" for answer, count in zip(answers, counts, strict=True))
        + f" ({sum(counts)} in all).")


def _spread(values: list[float]) -> dict:
    """p50 / p95 / max of ``values`` in seconds, rounded (empty: nothing measured)."""
    if not values:
        return {"p50": None, "p95": None, "max": None}
    return {"p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2),
            "max": round(max(values), 2)}


async def _class(server: Server, students: int, window: float, moves: int, seed: int,
                 timeout: float, settle: bool = True,
                 logged_problem: re.Pattern = LOGGED_PROBLEM) -> dict:
    """The teacher's chromium page and ``students`` websocket students in one class: join,
    answer within ``window`` seconds, Reveal, then Next ``moves`` times; the figures of
    `scenario_lesson`; at the end the teacher ends the class. Without ``settle`` the class
    starts at once (a soak's server is never idle). The server's log is read from the class's
    start: its tracebacks, and the lines ``logged_problem`` matches."""
    from contextlib import AsyncExitStack, suppress

    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    from bench.wsclass import ClassStudent
    from bnviz.lessons import lesson

    taught = lesson(LESSON)
    first = taught.steps[0]
    if not 1 <= moves < len(taught.steps):
        raise ValueError(f"{LESSON} has {len(taught.steps)} steps: 1 to "
                         f"{len(taught.steps) - 1} moves")
    answers = [choice.text for choice in first.question.choices]
    rng = random.Random(seed)
    choices = [rng.randrange(len(answers)) for _ in range(students)]
    delays = [rng.uniform(0, window) for _ in range(students)]
    expected = [choices.count(i) for i in range(len(answers))]
    log_start = len(server.log())
    out: dict = {"scenario": "lesson", "students": students, "answer_window_seconds": window,
                 "expected_tally": dict(zip(answers, expected, strict=True))}
    cpu: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        """Book the server's CPU seconds since ``since`` under ``name``; the new mark."""
        now = server.cpu_seconds()
        cpu[name] = round(now - since, 2)
        return now

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            teacher = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await teacher.goto(f"{server.url}/?lesson={LESSON}&teach=1", timeout=timeout * 1000)
            await teacher.wait_for_url("**key=**", timeout=timeout * 1000)
            code = urllib.parse.parse_qs(urllib.parse.urlparse(teacher.url).query)["room"][0]
            out["room"] = code
            await teacher.get_by_text(f"Class {code}").first.wait_for(timeout=timeout * 1000)
            metric = teacher.locator("[data-testid='stMetricValue']").first
            # The first visit builds the job manager and starts the warm spare: let it pass, so
            # the figures are the class's.
            if settle:
                await asyncio.to_thread(_settle, server)
            started = mark = server.cpu_seconds()
            run_started = time.monotonic()

            async with AsyncExitStack() as stack:
                pupils = [await stack.enter_async_context(ClassStudent(server.url, code, i))
                          for i in range(students)]
                joined = await asyncio.gather(*(p.wait_for(
                    lambda p=p: p.title == first.title and p.question is not None, timeout,
                    f"step 1 ({first.title!r}) with its question") for p in pupils))
                out["students_joined"] = sum(joined)
                out["join_seconds"] = round(time.monotonic() - run_started, 2)
                # Not there in time: the metric's text says what the teacher's page counted.
                with suppress(PlaywrightTimeout):
                    await teacher.get_by_text(f"0 of {students}", exact=True).first.wait_for(
                        timeout=timeout * 1000)
                out["teacher_joined_metric"] = await metric.inner_text()
                mark = phase("join", mark)

                async def answer_later(pupil: ClassStudent, choice: int,
                                       delay: float) -> float | None:
                    await asyncio.sleep(delay)
                    return await pupil.answer(choice, timeout)

                took = await asyncio.gather(*(answer_later(p, c, d) for p, c, d in
                                              zip(pupils, choices, delays, strict=True)))
                sent = [p.answer_sent for p in pupils if p.answer_sent is not None]
                out["answers_sent_within_seconds"] = round(max(sent) - min(sent), 2) \
                    if sent else None
                out["answers_confirmed"] = sum(t is not None for t in took)
                out["answer_seconds"] = _spread([t for t in took if t is not None])
                with suppress(PlaywrightTimeout):
                    await teacher.get_by_text(f"{students} of {students}", exact=True) \
                        .first.wait_for(timeout=timeout * 1000)
                out["teacher_answered_metric"] = await metric.inner_text()
                mark = phase("answer", mark)

                # Each time is taken before the click, so Playwright's own work is counted
                # against the server, never in its favour.
                revealed = time.monotonic()
                await teacher.get_by_role("button", name="Reveal").click()
                caption = teacher.get_by_text("The class's answers: ").first
                await caption.wait_for(timeout=timeout * 1000)
                shown = await caption.inner_text()
                want = tally_text(answers, expected)
                out["teacher_tally"] = shown
                out["tally_exact"] = shown.strip() == want
                await asyncio.gather(*(p.wait_for(lambda p=p: p.tally(revealed) is not None,
                                                  timeout, "tally caption") for p in pupils))
                out["students_with_exact_tally"] = sum(p.tally(revealed) == want
                                                       for p in pupils)
                out["reveal_seconds"] = _spread(
                    [next(at for at, _ in p.tallies if at >= revealed) - revealed
                     for p in pupils if p.tally(revealed) is not None])
                await asyncio.sleep(3)  # the reveal's page is drawn; the class looks at it
                mark = phase("reveal", mark)

                # A page follows at its fragment's next tick, so one click samples one moment of
                # the pages' timers (and the reveal's reruns left them nearly in step): each
                # further Next comes at a random moment, and the times of all moves are pooled.
                follow, by_move, teacher_next, followed = [], [], [], students
                for move, step in enumerate(taught.steps[1:moves + 1]):
                    if move:
                        await asyncio.sleep(rng.uniform(1.0, 2.0))
                    clicked = time.monotonic()
                    await teacher.get_by_role("button", name="Next").click()
                    await asyncio.gather(*(p.wait_for(
                        lambda p=p, step=step, clicked=clicked:
                            p.arrived(step.title, clicked) is not None,
                        timeout, f"step {move + 2} ({step.title!r})") for p in pupils))
                    arrived = [p.arrived(step.title, clicked) for p in pupils]
                    await teacher.get_by_role("heading", name=step.title).first.wait_for(
                        timeout=timeout * 1000)
                    teacher_next.append(round(time.monotonic() - clicked, 2))
                    times = [at - clicked for at in arrived if at is not None]
                    followed = min(followed, len(times))
                    follow += times
                    by_move.append(_spread(times))
                out["moves"] = len(by_move)
                out["students_followed"] = followed
                out["follow_seconds"] = _spread(follow)
                out["follow_p50_p95_by_move"] = [(m["p50"], m["p95"]) for m in by_move]
                out["teacher_next_seconds"] = teacher_next
                mark = phase("next", mark)
                out["run_seconds"] = round(time.monotonic() - run_started, 1)
                out["server_cpu_seconds"] = round(mark - started, 2)
                out["server_cpu_seconds_per_student"] = round((mark - started) / students, 3)
                out["server_cpu_seconds_by_phase"] = cpu

                # A class mostly waits on a step: every page's follow fragment re-reads the
                # room once a second. What that costs the server, as a share of one core.
                idle = 10.0
                await asyncio.sleep(idle)
                out["following_server_cores"] = round((server.cpu_seconds() - mark) / idle, 3)
                out["runs_per_student_max"] = max(p.runs for p in pupils)
                problems = [f"student {p.index}: {problem}" for p in pupils
                            for problem in p.problems]
            problems += [f"teacher: {problem}" for problem in await _problems(teacher)]
            # Ended, a class stops counting against the server's limit of running classes.
            await teacher.get_by_role("button", name="End the class").click()
            await teacher.get_by_role("button", name="End it for everyone").click()
            await teacher.get_by_text("has ended").first.wait_for(timeout=timeout * 1000)
        finally:
            await browser.close()
    log = server.log()[log_start:]
    tracebacks = log.count("Traceback")
    if tracebacks:
        problems.append(f"server log: {tracebacks} traceback(s)")
    problems += [f"server log: {line[:200]}" for line in logged_problem.findall(log)]
    out["students_with_problems"] = len({p.split(":")[0] for p in problems
                                         if p.startswith("student")})
    out["problems"] = problems[:8]
    return out


def scenario_lesson(workdir: Path, students: int = 30, window: float = 10.0, moves: int = 3,
                    seed: int = 25, timeout: float = 60) -> dict:
    """A live class: a teacher's chromium page and ``students`` websocket students answer
    within ``window`` seconds; the tally, how fast the students follow ``moves`` clicks of
    Next, the server's cost.
    """
    figures: dict = {}
    with Server(workdir / "cache-lesson", workdir / "lesson.log") as server:
        def sample() -> None:
            figures["server_rss_peak_mb"] = max(figures.get("server_rss_peak_mb", 0.0),
                                                server.rss_mb())

        with sampling(sample, 0.2):
            out = asyncio.run(_class(server, students, window, moves, seed, timeout))
        out["server_rss_mb"] = round(server.rss_mb(), 1)
        out["server_rss_peak_mb"] = round(figures["server_rss_peak_mb"], 1)
    return out


# -- the report ------------------------------------------------------------------------


def check(result: dict, max_jobs: int) -> list[str]:
    """What a scenario's figures break of the issue's promises (empty: all kept)."""
    failures = []
    kind = result["scenario"]
    if kind in ("same", "spread", "stored", "landing"):
        if result["sessions_with_charts"] != result["sessions"]:
            failures.append(f"{kind}: {result['sessions'] - result['sessions_with_charts']} "
                            "session(s) never showed the charts")
        if result["sessions_with_problems"]:
            failures.append(f"{kind}: problems on pages: {result['problems']}")
    if kind == "same" and (result["trainings_of_config"], result["trainings_started"]) != (1, 1):
        failures.append(f"same: {result['trainings_started']} trainings started, expected 1")
    if kind == "spread":
        if not result["each_config_trained_once"]:
            failures.append("spread: a configuration was not trained exactly once")
        if result["max_concurrent"] > max_jobs:
            failures.append(f"spread: {result['max_concurrent']} trainings at once, "
                            f"limit {max_jobs}")
        if result["configs"] > max_jobs and not result["sessions_shown_queue_place"]:
            failures.append("spread: no session was shown its queue position")
    if kind in ("stored", "landing") and result["trainings_started_while_serving"]:
        failures.append(f"{kind}: serving a finished configuration started a training")
    if kind == "restart":
        expected = {"finished_in_store": True, "interrupted_in_store": False,
                    "temporary_files": [], "finished_after_restart": "results",
                    "trainings_for_finished": 0, "interrupted_after_restart": "idle",
                    "interrupted_trained_again": True, "trainings_for_interrupted": 1}
        failures += [f"restart: {key} is {result[key]!r}, expected {value!r}"
                     for key, value in expected.items() if result[key] != value]
        if result["orphans_exited_seconds"] is None:
            failures.append("restart: a training process outlived the killed server")
    if kind == "memory" and result.get("default_comparison_training_process_peak_mb",
                                       0) >= 1024:
        failures.append("memory: the default comparison's training process used 1 GB or more")
    if kind == "lesson":
        failures += _lesson_failures(result)
    if kind == "distinct":
        if result["lost"]:
            failures.append(f"distinct: {result['lost']} session(s) neither served nor told "
                            f"why: {result['lost_sessions']}")
        if result["log_tracebacks"]:
            failures.append(f"distinct: {result['log_tracebacks']} traceback(s) in the log")
        if result["queued_without_an_estimate"]:
            failures.append(f"distinct: {result['queued_without_an_estimate']} session(s) "
                            "waited in the queue without an estimate")
        if result["estimate_error_p50"] is not None and result["estimate_error_p50"] > 0.25:
            failures.append(f"distinct: the median estimate was off by "
                            f"{result['estimate_error_p50']:.0%} (goal: within 25 %)")
    return failures


def _lesson_failures(result: dict) -> list[str]:
    """What a ``lesson`` run breaks of issue 25: an exact tally on the teacher's page and on
    every student's, every student answered and followed Next with p95 within the limit, and
    no problem anywhere."""
    failures = []
    students = result["students"]
    counted = {"students_joined": "joined step 1", "answers_confirmed": "had the answer taken",
               "students_with_exact_tally": "saw the exact tally",
               "students_followed": "followed every Next"}
    failures += [f"lesson: only {result[key]} of {students} students {what}"
                 for key, what in counted.items() if result[key] != students]
    if (result["answers_sent_within_seconds"] or 0) > result["answer_window_seconds"]:
        failures.append(f"lesson: the answers took {result['answers_sent_within_seconds']} s "
                        f"to send, not within {result['answer_window_seconds']} s")
    if not result["tally_exact"]:
        failures.append(f"lesson: the teacher's tally reads {result['teacher_tally']!r}, "
                        f"expected {result['expected_tally']}")
    for key, want in (("teacher_joined_metric", f"0 of {students}"),
                      ("teacher_answered_metric", f"{students} of {students}")):
        if result[key] != want:
            failures.append(f"lesson: the teacher's page showed {result[key]!r} answered, "
                            f"expected {want!r}")
    p95 = result["follow_seconds"]["p95"]
    if p95 is None or p95 > FOLLOW_LIMIT_SECONDS:
        failures.append(f"lesson: students followed Next with p95 {p95} s, limit "
                        f"{FOLLOW_LIMIT_SECONDS} s")
    if result["problems"]:
        failures.append(f"lesson: problems: {result['problems']}")
    return failures



def print_figures(title: str, figures: dict, skip: tuple[str, ...] = ()) -> None:
    """A scenario's figures, one per line under its title, as they are measured."""
    print(f"\n== {title}")
    for key, value in figures.items():
        if key not in skip:
            shown = f"{value:.2f}" if isinstance(value, float) else value
            print(f"  {key:34s} {shown}")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios",
                        default="same,spread,stored,landing,restart,memory,lesson",
                        help="comma-separated: same, spread, stored, landing, restart, memory, "
                             "lesson, distinct (not in the default: a class's own settings, "
                             "bench/distinct.py)")
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--students", type=int, default=30, help="students in 'lesson'")
    parser.add_argument("--answer-window", type=float, default=10.0,
                        help="in 'lesson', the students answer within this many seconds")
    parser.add_argument("--moves", type=int, default=3,
                        help="in 'lesson', how many times the teacher clicks Next")
    parser.add_argument("--configs", type=int, default=5, help="configurations in 'spread'")
    parser.add_argument("--max-jobs", type=int, default=2, help="BNVIZ_MAX_JOBS in 'spread'")
    parser.add_argument("--spread", type=float, default=3.0,
                        help="sessions open within this many seconds")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=256)
    parser.add_argument("--long-epochs", type=int, default=60,
                        help="epochs of the training killed in 'restart'")
    parser.add_argument("--memory-trainings", type=int, default=20)
    parser.add_argument("--default-comparison", action="store_true",
                        help="in 'memory', also train the blog's default comparison")
    parser.add_argument("--client", choices=("websocket", "browser"), default="websocket",
                        help="how the sessions connect: Streamlit's websocket protocol, or "
                             "a chromium context each")
    parser.add_argument("--observers", type=int, default=3,
                        help="chromium pages opened alongside the sessions, timing the drawing")
    parser.add_argument("--settle", type=float, default=150,
                        help="in 'memory', idle seconds before the last measurement")
    parser.add_argument("--window", type=float, default=60.0,
                        help="in 'distinct', the sessions open within this many seconds")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} not found: apt-get install chromium")

    results, failures = [], []
    with tempfile.TemporaryDirectory(prefix="bnviz-load-") as tmp:
        workdir = Path(tmp)
        for name in args.scenarios.split(","):
            started = time.monotonic()
            if name == "same":
                result = scenario_same(workdir, args.sessions, args.epochs, args.train_size,
                                       args.spread, 1, args.client, args.observers)
            elif name == "spread":
                result = scenario_spread(workdir, args.sessions, args.configs, args.epochs,
                                         args.train_size, args.spread, args.max_jobs,
                                         args.client, args.observers)
            elif name == "stored":
                result = scenario_stored(workdir, args.sessions, args.epochs, args.train_size,
                                         args.spread, args.client, args.observers)
            elif name == "landing":
                result = scenario_landing(workdir, args.sessions, args.spread, args.client,
                                          args.observers)
            elif name == "restart":
                result = scenario_restart(workdir, args.epochs, args.train_size,
                                          args.long_epochs)
            elif name == "memory":
                result = scenario_memory(workdir, args.memory_trainings, args.epochs,
                                         args.train_size, args.default_comparison,
                                         args.settle)
            elif name == "lesson":
                result = scenario_lesson(workdir, args.students, args.answer_window,
                                         args.moves)
            elif name == "distinct":
                from bench.distinct import scenario_distinct

                result = scenario_distinct(workdir, args.sessions, args.window, args.epochs,
                                           args.train_size)
            else:
                raise SystemExit(f"unknown scenario {name!r}")
            result["wall_seconds"] = round(time.monotonic() - started, 1)
            results.append(result)
            failures += check(result, args.max_jobs)
            print_figures(f"{name} ({result['wall_seconds']} s)", result,
                          skip=("scenario", "wall_seconds"))
    print(f"\nmachine: {cpu_name()}, {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB; "
          f"configs: {args.epochs} epochs x {args.train_size} images")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=sorted))
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        raise SystemExit(1)
    print("\nall checks passed")


if __name__ == "__main__":
    main()
