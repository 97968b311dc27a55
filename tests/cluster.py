"""A real local Ray cluster on 127.0.0.1, started with ``ray start --head`` and stopped after.

Shared by the tests and by ``bench/ray.py``. Ray advertises the machine's network address
unless told it runs on one machine only (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which makes
every node address 127.0.0.1): the cluster, and every process that connects to it, get that
setting, so no traffic leaves the loopback interface.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from tests.server import free_port, summed_rss_mb

LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
RAY = str(Path(sys.executable).parent / "ray")


class RayCluster:
    """A head node with ``cpus`` CPUs, a small object store and no dashboard."""

    def __init__(self, cpus: int = 2, object_store_mb: int = 100,
                 token: str | None = None) -> None:
        """With ``token``, the cluster has Ray's token authentication on: only processes
        given the token (`environment`) may use it."""
        # For this process's own connection too; Ray reads it when imported, so a process
        # that imports Ray before starting a cluster must set it earlier (tests/conftest.py).
        os.environ.update(LOOPBACK_ONLY)
        self.environment = {**LOOPBACK_ONLY, **(
            {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token} if token else {})}
        self.port, self.client_port = free_port(), free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.client_address = f"ray://127.0.0.1:{self.client_port}"  # Ray Client
        # Short: Ray's unix sockets live under it (at most 107 characters).
        self.temp_dir = Path(tempfile.mkdtemp(prefix="bnray-", dir="/tmp"))
        started = subprocess.run(
            [RAY, "start", "--head", f"--port={self.port}", f"--num-cpus={cpus}",
             f"--object-store-memory={object_store_mb * 2**20}", "--include-dashboard=false",
             "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp_dir}",
             f"--ray-client-server-port={self.client_port}", "--disable-usage-stats"],
            env={**os.environ, **self.environment}, capture_output=True, text=True,
            timeout=180)
        if started.returncode != 0:
            self.stop()
            raise RuntimeError(f"ray start failed:\n{started.stdout[-2000:]}"
                               f"\n{started.stderr[-2000:]}")

    def processes(self) -> list[psutil.Process]:
        """Every process of this cluster: its daemons (named by its temp dir) and their
        descendants (the workers)."""
        found: dict[int, psutil.Process] = {}
        for process in psutil.process_iter(["cmdline"]):
            if any(str(self.temp_dir) in part for part in process.info["cmdline"] or ()):
                found[process.pid] = process
                try:
                    found.update({child.pid: child for child in process.children(True)})
                except psutil.NoSuchProcess:
                    continue
        return list(found.values())

    def task_workers(self, task: str) -> list[psutil.Process]:
        """Worker processes running the task named ``task`` now (Ray titles them ``ray::task``)."""
        running = []
        for process in self.processes():
            try:
                if " ".join(process.cmdline()).startswith(f"ray::{task}"):
                    running.append(process)
            except psutil.NoSuchProcess:
                continue
        return running

    def rss_mb(self) -> float:
        """Resident memory of all the cluster's processes together."""
        return summed_rss_mb(self.processes())

    def stop(self) -> None:
        """Kill every process of the cluster (nothing else's) and remove its temp dir."""
        for process in self.processes():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(self.processes(), timeout=10)
        subprocess.run(["rm", "-rf", str(self.temp_dir)], check=False)

    def __enter__(self) -> RayCluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
