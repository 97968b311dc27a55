"""A real ``streamlit run streamlit_app.py`` on 127.0.0.1, and Debian's chromium to look at it.

Shared by the tests and by ``bench/load.py``, which runs the same server at classroom
scale. Every server gets a free port and its own results store; stopping it stops
every training process it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("BNVIZ_ARTIFACTS", ROOT / "artifacts"))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",
]
STARTED = re.compile(r"training started config=(\w+)")


def require_chromium() -> None:
    """Skip on a developer machine without chromium; fail in CI, which must install it."""
    import pytest

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: apt-get install chromium (scripts/test.sh does, as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def summed_rss_mb(processes: list[psutil.Process]) -> float:
    """Resident memory of ``processes`` together (shared libraries counted in each)."""
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """One ``streamlit run streamlit_app.py`` process with its own log file."""

    def __init__(self, cache_dir: Path, log_path: Path, max_jobs: int = 1,
                 env: dict[str, str] | None = None, prefix: list[str] | None = None,
                 script: Path = ROOT / "streamlit_app.py") -> None:
        """``prefix`` goes before the command (``bench/cloud.py`` puts the server into
        control groups with it, by a shell that joins them and then execs the server);
        ``script``: what it runs (``bench/first_sight.py --floor`` runs a page of its own)."""
        self.cache_dir, self.log_path = Path(cache_dir), Path(log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, "BNVIZ_CACHE_DIR": str(cache_dir),
                       "BNVIZ_MAX_JOBS": str(max_jobs), **(env or {})}
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [*(prefix or []), sys.executable, "-m", "streamlit", "run",
                 str(script), "--server.port", str(self.port),
                 "--server.address", "127.0.0.1",
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start:\n{self.log()[-2000:]}")
            time.sleep(0.25)

    def log(self) -> str:
        """The server's output so far."""
        return self.log_path.read_text(errors="replace")

    def started(self) -> list[str]:
        """Config hashes of the ``training started`` lines, in order."""
        return STARTED.findall(self.log())

    def tree(self) -> list[psutil.Process]:
        """The server and all its descendants (training processes, the spare)."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        """Resident memory of the server process alone."""
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def tree_rss_mb(self) -> float:
        """Resident memory of the server and its training processes together."""
        return summed_rss_mb(self.tree())

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process alone has used so far."""
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def kill(self) -> list[psutil.Process]:
        """SIGKILL the server alone (as a crash would); returns the children it leaves."""
        children = self.tree()[1:]
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return children

    def stop(self) -> None:
        """Stop the server and make sure none of its processes is left."""
        children = self.tree()[1:]
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in children:  # our own processes, by pid
            with suppress(psutil.NoSuchProcess):
                child.kill()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()



@contextlib.contextmanager
def streamlit_server(cache_dir: Path, log_path: Path, **env: str) -> Iterator[str]:
    """A `Server` for one test; yields its base URL. A server that does not start fails
    the test with its log."""
    import pytest

    try:
        server = Server(cache_dir, log_path, env=env)
    except RuntimeError as error:
        pytest.fail(str(error))
    with server:
        yield server.url


@contextlib.contextmanager
def page_server(cache_dir: Path, log_path: Path, **settings: str) -> Iterator[tuple[str, object]]:
    """A real server (`streamlit_server`) and a headless Debian chromium to look at it:
    ``(url, browser)``; both are stopped at the end."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with streamlit_server(cache_dir, log_path, **settings) as url, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield url, browser
        finally:
            browser.close()
