"""An hour of a lesson against a real ``streamlit run`` server on 127.0.0.1 (minutes, not CI).

    .venv/bin/python bench/soak.py                          # 30 sessions and a class, 60 min
    .venv/bin/python bench/soak.py --minutes 5 --sessions 10  # a quick look

S sessions (Streamlit's websocket protocol, `bench.wsclient`, each from its own loopback
address) do, over and over, what a lesson has students do, each visit a fresh connection (a
viewer who comes, sees, and goes), with a pause of 5 to 20 s between visits:

* open the landing page (the gallery's blog result), weight 4;
* follow a preset (its precomputed result), weight 3;
* open a what-if the gallery holds, or a shorter run of a preset (cut at once), weight 2;
* train their own small what-if (``run=1``, a configuration no one else asks for), weight 1.

Meanwhile a chromium page, every few minutes, starts a training of its own and presses
**Stop** once it runs (a partial result must show), and halfway through the server is
restarted (SIGTERM, then a new server on the same store); visits cut by the restart are
counted apart and tried again.

And a live class, one lesson after another: a teacher's chromium page opens the batch-norm
lesson, ``--class-students`` websocket students (`bench.wsclass`, beside the S sessions) join,
answer within 20 s, the teacher reveals (every student must see the exact tally) and moves Next
three times (every student must follow); then the class ends and, a minute later, the next one
opens. A class the restart cuts is counted apart.

Every 30 s: the server's and the training processes' resident memory and the server's CPU.
At the end: every visit's outcome (charts, or a cap's plain refusal for a training), every
finished training's result on disk (none lost), exceptions and tracebacks in the logs, and
the server's memory growth between the first minutes and the end of each server's life (the
bound: `GROWTH_BOUND_MB`). The CPU is named.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402  (after the path set-up)
from bench.load import _settle, link  # noqa: E402
from bench.wsclient import ProtocolSession, run_session  # noqa: E402
from bnviz.comparison import ComparisonRequest  # noqa: E402
from bnviz.config import ExperimentConfig  # noqa: E402
from bnviz.gallery import gallery_config  # noqa: E402
from bnviz.presets import PRESETS, WHAT_IFS  # noqa: E402
from tests.server import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402

GROWTH_BOUND_MB = 100.0  # the server's resident memory may grow at most this much a life
REFUSED = re.compile("as many as (it takes on|one address may have)")  # a cap's refusal
ACTIVITIES = {"landing": 4, "preset": 3, "what-if": 2, "own": 1}
CLASS_SECONDS = 150  # a class's lesson, about: no class opens closer than this to the end
# The class's own warnings in the server's log (a room file read as damaged, say); a training
# refused by a cap, elsewhere in the soak, is no problem of the class.
CLASS_PROBLEM = re.compile(r"^\S+ \S+ (?:WARNING|ERROR|CRITICAL) bnviz\.rooms.*$", re.M)


@dataclass
class Soak:
    """What the run saw, shared by its sessions, sampler and restarter."""

    base: str
    server: Server
    visits: dict[str, list[float]] = field(default_factory=dict)  # activity -> seconds
    refused: int = 0
    cut_by_restart: int = 0
    failures: list[str] = field(default_factory=list)
    trained: set[str] = field(default_factory=set)  # config hashes of finished own trainings
    samples: list[dict] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    restarting: bool = False
    classes: list[dict] = field(default_factory=list)  # each whole class's figures
    classes_cut: list[dict] = field(default_factory=list)  # the figures of those a restart cut
    restarts: int = 0


def _links() -> dict[str, list[str]]:
    presets = [link(gallery_config(config).replace(seeds=1), run=False)
               for config, _ in PRESETS.values()][:8]
    what_ifs = [link(config.replace(seeds=1), run=False) for config in WHAT_IFS.values()]
    what_ifs += [link(gallery_config(PRESETS["The blog post"][0]).replace(epochs=epochs),
                      run=False) for epochs in (10, 20, 50)]
    return {"landing": ["/?"], "preset": presets, "what-if": what_ifs}


def _own(session: int, visit: int) -> ExperimentConfig:
    """A small configuration of this session's own, different at each visit."""
    return ExperimentConfig(epochs=2, train_size=256, scale_pixels=True,
                            seed=1 + session * 1000 + visit)


