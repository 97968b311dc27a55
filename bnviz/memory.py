"""The app's memory budget: what all its processes may use together, and what a training needs.

Why: on Streamlit Community Cloud the whole app (the server, its training processes and
the warm spare) lives in a box of 690 MB to 2.7 GB, and going over it stops the app for
everyone ("This app has gone over its resource limits"). TensorFlow alone takes about
450 MB in a process that imports it, so one training process is most of a small box.
The app therefore keeps a budget: it starts a training only when the server, the
trainings already running and the new one fit; it keeps the warm spare only when that
fits too; and where not even the smallest training fits, it trains nothing and serves
what is precomputed or stored.

Memory is counted as what the box cannot take back: each process's anonymous resident
memory (its RSS less the file pages it maps), plus one allowance for the pages of
TensorFlow's libraries that a training keeps using. File pages beyond that are page cache
the kernel reclaims under pressure: measured in a 768 MB box (bench/cloud.py), the blog's
default run finished with the box full and its processes' PSS at 648 MB, though the same
processes hold 950 MB with no pressure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

# A 2.7 GB box (Community Cloud's largest), less room for the kernel's own buffers.
DEFAULT_BUDGET_MB = 2600.0
BUDGET_VARIABLE = "BNVIZ_MEMORY_BUDGET_MB"

# Measured (tensorflow-cpu 2.21, Linux x86-64): a training process's anonymous memory at
# its peak is 448 MB with 1,000 training images, and grows by three float32 copies of each
# 28 x 28 image (PSS 875 MB with 10,000 images, 1,249 MB with 50,000); the base has a
# margin of about 20 MB.
TRAINING_BASE_MB = 460.0
TRAINING_MB_PER_IMAGE = 3 * 28 * 28 * 4 / 2**20
# A spare: TensorFlow imported and one small epoch run (419 MB anonymous).
SPARE_MB = 430.0
# The working set of TensorFlow's libraries (363 MB mapped per process, shared by all),
# counted once while any training process or spare exists.
LIBRARIES_MB = 150.0
# Room left, inside a container's limit, for the kernel and the page cache's minimum.
CONTAINER_HEADROOM_MB = 64.0
SMALLEST_TRAIN_SIZE = 100  # ExperimentConfig's lower bound


def training_mb(train_size: int) -> float:
    """The memory (anonymous, MB) a training process needs at its peak for ``train_size``
    images."""
    return TRAINING_BASE_MB + train_size * TRAINING_MB_PER_IMAGE


def request_training_mb(request: Any) -> float:
    """`training_mb` of a request's configuration (comparisons and sweeps alike)."""
    return training_mb(request.config.train_size)


def process_mb(process: psutil.Process) -> float:
    """The memory of ``process`` in MB that the box cannot reclaim: its RSS less the file
    pages it maps (all of its RSS where the system does not tell them apart); 0 once gone."""
    try:
        info = process.memory_info()
    except psutil.NoSuchProcess:
        return 0.0
    return (info.rss - getattr(info, "shared", 0)) / 2**20


def container_limit_mb(cgroup_root: Path = Path("/sys/fs/cgroup"),
                       membership: Path = Path("/proc/self/cgroup")) -> float | None:
    """The memory limit of this process's control group (v1 or v2), if it has one."""
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":
            candidate = cgroup_root / path.lstrip("/") / "memory.max"
        elif "memory" in controllers.split(","):
            candidate = cgroup_root / "memory" / path.lstrip("/") / "memory.limit_in_bytes"
        else:
            continue
        try:
            text = candidate.read_text().strip()
        except OSError:
            continue
        # cgroup v1 says "no limit" with a huge number, v2 with "max".
        if text.isdigit() and int(text) < 2**50:
            return int(text) / 2**20
    return None


def budget_from_environment() -> tuple[float, str]:
    """The budget in MB and where it came from: ``BNVIZ_MEMORY_BUDGET_MB`` if set, else the
    smaller of the default (a 2.7 GB box) and the control group's limit less 64 MB."""
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = 0.0
        if value > 0:
            return value, BUDGET_VARIABLE
    limit = container_limit_mb()
    if limit is not None and limit - CONTAINER_HEADROOM_MB < DEFAULT_BUDGET_MB:
        return (limit - CONTAINER_HEADROOM_MB,
                f"the container's {limit:,.0f} MB less {CONTAINER_HEADROOM_MB:.0f} MB")
    return DEFAULT_BUDGET_MB, "the default (a 2.7 GB box)"


@dataclass(frozen=True)
class Decision:
    """Whether a training may start now: `START`, `WAIT` (for a running one to end), or
    `REFUSE` with the reason, in words for the page."""

    verdict: str
    reason: str = ""


START, WAIT, REFUSE = "start", "wait", "refuse"


class MemoryBudget:
    """What the app's processes may use together, and the decisions that keep to it."""

    def __init__(self, budget_mb: float | None = None, source: str = "",
                 server_pid: int | None = None) -> None:
        if budget_mb is None:
            budget_mb, source = budget_from_environment()
        self.budget_mb = budget_mb
        self.source = source or "given"
        self.server = psutil.Process(server_pid or os.getpid())

    def server_mb(self) -> float:
        """The server process alone."""
        return process_mb(self.server)

    def used_mb(self) -> float:
        """The server and every process it started, together, with the libraries'
        allowance while it has any."""
        try:
            children = self.server.children(recursive=True)
        except psutil.NoSuchProcess:
            children = []
        libraries = LIBRARIES_MB if children else 0.0
        return self.server_mb() + libraries + sum(process_mb(child) for child in children)

    def _committed_mb(self, running: list[Any]) -> float:
        # The server as it is now, and every running training at its estimated peak.
        return self.server_mb() + LIBRARIES_MB + sum(request_training_mb(r) for r in running)

    def decide(self, request: Any, running: list[Any]) -> Decision:
        """May ``request`` start training while ``running`` (requests) train?"""
        need = request_training_mb(request)
        if self._committed_mb(running) + need <= self.budget_mb:
            return Decision(START)
        if running:
            return Decision(WAIT)
        return Decision(REFUSE, self._too_small(need, request.config.train_size))

    def spare_fits(self, running: list[Any]) -> bool:
        """Whether a warm spare fits beside the server and the trainings ``running``."""
        return self._committed_mb(running) + SPARE_MB <= self.budget_mb

    def cannot_train(self) -> str | None:
        """Why this server cannot train anything at all (not even the smallest training),
        or None when it can."""
        need = training_mb(SMALLEST_TRAIN_SIZE)
        if self._committed_mb([]) + need <= self.budget_mb:
            return None
        return self._too_small(need, SMALLEST_TRAIN_SIZE)

    def _too_small(self, need: float, train_size: int) -> str:
        return (f"the app may use {self.budget_mb:,.0f} MB of memory ({self.source}); the "
                f"server takes {self.server_mb():,.0f} MB, TensorFlow's libraries about "
                f"{LIBRARIES_MB:.0f} MB and a training on {train_size:,} images about "
                f"{need:,.0f} MB more")
