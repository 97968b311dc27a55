"""A Community Cloud box on this machine: the real server inside Linux control groups.

    .venv/bin/python bench/cloud.py                        # 2.7 GB and 1 GB boxes, one core
    .venv/bin/python bench/cloud.py --boxes 1024 --scenarios blog
    .venv/bin/python bench/cloud.py --boxes 1024 --budget 100000   # the app's budget off

Community Cloud runs an app in a box of 690 MB to 2.7 GB of memory on shared CPUs and
stops it when it goes over ("This app has gone over its resource limits"). Here each
box is a pair of cgroup v1 groups (``memory``: ``memory.limit_in_bytes``; ``cpu``: a
quota of one core, ``cpu.cfs_quota_us`` = ``cpu.cfs_period_us``) that a shell joins
before it execs ``streamlit run``, so the server, its training processes and its warm
spare all live inside. Needs root and cgroup v1 (as on this machine).

Scenarios, each with its own server and store in each box:

* ``blog``: one session opens the blog's default comparison with ``run=1`` (100 epochs,
  1000 images, both models) and waits for its charts.
* ``classroom``: 10 websocket sessions within 3 s: 6 open the app with no link (the
  gallery's blog result) and 4 open ``run=1`` links of 2 short configurations (10
  epochs, 1000 images), with ``BNVIZ_MAX_JOBS=2``, so that the memory budget, not the
  job limit, decides whether two trainings run at once.

Printed per box and scenario: wall time until every session shows its charts; peak
memory of the whole app, as the box counts it (the group's ``memory.max_usage_in_bytes``,
page cache included), as the sum of its processes' PSS and of their anonymous memory (what
the app's budget counts); the most trainings at once
(from the server log); whether anything was killed (the group's ``oom_kill`` count, a
training reported killed, the server gone); and what the page said when it could not
train.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402
from bench.load import (  # noqa: E402
    _served,
    link,
    max_concurrent,
    open_sessions,
    print_figures,
    sampling,
)
from bnviz.config import ExperimentConfig  # noqa: E402
from bnviz.memory import BUDGET_VARIABLE, process_mb  # noqa: E402
from tests.server import Server  # noqa: E402

CGROUP = Path("/sys/fs/cgroup")
CLASSROOM_CONFIGS = (ExperimentConfig(epochs=10, seed=41), ExperimentConfig(epochs=10, seed=42))


class Box:
    """A memory limit and a CPU quota, as two cgroup v1 groups made for this run."""

    def __init__(self, memory_mb: int, cpus: float = 1.0) -> None:
        self.memory_mb, self.cpus = memory_mb, cpus
        name = f"bnviz-cloud-{os.getpid()}-{memory_mb}"
        self.memory, self.cpu = CGROUP / "memory" / name, CGROUP / "cpu" / name

    def __enter__(self) -> Box:
        # A page is charged to the group that first reads it: drop the page cache so that
        # TensorFlow's libraries, read by an earlier run outside the box, are charged to
        # it again, as in a fresh Cloud box. (Pages mapped by a TensorFlow process still
        # running elsewhere stay charged there: run nothing else meanwhile.)
        os.sync()
        with suppress(OSError):
            Path("/proc/sys/vm/drop_caches").write_text("3")
        for group in (self.memory, self.cpu):
            group.mkdir()
        limit = str(self.memory_mb * 2**20)
        (self.memory / "memory.limit_in_bytes").write_text(limit)
        swap = self.memory / "memory.memsw.limit_in_bytes"
        if swap.exists():  # no swapping out of the box either, as on Cloud
            with suppress(OSError):
                swap.write_text(limit)
        period = int((self.cpu / "cpu.cfs_period_us").read_text())
        (self.cpu / "cpu.cfs_quota_us").write_text(str(int(period * self.cpus)))
        return self

    def prefix(self) -> list[str]:
        """A command prefix that joins both groups, then execs the rest."""
        join = (f'echo $$ > {self.memory / "cgroup.procs"} && '
                f'echo $$ > {self.cpu / "cgroup.procs"} && exec "$@"')
        return ["sh", "-c", join, "sh"]

    def peak_mb(self) -> float:
        """Most memory the group has been charged since it was made (page cache included)."""
        return int((self.memory / "memory.max_usage_in_bytes").read_text()) / 2**20

    def oom_kills(self) -> int:
        """Processes of the group the kernel's out-of-memory killer has killed."""
        for line in (self.memory / "memory.oom_control").read_text().splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def __exit__(self, *_: object) -> None:
        for group in (self.memory, self.cpu):
            for pid in (group / "cgroup.procs").read_text().split():
                with suppress(psutil.Error):
                    psutil.Process(int(pid)).kill()
            deadline = time.monotonic() + 10
            while True:
                try:
                    group.rmdir()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