async def _student(soak: Soak, index: int, deadline: float, rng: random.Random,
                   links: dict[str, list[str]]) -> None:
    visit = 0
    while time.monotonic() < deadline:
        activity = rng.choices(list(ACTIVITIES), weights=list(ACTIVITIES.values()))[0]
        config = _own(index, visit) if activity == "own" else None
        url = link(config, run=True) if config else rng.choice(links[activity])
        while soak.restarting:
            await asyncio.sleep(1)
        session = ProtocolSession(url.lstrip("/?"), source=f"127.0.0.{2 + index}",
                                  stop_on=REFUSED)
        # A result the server holds comes within seconds; a training of one's own may wait.
        seen = await run_session(soak.base, session, timeout=600 if config else 90)
        if seen.seconds_to_charts is not None:
            soak.visits.setdefault(activity, []).append(seen.seconds_to_charts)
            if config is not None:
                soak.trained.add(ComparisonRequest(config).config_hash())
        elif seen.stopped_by is not None:
            soak.refused += 1
        elif soak.restarting or any("Connection" in p or "closed" in p for p in seen.problems):
            soak.cut_by_restart += 1
        else:
            soak.failures.append(f"{activity} {url[:80]}: {seen.problems[:1]}")
        visit += 1
        await asyncio.sleep(rng.uniform(5, 20))


