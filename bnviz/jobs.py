"""Training jobs that live outside any page script run.

One `JobManager` per server process (the app keeps it in ``st.cache_resource``).
A job is keyed by its request's hash, so every session asking for the same
request shares one job and watches the same progress rows. Jobs wait in a FIFO
queue and at most ``max_running`` train at once (`bnviz.scheduler`); a rerun, a
widget click or a closed tab never touches them, since they belong to worker
threads, not to sessions. Finished results go to the `ResultsStore`, from which
later requests (also after a server restart) are served without training
(`bnviz.results`); a queued job's wait is estimated by `bnviz.wait`.

The manager handles any `bnviz.request.Request` the same way: it needs only its
hash, and it hands the request to a runner.

Who may do what: a job remembers the sessions that asked for it (``requesters``, in
order). A session trains one thing at a time: asking for a second while its first is
queued or running gives back the first (`submit`). Only the session that started a job
may stop it while it runs (`stop`); it then ends at its next step with a partial result,
marked (``result.partial``), kept and stored like any other, and replaced by a fresh job
when someone asks to train it again. A queued job is withdrawn when every session that
asked for it has left (`leave`). Other viewers can only stop watching, the page's affair.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bnviz import wait
from bnviz.caps import QueueCaps, QueueFull
from bnviz.job import (
    DONE,
    ENDED,
    FAILED,
    GALLERY,
    JOB,
    QUEUED,
    RUNNING,
    STOPPED,
    STORE,
    WITHDRAWN,
    Job,
    Lookup,
    Status,
)
from bnviz.memory import MemoryBudget
from bnviz.request import FunctionRunner, Request, Result, Runner, as_runner
from bnviz.results import RESULTS_KEPT, ResultCache
from bnviz.scheduler import Scheduler
from bnviz.store import ResultsStore

# The names the page and the tests know jobs by, from where they are defined.
__all__ = ["DONE", "ENDED", "FAILED", "GALLERY", "JOB", "QUEUED", "RESULTS_KEPT", "RUNNING",
           "STOPPED", "STORE", "WITHDRAWN", "Job", "JobManager", "Lookup", "QueueFull", "Status",
           "run_here"]


def _run_request_here(request: Request, on_progress: Any = None, should_stop: Any = None) -> Any:
    from bnviz.training import run_request  # TensorFlow only when training

    return run_request(request, on_progress, should_stop)


run_here: Runner = FunctionRunner(_run_request_here)  # trains in this process


class JobManager(Scheduler):
    """Deduplicated, queued training jobs shared by all sessions of a process, and the
    results they are answered with."""

    def __init__(self, store: ResultsStore, max_running: int = 1,
                 runner: Runner | Callable[..., Any] | None = None, gallery: Any = None,
                 budget: MemoryBudget | None = None, caps: QueueCaps | None = None) -> None:
        super().__init__(ResultCache(store, gallery), as_runner(runner or run_here),
                         max_running, budget, caps)
        self.store = store

    @property
    def gallery(self) -> Any:
        """The precomputed results (`bnviz.gallery.Gallery`), or None."""
        return self.results.gallery

    @property
    def store_problem(self) -> str | None:
        """Why results cannot be saved on this server, or None while saving works."""
        return self.results.store_problem

    @property
    def results_kept(self) -> int:
        """How many saved finished results are kept in memory at most."""
        return self.results.results_kept

    @results_kept.setter
    def results_kept(self, count: int) -> None:
        self.results.results_kept = count

    def lookup(self, request: Request, own: bool = False) -> Lookup:
        """The result ``request`` is answered with, and its origin (`ResultCache.lookup`;
        ``own``: the session asking asked to train it)."""
        return self.results.lookup(request, own)

    def result_for(self, request: Request) -> Result | None:
        """The finished result of ``request``, wherever it came from (see `lookup`)."""
        return self.lookup(request).result

    def queue_position(self, job: Job) -> int:
        """1 for the next job to start, 0 when not waiting."""
        with self._lock:
            return self._queue.index(job) + 1 if job in self._queue else 0

    def seconds_to_start(self, job: Job) -> float | None:
        """Estimated seconds until the queued ``job`` starts (`bnviz.wait`); None until a
        training has shown its pace."""
        with self._lock:
            if job not in self._queue:
                return 0.0
            running, ahead = list(self._active), self._queue[:self._queue.index(job)]
        return wait.seconds_to_start(running, ahead, self._last_pace, self.max_running,
                                     self._wind_down)

    def running_count(self) -> int:
        """How many jobs train right now."""
        with self._lock:
            return len(self._active)

    def pending_count(self) -> int:
        """How many jobs are training or waiting to."""
        with self._lock:
            return len(self._active) + len(self._queue)

    def kept_count(self) -> int:
        """How many finished results this process keeps in memory now."""
        return self.results.kept_count()

    def close(self) -> None:
        """Start no more jobs and end the runner's processes (its warm spare included).

        A training still running is stopped with its process, and its job fails.
        """
        with self._lock:
            self._closed = True
            self._queue.clear()
        self.runner.close()

    def cannot_train(self) -> str | None:
        """Why this server cannot train anything at all (its memory budget is smaller than
        the server and the smallest training), or None when it can."""
        return self.budget.cannot_train() if self.budget is not None else None