@contextmanager
def memory_peaks(server: Server, interval: float = 0.5) -> Iterator[dict]:
    """Sampled meanwhile, over the server's processes: the largest sum of PSS (what they
    hold, shared pages split among them) and of anonymous memory (what the box cannot
    reclaim; `bnviz.memory.process_mb`)."""
    figures = {"pss_peak_mb": 0.0, "anonymous_peak_mb": 0.0, "processes_at_peak": 0}

    def sample() -> None:
        tree = server.tree()
        pss = 0.0
        for process in tree:
            with suppress(psutil.Error):
                pss += process.memory_full_info().pss / 2**20
        if pss > figures["pss_peak_mb"]:
            figures["pss_peak_mb"], figures["processes_at_peak"] = pss, len(tree)
        figures["anonymous_peak_mb"] = max(figures["anonymous_peak_mb"],
                                           sum(process_mb(p) for p in tree))

    with sampling(sample, interval):
        yield figures


def _outcome(box: Box, server: Server, seen: list, started_at: float, memory: dict) -> dict:
    log = server.log()
    alive = server.process.poll() is None
    return {
        **_served(seen),
        "wall_seconds": round(max((s.opened_at + (s.seconds_to_charts or 0)) for s in seen)
                              - started_at, 1),
        "box_peak_mb": round(box.peak_mb()),
        "pss_peak_mb": round(memory["pss_peak_mb"]),
        "anonymous_peak_mb": round(memory["anonymous_peak_mb"]),
        "processes_at_peak": memory["processes_at_peak"],
        "trainings_started": log.count("training started config="),
        "most_trainings_at_once": max_concurrent(log),
        "oom_kills": box.oom_kills(),
        "trainings_killed": log.count("killed (SIGKILL)"),
        "trainings_refused": log.count("training refused"),
        "spare_given_up": log.count("gave up the warm spare") + log.count("no warm spare"),
        "server_alive": alive,
    }


def run_scenario(name: str, memory_mb: int, workdir: Path, env: dict[str, str]) -> dict:
    """One scenario in a fresh box with its own server and store."""
    with Box(memory_mb) as box:
        cache = workdir / f"cache-{name}-{memory_mb}"
        log_path = workdir / f"{name}-{memory_mb}.log"
        max_jobs = 2 if name == "classroom" else 1
        with Server(cache, log_path, max_jobs=max_jobs, env=env, prefix=box.prefix()) as server:
            if name == "blog":
                links = [link(ExperimentConfig(), run=True)]
            else:
                runs = [link(config, run=True) for config in CLASSROOM_CONFIGS]
                links = ["/"] * 6 + runs * 2
            with memory_peaks(server) as memory:
                started_at = time.monotonic()
                seen = open_sessions(server.url, links, spread=0 if name == "blog" else 3.0,
                                     timeout=1800, client="websocket")
            out = {"box_mb": memory_mb, "scenario": name, "sessions": len(seen),
                   **_outcome(box, server, seen, started_at, memory)}
            budget = [line for line in server.log().splitlines() if "memory budget" in line]
            out["budget_line"] = budget[0].split(": ", 1)[-1] if budget else ""
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", default="2765,1024",
                        help="memory limits in MB, comma-separated (2.7 GB = 2765 MB)")
    parser.add_argument("--scenarios", default="blog,classroom")
    parser.add_argument("--budget", type=float,
                        help=f"set {BUDGET_VARIABLE} (default: the app finds the box's limit)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if os.geteuid() != 0 or not (CGROUP / "memory").is_dir() or not (CGROUP / "cpu").is_dir():
        raise SystemExit("needs root and cgroup v1 memory and cpu controllers under "
                         f"{CGROUP}")
    env = {BUDGET_VARIABLE: str(args.budget)} if args.budget else {}
    if not args.budget:
        os.environ.pop(BUDGET_VARIABLE, None)
    results = []
    with tempfile.TemporaryDirectory(prefix="bnviz-cloud-") as tmp:
        for memory_mb in (int(mb) for mb in args.boxes.split(",")):
            for name in args.scenarios.split(","):
                result = run_scenario(name, memory_mb, Path(tmp), env)
                results.append(result)
                print_figures(f"{name} in a {memory_mb} MB box, one core", result,
                              skip=("scenario", "box_mb"))
    print(f"\nCPU: {cpu_name()}; machine: {os.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GB; each box: one core's quota")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=sorted))
    broken = [r for r in results if not r["server_alive"] or (r["sessions_with_problems"]
              and not r["trainings_refused"])]
    if broken:
        raise SystemExit(f"FAILED: {len(broken)} scenario(s) lost the server or a session")


if __name__ == "__main__":
    main()