async def _stopper(soak: Soak, deadline: float, every: float) -> None:
    """A chromium page that trains and stops, every ``every`` seconds."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        number = 0
        try:
            while time.monotonic() + every < deadline:
                await asyncio.sleep(every)
                if soak.restarting:
                    continue
                number += 1
                page = await browser.new_page()
                try:
                    await page.goto(f"{soak.base}/?epochs=40&train_size=512&seed={900 + number}"
                                    "&run=1", timeout=60_000)
                    # Training, an epoch done (not queued, which offers Withdraw; nor still
                    # starting, when a Stop leaves no epoch to show), then Stop.
                    epoch = page.get_by_text(re.compile(r"Training both models: epoch [1-9]"))
                    try:
                        await epoch.first.wait_for(timeout=300_000)
                    except PlaywrightTimeout:
                        # Still queued behind the sessions' own trainings after 5 minutes:
                        # the page's own way out is Withdraw, which must leave nothing queued.
                        withdraw = page.get_by_role("button", name="Withdraw")
                        if await page.get_by_text("come back in").count():
                            # A cap turned it away (the sessions' own trainings fill the queue).
                            soak.stops.append("withdrawn: refused by a cap, the queue full")
                            continue
                        if await withdraw.count():
                            await withdraw.click(timeout=60_000)
                            await page.get_by_text("waiting for a free trainer").first.wait_for(
                                state="detached", timeout=60_000)
                            soak.stops.append("withdrawn: still queued after 300 s")
                            continue
                        await epoch.first.wait_for(timeout=60_000)  # it has just started
                    stop = page.get_by_role("button", name="Stop", exact=True)
                    await stop.wait_for(timeout=60_000)
                    clicked = time.monotonic()
                    await stop.click(timeout=60_000)
                    await page.get_by_text("Stopped at epoch").first.wait_for(timeout=60_000)
                    soak.stops.append(f"stopped: partial result shown after "
                                      f"{time.monotonic() - clicked:.2f} s")
                except Exception as error:  # a soak reports a failed stop, it goes on
                    soak.stops.append(f"{type(error).__name__}: {str(error)[:120]}")
                finally:
                    await page.close()
        finally:
            await browser.close()


async def _classes(soak: Soak, deadline: float, students: int, pause: float) -> None:
    """Live classes one after another (`bench.load._class`), each on the server of the moment."""
    from bench.load import _class

    number = 0
    while students and time.monotonic() + CLASS_SECONDS < deadline:
        while soak.restarting:
            await asyncio.sleep(1)
        number += 1
        restarts = soak.restarts
        try:
            figures = await _class(soak.server, students, window=20, moves=3, seed=number,
                                   timeout=90, settle=False, logged_problem=CLASS_PROBLEM)
        except Exception as error:  # a class the restart cut ends in an error of some kind
            figures = {"problems": [f"{type(error).__name__}: {str(error)[:120]}"]}
        # A class the restart fell in is kept apart (its problems still printed).
        (soak.classes_cut if soak.restarts != restarts or soak.restarting
         else soak.classes).append(figures)
        if time.monotonic() + pause + CLASS_SECONDS < deadline:
            await asyncio.sleep(pause)


def _class_whole(figures: dict) -> bool:
    """The class broke nothing the ``lesson`` scenario checks (`bench.load._lesson_failures`);
    a class that ended in an error has no figures to check."""
    from bench.load import _lesson_failures

    return "students" in figures and not _lesson_failures(figures)


def _sample(soak: Soak, started: float, last: dict) -> None:
    server = soak.server
    try:
        cpu = server.cpu_seconds()
    except psutil.NoSuchProcess:
        return
    now = time.monotonic()
    children = server.tree()[1:]
    training = 0.0
    for child in children:
        try:
            training = max(training, child.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            continue
    cpu_share = (cpu - last["cpu"]) / (now - last["at"]) if last and last["pid"] == \
        server.process.pid else None
    soak.samples.append({"minute": round((now - started) / 60, 1), "pid": server.process.pid,
                         "server_mb": round(server.rss_mb()),
                         "tree_mb": round(server.tree_rss_mb()),
                         "largest_child_mb": round(training),
                         "server_cpu_share": round(cpu_share, 2) if cpu_share is not None
                         else None})
    last.update(cpu=cpu, at=now, pid=server.process.pid)


def run(minutes: float, sessions: int, seed: int, stop_every: float,
        class_students: int) -> dict:
    """The soak; its figures."""
    rng = random.Random(seed)
    links = _links()
    with tempfile.TemporaryDirectory(prefix="bnviz-soak-") as scratch:
        cache = Path(scratch) / "cache"
        soak = Soak("", Server(cache, Path(scratch) / "first.log"))
        soak.logs.append(soak.server.log_path)
        soak.base = soak.server.url
        _settle(soak.server)
        started = time.monotonic()
        deadline = started + minutes * 60
        halt = threading.Event()
        last: dict = {}

        def sampler() -> None:
            while not halt.is_set():
                if not soak.restarting:
                    _sample(soak, started, last)
                halt.wait(30)

        def restart() -> None:
            soak.restarting = True
            soak.restarts += 1
            soak.server.stop()  # SIGTERM, as a host's restart sends
            soak.server = Server(cache, Path(scratch) / "second.log")
            soak.logs.append(soak.server.log_path)
            soak.base = soak.server.url
            soak.restarting = False

        async def lesson() -> None:
            loop = asyncio.get_running_loop()

            async def restart_halfway() -> None:
                await asyncio.sleep(minutes * 30)
                await loop.run_in_executor(None, restart)

            await asyncio.gather(
                *(_student(soak, i, deadline, random.Random(rng.random()), links)
                  for i in range(sessions)),
                _stopper(soak, deadline, stop_every), restart_halfway(),
                _classes(soak, deadline, class_students, pause=60))

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        try:
            asyncio.run(lesson())
        finally:
            halt.set()
            thread.join()
            _sample(soak, started, last)
            soak.server.stop()
        logs = [path.read_text(errors="replace") for path in soak.logs]
        stored = {path.name.split(".")[0] for path in cache.glob("*.npz")}
    lost = sorted(soak.trained - stored)
    return _figures(soak, logs, lost, minutes, sessions, class_students)


def _growth(samples: list[dict]) -> list[float]:
    """Per server life: resident memory at its end less at its third sample (warmed up)."""
    growth = []
    for pid in dict.fromkeys(sample["pid"] for sample in samples):
        life = [sample["server_mb"] for sample in samples if sample["pid"] == pid]
        if len(life) >= 4:
            growth.append(float(life[-1] - life[2]))
    return growth


def _figures(soak: Soak, logs: list[str], lost: list[str], minutes: float,
             sessions: int, class_students: int) -> dict:
    visits = {activity: len(times) for activity, times in soak.visits.items()}
    follow_p95 = [c["follow_seconds"]["p95"] for c in soak.classes
                  if c.get("follow_seconds", {}).get("p95") is not None]
    reveal_p95 = [c["reveal_seconds"]["p95"] for c in soak.classes
                  if c.get("reveal_seconds", {}).get("p95") is not None]
    slowest = {activity: round(max(times), 1) for activity, times in soak.visits.items()}
    return {
        "minutes": minutes, "sessions": sessions,
        "visits_with_charts": visits, "slowest_visit_s": slowest,
        "trainings_refused_by_a_cap": soak.refused, "visits_cut_by_the_restart":
            soak.cut_by_restart, "visits_failed": len(soak.failures),
        "failures": soak.failures[:5], "stops": soak.stops,
        "own_results_trained": len(soak.trained), "own_results_lost": lost,
        "class_students": class_students, "classes_run": len(soak.classes),
        "classes_whole": sum(_class_whole(c) for c in soak.classes),
        "classes_cut_by_the_restart": len(soak.classes_cut),
        "class_problems": [p for c in soak.classes for p in c.get("problems", [])][:8],
        "cut_class_problems": [p for c in soak.classes_cut for p in c.get("problems", [])][:4],
        "class_follow_p95_s_worst": max(follow_p95, default=None),
        "class_reveal_p95_s_worst": max(reveal_p95, default=None),
        "log_exceptions": sum(log.count("Traceback") for log in logs),
        "server_growth_mb_per_life": _growth(soak.samples),
        "tree_peak_mb": max((s["tree_mb"] for s in soak.samples), default=0),
        "samples": soak.samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--stop-every", type=float, default=300,
                        help="seconds between the chromium page's Train-then-Stop")
    parser.add_argument("--class-students", type=int, default=10,
                        help="students of the live class, beside the sessions (0: no class)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    figures = run(args.minutes, args.sessions, args.seed, args.stop_every, args.class_students)
    print(f"soak: {args.sessions} sessions, {args.minutes:g} min, {cpu_name()}, "
          f"{os.cpu_count()} cores")
    print(f"{'minute':>7} {'server MB':>10} {'tree MB':>8} {'largest child MB':>17} "
          f"{'server CPU':>10}")
    for sample in figures.pop("samples"):
        share = sample["server_cpu_share"]
        print(f"{sample['minute']:>7} {sample['server_mb']:>10} {sample['tree_mb']:>8} "
              f"{sample['largest_child_mb']:>17} "
              f"{'' if share is None else f'{share:.0%}':>10}")
    for key, value in figures.items():
        print(f"  {key:30s} {value}")
    failed = (figures["visits_failed"] or figures["own_results_lost"]
              or figures["log_exceptions"]
              or any(growth > GROWTH_BOUND_MB for growth in figures["server_growth_mb_per_life"])
              or any(not stop.startswith(("stopped", "withdrawn")) for stop in figures["stops"])
              # withdrawn only: no Stop was tried at all
              or (figures["stops"] and not any(stop.startswith("stopped")
                                               for stop in figures["stops"]))
              or figures["classes_whole"] < figures["classes_run"]
              or (figures["class_students"] > 0 and not figures["classes_run"]))
    print("\nFAILED" if failed else "\nall checks passed")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
