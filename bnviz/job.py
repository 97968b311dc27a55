"""One request's training as every viewer sees it: its status, progress rows and result.

A job is made by `bnviz.jobs.JobManager` and shared by every session that asks for the same
request; `bnviz.results.ResultCache` keeps the finished ones.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bnviz.request import Request, Result


class Status(StrEnum):
    """Where a job is in its life (a string, so logs and old comparisons read it as one)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    # Ended early by the session that started it: `Job.result` holds what was done (a
    # partial result), or None when it was stopped before its first progress row.
    STOPPED = "stopped"
    WITHDRAWN = "withdrawn"  # left the queue before it started: nobody waited for it any more


QUEUED, RUNNING, DONE, FAILED, STOPPED, WITHDRAWN = Status
ENDED = (DONE, FAILED, STOPPED, WITHDRAWN)
JOB, STORE, GALLERY = "job", "store", "gallery"  # where a result shown comes from


@dataclass(eq=False)  # a job is itself: two jobs of one request are two trainings
class Job:
    """One request's training, as every viewer sees it."""

    request: Request
    status: Status = QUEUED
    rows: list[dict[str, Any]] = field(default_factory=list)  # progress rows as they come
    result: Result | None = None
    error: str | None = None  # what went wrong, for the log and for operators
    message: str | None = None  # the same, in plain words for the page, with what to do
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None
    origin: str = JOB  # `JOB` (trained by this process) or `STORE` (read from disk)
    saved: bool = False  # whether the store holds the result
    row_times: list[float] = field(default_factory=list)  # time.monotonic() of each row
    # The sessions that asked to train it, first the one that started it (see `owner`).
    requesters: list[str] = field(default_factory=list)
    # The client address each of those sessions came from, where known (`bnviz.caps`).
    addresses: dict[str, str] = field(default_factory=dict)
    stop_requested: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)  # set once it has ended

    @property
    def owner(self) -> str | None:
        """The session that may stop this job: the first that asked for it and still does."""
        return self.requesters[0] if self.requesters else None

    @property
    def owner_address(self) -> str | None:
        """The client address of `owner`, where known: the address this job's load counts
        against (those who only joined it added none)."""
        return self.addresses.get(self.owner) if self.owner is not None else None

    @property
    def training(self) -> bool:
        """Whether it is queued or running."""
        return self.status in (QUEUED, RUNNING)

    @property
    def live(self) -> bool:
        """Whether it holds a result or will: queued, training, done, or stopped with a
        partial result. A failed job, one stopped before it had anything to show and a
        withdrawn one hold nothing: the store or the gallery may then answer instead."""
        return self.status in (QUEUED, RUNNING, DONE) or (
            self.status == STOPPED and self.result is not None)

    @property
    def replaceable(self) -> bool:
        """Whether asking for its request again starts a fresh job: when it holds no whole
        result and will not make one (a partial result is served until then, never as if
        finished), also while a stopped job finishes its last step."""
        return not self.live or self.status == STOPPED or (
            self.status == RUNNING and self.stop_requested.is_set())

    def add_row(self, row: dict[str, Any]) -> None:
        """A progress row, as the runner reports it, with the time it came."""
        self.row_times.append(time.monotonic())
        self.rows.append(row)

    def seconds_per_row(self) -> float | None:
        """The pace of training, from the rows after the first (whose time includes
        starting up and compiling); None before two rows."""
        times = self.row_times[:len(self.rows)]
        if len(times) < 2:
            return None
        return (times[-1] - times[0]) / (len(times) - 1)

    def seconds_left(self) -> float | None:
        """Estimated seconds until this running job ends, from its pace so far."""
        pace = self.seconds_per_row()
        if pace is None or self.started_at is None:
            return None
        rows_left = max(self.request.progress_rows() - len(self.rows), 0)
        since_last = time.monotonic() - self.row_times[len(self.rows) - 1]
        return max(rows_left * pace - since_last, 0.0)

    def pace(self) -> tuple[float, float] | None:
        """(seconds per unit of `Request.work`, seconds to the first row), from its rows."""
        per_row = self.seconds_per_row()
        if per_row is None or self.started_at is None:
            return None
        per_work = per_row * self.request.progress_rows() / max(self.request.work(), 1)
        return per_work, self.row_times[0] - self.started_at

    @property
    def elapsed(self) -> float:
        """Seconds since training started (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.monotonic()) - self.started_at


@dataclass(frozen=True)
class Lookup:
    """A finished result (or None) and its origin: `JOB` (trained by this process), `STORE`
    (trained before, read from disk), `GALLERY` (precomputed, shipped) or "" (none)."""

    result: Result | None
    origin: str
