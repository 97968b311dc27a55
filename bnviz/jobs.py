"""Training jobs that live outside any page script run.

One `JobManager` per server process (the app keeps it in ``st.cache_resource``).
A job is keyed by its configuration hash, so every session asking for the same
configuration shares one job and watches the same per-epoch rows. Jobs wait in
a FIFO queue and at most ``max_running`` train at once; a rerun, a widget click
or a closed tab never touches them, since they belong to worker threads, not to
sessions. Finished results go to the `ResultsStore`, from which later requests
(also after a server restart) are served without training.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from bnviz.results import HISTORY_COLUMNS, ResultsStore
from bnviz.tasks import Request, Result

log = logging.getLogger(__name__)

Trainer = Callable[..., Result]

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass
class Job:
    """One request's training (a comparison or a sweep), as every viewer sees it."""

    config: Request
    status: str = QUEUED
    rows: list[dict[str, Any]] = field(default_factory=list)  # progress rows as they come
    result: Result | None = None
    error: str | None = None
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def epochs_done(self) -> int:
        """Epochs that both models (baseline and BN) have finished."""
        return len(self.rows) // 2

    @property
    def elapsed(self) -> float:
        """Seconds since training started (0 while queued)."""
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.monotonic()) - self.started_at

    def history(self) -> pd.DataFrame:
        """The rows so far as a tidy history."""
        return pd.DataFrame(list(self.rows), columns=list(HISTORY_COLUMNS))


class JobManager:
    """Deduplicated, queued training jobs shared by all sessions of a process."""

    def __init__(self, store: ResultsStore, max_running: int = 1,
                 trainer: Trainer | None = None) -> None:
        self.store = store
        self.max_running = max(1, max_running)
        self._trainer = trainer
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self._running = 0
        # Why results cannot be kept (a store that cannot be written), for the page to say;
        # None while saving works. Checked once here, updated by every save.
        self.store_problem: str | None = store.check_writable()
        store.sweep_temporary()

    def _train(self, config: Request, on_epoch: Callable[[dict], None]) -> Any:
        if self._trainer is None:
            from bnviz.tasks import run_request  # TensorFlow only when training

            self._trainer = run_request
        return self._trainer(config, on_epoch=on_epoch)

    def stored(self, config: Request) -> Result | None:
        """The finished result of ``config`` from the store, if any."""
        return self.store.load(config)

    def get(self, config: Request) -> Job | None:
        """The job of ``config`` known to this process, if any."""
        with self._lock:
            return self._jobs.get(config.config_hash())

    def submit(self, config: Request) -> Job:
        """Ask for ``config`` to be trained: joins an existing job, or queues a new one.

        A job that failed is replaced by a fresh one; a stored result comes back
        as a finished job without training.
        """
        key = config.config_hash()
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status != FAILED:
                return job
        stored = self.store.load(config)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status != FAILED:
                return job
            if stored is not None:
                job = Job(config, status=DONE, result=stored)
                self._jobs[key] = job
                return job
            job = Job(config)
            self._jobs[key] = job
            self._queue.append(key)
            self._start_waiting_jobs()
            return job

    def queue_position(self, job: Job) -> int:
        """1 for the next job to start, 0 when not waiting."""
        with self._lock:
            key = job.config.config_hash()
            return self._queue.index(key) + 1 if key in self._queue else 0

    def running_count(self) -> int:
        """How many jobs train right now."""
        with self._lock:
            return self._running

    def _start_waiting_jobs(self) -> None:
        # Called with the lock held.
        while self._queue and self._running < self.max_running:
            job = self._jobs[self._queue.pop(0)]
            job.status = RUNNING
            job.started_at = time.monotonic()
            self._running += 1
            threading.Thread(target=self._run, args=(job,), daemon=True,
                             name=f"bnviz-train-{job.config.config_hash()}").start()

    def _run(self, job: Job) -> None:
        log.info("training started config=%s", job.config.config_hash())
        try:
            result = self._train(job.config, on_epoch=job.rows.append)
            try:
                self.store.save(result)
                self.store_problem = None
            except OSError as error:  # a full or read-only disk must not lose the result
                log.warning("results store: cannot save %s (%s); serving from memory",
                            job.config.config_hash(), error)
                self.store_problem = f"{type(error).__name__}: {error}"
            job.result = result
            job.status = DONE
        except Exception as error:
            log.error("training failed config=%s\n%s", job.config.config_hash(),
                      traceback.format_exc())
            job.error = f"{type(error).__name__}: {error}"
            job.status = FAILED
        finally:
            # The end of each training is logged too, so concurrency can be read from the log.
            log.info("training finished config=%s status=%s", job.config.config_hash(),
                     job.status)
            job.finished_at = time.monotonic()
            with self._lock:
                self._running -= 1
                self._start_waiting_jobs()
