"""The same learning-rate sweep embedded and on a local Ray cluster, side by side.

(Not ``bench/ray.py``: run as a script, this folder comes first on ``sys.path``, and a
``ray.py`` in it would stand in for Ray itself.)

    .venv/bin/python bench/ray_cluster.py                 # 4 rates x 2 models x 2 seeds, 10 epochs
    .venv/bin/python bench/ray_cluster.py --epochs 3      # a quick look

Embedded: ``python -m bnviz sweep-lr`` once per seed, one after the other (what one
bnviz server does). Ray: a local cluster of 2 CPUs (``ray start --head`` on 127.0.0.1,
see tests/cluster.py), then the same two commands with ``--ray``, at the same time, so
their 16 points share the cluster's CPUs. Printed: wall time of each; Ray's start-up
(``ray start`` until the cluster answers) and per-task overhead (the round trip of an
empty task, first and warm); the peak resident memory of the whole cluster and its
drivers (summed RSS, which counts shared libraries once per process); and whether both
ways wrote the same tables.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # 127.0.0.1 only; before Ray
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # see tests/cluster.py

import pandas as pd  # noqa: E402
import psutil  # noqa: E402

from bench.first_epoch import cpu_name  # noqa: E402
from tests.cluster import LOOPBACK_ONLY, RayCluster  # noqa: E402

RATES = "1e-4,1e-3,1e-2,1e-1"


def sweep_command(seed: int, epochs: int, out: Path, ray: str | None) -> list[str]:
    command = [sys.executable, "-m", "bnviz", "sweep-lr", "--learning-rates", RATES,
               "--epochs", str(epochs), "--seed", str(seed), "--out", str(out)]
    return command + (["--ray", ray] if ray else [])


def run_all(commands: list[list[str]], parallel: bool, watch: list[psutil.Process] | None = None
            ) -> tuple[float, float]:
    """Run ``commands`` (one after another, or all at once); wall seconds and the peak summed
    RSS (MB) of their processes and of ``watch`` (with their children) meanwhile."""
    environment = {**os.environ, **LOOPBACK_ONLY, "TF_CPP_MIN_LOG_LEVEL": "2"}
    peak, stop = [0.0], threading.Event()
    running: list[subprocess.Popen] = []

    def sample() -> None:
        while not stop.is_set():
            roots = [psutil.Process(p.pid) for p in running if p.poll() is None]
            total = 0
            for root in [*roots, *(watch or [])]:
                try:
                    for process in [root, *root.children(recursive=True)]:
                        total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            peak[0] = max(peak[0], total / 2**20)
            stop.wait(0.3)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        if parallel:
            running += [subprocess.Popen(c, env=environment, stdout=subprocess.DEVNULL)
                        for c in commands]
            codes = [p.wait() for p in running]
        else:
            codes = []
            for command in commands:
                running.append(subprocess.Popen(command, env=environment,
                                                stdout=subprocess.DEVNULL))
                codes.append(running[-1].wait())
    finally:
        stop.set()
        sampler.join()
    if any(codes):
        raise SystemExit(f"a sweep failed: exit codes {codes}")
    return time.monotonic() - started, peak[0]


def task_overhead(address: str) -> tuple[float, float]:
    """Seconds for an empty task's round trip: the first (a worker starts) and warm (median
    of 20)."""
    import ray

    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        @ray.remote(num_cpus=1)
        def nothing() -> None:
            return None

        started = time.monotonic()
        ray.get(nothing.remote())
        first = time.monotonic() - started
        warm = []
        for _ in range(20):
            started = time.monotonic()
            ray.get(nothing.remote())
            warm.append(time.monotonic() - started)
        return first, sorted(warm)[len(warm) // 2]
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    args = parser.parse_args()
    seeds = (1, 2)
    with tempfile.TemporaryDirectory(prefix="bnviz-ray-bench-") as tmp:
        out = Path(tmp)
        embedded_seconds, embedded_peak = run_all(
            [sweep_command(seed, args.epochs, out / f"embedded-{seed}", None) for seed in seeds],
            parallel=False)
        started = time.monotonic()
        with RayCluster(cpus=args.cpus) as cluster:
            startup = time.monotonic() - started
            cluster_idle = cluster.rss_mb()
            first_task, warm_task = task_overhead(cluster.address)
            daemons = [p for p in cluster.processes() if p.ppid() == 1]
            ray_seconds, ray_peak = run_all(
                [sweep_command(seed, args.epochs, out / f"ray-{seed}", cluster.address)
                 for seed in seeds], parallel=True, watch=daemons)
        same = all(pd.read_csv(out / f"embedded-{seed}" / "sweep.csv").equals(
            pd.read_csv(out / f"ray-{seed}" / "sweep.csv")) for seed in seeds)
    points = 4 * 2 * len(seeds)
    print(f"sweep: 4 rates x 2 models x {len(seeds)} seeds = {points} points, {args.epochs} "
          "epochs each, 1000 training images")
    print(f"CPU: {cpu_name()}; {os.cpu_count()} cores; Ray cluster: {args.cpus} CPUs")
    print(f"  embedded (one process per seed, one after the other): {embedded_seconds:7.1f} s, "
          f"peak {embedded_peak:,.0f} MB")
    print(f"  Ray (both seeds at once, one task per point):         {ray_seconds:7.1f} s, "
          f"peak {ray_peak:,.0f} MB (cluster and drivers)")
    print(f"  ratio embedded / Ray: {embedded_seconds / ray_seconds:.2f}")
    print(f"  Ray start-up: {startup:.1f} s; idle cluster {cluster_idle:,.0f} MB; empty task "
          f"round trip {first_task * 1000:.0f} ms first, {warm_task * 1000:.1f} ms warm")
    print(f"  same tables both ways: {same}")
    if not same:
        raise SystemExit("the Ray sweep differs from the embedded one")


if __name__ == "__main__":
    main()
