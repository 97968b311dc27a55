"""Training jobs that live outside any page script run.

One `JobManager` per server process (the app keeps it in ``st.cache_resource``).
A job is keyed by its request's hash, so every session asking for the same
request shares one job and watches the same progress rows. Jobs wait in a FIFO
queue and at most ``max_running`` train at once; a rerun, a widget click or a
closed tab never touches them, since they belong to worker threads, not to
sessions. Finished results go to the `ResultsStore`, from which later requests
(also after a server restart) are served without training.

The manager handles any `bnviz.request.Request` the same way: it needs only its
hash, and it hands the request to a runner.

Stopping: a job remembers the sessions that asked for it (``requesters``, in order).
Only the first of them, the one that started it, may stop it while it runs
(`JobManager.stop`); it then ends at its next step with a partial result, marked
(``result.partial``), kept and stored like any other, and replaced by a fresh job when
someone asks to train it again. A queued job is withdrawn when every session that asked
for it has withdrawn. Other viewers can only stop watching, which is the page's affair.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from bnviz.memory import REFUSE, WAIT, MemoryBudget
from bnviz.request import Request, Runner, TrainingStopped
from bnviz.store import ResultsStore

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
# Ended early by the session that started it: `Job.result` holds what was done (a partial
# result), or None when it was stopped before its first progress row.
STOPPED = "stopped"
ENDED = (DONE, FAILED, STOPPED)
JOB, STORE, GALLERY = "job", "store", "gallery"  # where a result shown comes from
# Finished results (trained here, or read from the store) are kept in memory for the next
# rerun and the next viewer, the most recently asked for first, up to this many (a
# comparison is about 100 kB, with the views the page builds of it a few hundred); older
# ones are read from disk again when asked for. A result the store could not save is kept
# regardless, since nothing else holds it.
RESULTS_KEPT = 32


@dataclass
class Job:
    """One request's training, as every viewer sees it."""

    request: Request
    status: str = QUEUED
    rows: list[dict[str, Any]] = field(default_factory=list)  # progress rows as they come
    result: Any | None = None
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
    stop_requested: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)  # set once it has ended

    @property
    def owner(self) -> str | None:
        """The session that may stop this job: the first that asked for it and still does."""
        return self.requesters[0] if self.requesters else None

    @property
    def replaceable(self) -> bool:
        """Whether asking for this request again starts a fresh job: after a failure or a
        stop (a partial result is served until then, never as if finished), also while a
        stopped job finishes its last epoch."""
        return self.status in (FAILED, STOPPED) or (
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

    result: Any | None
    origin: str


def run_here(request: Request, on_progress: Any = None, should_stop: Any = None) -> Any:
    """The in-process runner: `bnviz.training.run_request` (TensorFlow only when training)."""
    from bnviz.training import run_request

    return run_request(request, on_progress, should_stop)


class JobManager:
    """Deduplicated, queued training jobs shared by all sessions of a process."""

    def __init__(self, store: ResultsStore, max_running: int = 1,
                 runner: Runner | None = None, gallery: Any = None,
                 budget: MemoryBudget | None = None) -> None:
        self.store = store
        self.gallery = gallery  # precomputed results: anything with load(request) -> result
        # Trainings start only when they fit in it (see `bnviz.memory`); None: no limit.
        self.budget = budget
        self.max_running = max(1, max_running)
        self.runner: Runner = runner or run_here
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queue: list[str] = []
        self._running = 0
        # The jobs training now: a stopping job replaced by a fresh one in `_jobs` still
        # trains, and still counts for memory and for waiting times.
        self._active: list[Job] = []
        self._closed = False
        self._last_pace: tuple[float, float] | None = None  # of the last job that ended
        self.results_kept = RESULTS_KEPT
        self._kept: OrderedDict[str, Job] = OrderedDict()  # finished; least recently asked first
        # Why results cannot be kept (a store that cannot be written), for the page to say;
        # None while saving works. Checked once here, updated by every save.
        self.store_problem: str | None = store.check_writable()
        store.sweep_temporary()

    def get(self, request: Request) -> Job | None:
        """The job of ``request`` known to this process, if any."""
        with self._lock:
            return self._jobs.get(request.config_hash())

    def lookup(self, request: Request) -> Lookup:
        """The finished result of ``request`` and where it came from: its finished job, else
        the store, else the gallery (also while a job of it trains or after it failed). A
        partial result (a stopped training) gives way to the gallery's whole one: a class
        opening the landing link sees the precomputed result, whoever stopped a training of
        it (that session follows its own job, `get`)."""
        trained = self._trained(request)
        partial = getattr(trained.result, "partial", False)
        if (trained.result is None or partial) and self.gallery is not None:
            precomputed = self.gallery.load(request)
            if precomputed is not None:
                return Lookup(precomputed, GALLERY)
        return trained

    def _trained(self, request: Request) -> Lookup:
        """A finished job's result, else the store's; (None, `JOB`) while a job trains.

        A result read from the store is kept as a finished job, so later reruns and
        other viewers of the same request do not read the file again.
        """
        key = request.config_hash()
        with self._lock:
            job = self._jobs.get(key)
            if key in self._kept:
                self._kept.move_to_end(key)
        if job is not None and job.status != FAILED and not (
                job.status == STOPPED and job.result is None):
            return Lookup(job.result, job.origin if job.status in (DONE, STOPPED) else JOB)
        stored = self.store.load(request)
        if stored is None:
            return Lookup(None, "")
        with self._lock:
            current = self._jobs.get(key)
            if current is None or current.status == FAILED:
                status = STOPPED if getattr(stored, "partial", False) else DONE
                self._jobs[key] = Job(request, status, result=stored, origin=STORE, saved=True)
                self._keep(key)
        return Lookup(stored, STORE)

    def result_for(self, request: Request) -> Any | None:
        """The finished result of ``request``, wherever it came from (see `lookup`)."""
        return self.lookup(request).result

    def _keep(self, key: str) -> None:
        """Keep the finished job of ``key`` as the most recently asked for, and forget the
        least recently asked for finished jobs beyond the limit whose result is saved (they
        are read from the store again when asked for). Called with the lock held."""
        self._kept[key] = self._jobs[key]
        self._kept.move_to_end(key)
        for old in [k for k, job in self._kept.items() if job.saved]:
            if len(self._kept) <= self.results_kept:
                break
            if self._jobs.get(old) is self._kept.pop(old):
                del self._jobs[old]

    def kept_count(self) -> int:
        """How many finished results this process keeps in memory now."""
        with self._lock:
            return len(self._kept)

    def submit(self, request: Request, session: str | None = None) -> Job:
        """Ask for ``request`` to be trained: joins an existing job, or queues a new one.
        ``session`` names who asks: the first to ask may stop the job (`stop`).

        A job that failed or was stopped is replaced by a fresh one; a stored result comes
        back as a finished job without training.
        """
        # A stored result becomes a finished job here; the gallery is not consulted:
        # asking to train a precomputed configuration trains it.
        self._trained(request)
        key = request.config_hash()
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is closed")
            job = self._jobs.get(key)
            if job is not None and not job.replaceable:
                if session is not None and session not in job.requesters \
                        and job.status in (QUEUED, RUNNING):
                    job.requesters.append(session)
                return job
            job = Job(request, requesters=[session] if session is not None else [])
            self._jobs[key] = job
            self._kept.pop(key, None)
            self._queue.append(key)
            self._start_waiting_jobs()
            return job

    def stoppable(self, job: Job) -> bool:
        """Whether ``job``'s training can end early: a kind of request that stops (a
        comparison, not a sweep) on a runner that stops (not a Ray cluster)."""
        return getattr(self.runner, "stops", True) and getattr(job.request, "stoppable", False)

    def stop(self, job: Job, session: str) -> bool:
        """``session`` asks to end the running ``job``: it stops at its next step if this
        session started it. False (and nothing changes) otherwise: someone else started it,
        it is not running (any more), or this runner cannot stop trainings."""
        with self._lock:
            if job.status != RUNNING or session != job.owner or not self.stoppable(job):
                return False
            if not job.stop_requested.is_set():
                job.stop_requested.set()
                log.info("training stop asked config=%s", job.request.config_hash())
            return True

    def leave(self, job: Job, session: str) -> bool:
        """``session`` no longer asks for ``job``: withdrawn from the queue (the job leaves it
        when nobody is left waiting for it), or, for a running job someone else started, no
        longer counted among those who asked. The session that started a running job stays
        its owner (it stops it with `stop`). True when the session was among the askers."""
        with self._lock:
            if session not in job.requesters or job.status not in (QUEUED, RUNNING):
                return False
            if job.status == RUNNING and session == job.owner:
                return False
            job.requesters.remove(session)
            if job.status == RUNNING:
                return True
            key = job.request.config_hash()
            if not job.requesters and key in self._queue:
                self._queue.remove(key)
                if self._jobs.get(key) is job:
                    del self._jobs[key]
                job.status, job.finished_at = STOPPED, time.monotonic()
                job.ended.set()
                log.info("queued training withdrawn config=%s", key)
                self._start_waiting_jobs()  # a job behind it may fit now
            return True

    def queue_position(self, job: Job) -> int:
        """1 for the next job to start, 0 when not waiting."""
        with self._lock:
            key = job.request.config_hash()
            return self._queue.index(key) + 1 if key in self._queue else 0

    def seconds_to_start(self, job: Job) -> float | None:
        """Estimated seconds until the queued ``job`` starts: what the running jobs have
        left and what the jobs ahead of it will take, shared among the trainers. None
        until a training has shown its pace."""
        with self._lock:
            key = job.request.config_hash()
            if key not in self._queue:
                return 0.0
            running = list(self._active)
            ahead = [self._jobs[k] for k in self._queue[:self._queue.index(key)]]
            paces = [j.pace() for j in running] + [self._last_pace]
        pace = next((p for p in paces if p is not None), None)
        if pace is None:
            return None
        per_work, start_up = pace
        left = []
        for one in running:
            seconds = one.seconds_left()
            left.append(seconds if seconds is not None
                        else start_up + per_work * one.request.work())
        left += [start_up + per_work * one.request.work() for one in ahead]
        return sum(left) / self.max_running

    def running_count(self) -> int:
        """How many jobs train right now."""
        with self._lock:
            return self._running

    def pending_count(self) -> int:
        """How many jobs are training or waiting to."""
        with self._lock:
            return self._running + len(self._queue)

    def close(self) -> None:
        """Start no more jobs and end the runner's processes (its warm spare included).

        A training still running is stopped with its process, and its job fails.
        """
        with self._lock:
            self._closed = True
            self._queue.clear()
        close_runner = getattr(self.runner, "close", None)
        if close_runner is not None:
            close_runner()

    def cannot_train(self) -> str | None:
        """Why this server cannot train anything at all (its memory budget is smaller than
        the server and the smallest training), or None when it can."""
        return self.budget.cannot_train() if self.budget is not None else None

    def _start_waiting_jobs(self) -> None:
        # Called with the lock held.
        while self._queue and self._running < self.max_running:
            job = self._jobs[self._queue[0]]
            if self.budget is not None:
                running = [j.request for j in self._active]
                decision = self.budget.decide(job.request, running)
                if decision.verdict == WAIT:
                    return  # starts when a running training ends and frees its memory
                if decision.verdict == REFUSE:
                    self._queue.pop(0)
                    log.warning("training refused config=%s: %s", job.request.config_hash(),
                                decision.reason)
                    job.status, job.finished_at = FAILED, time.monotonic()
                    job.error = f"memory budget: {decision.reason}"
                    job.message = (f"This server cannot train these settings: "
                                   f"{decision.reason}. Try fewer training images; precomputed "
                                   "and stored results are served as usual.")
                    continue
            self._queue.pop(0)
            job.status = RUNNING
            job.started_at = time.monotonic()
            self._running += 1
            self._active.append(job)
            threading.Thread(target=self._run, args=(job,), daemon=True,
                             name=f"bnviz-train-{job.request.config_hash()}").start()

    def _run(self, job: Job) -> None:
        key = job.request.config_hash()
        log.info("training started config=%s", key)
        try:
            result = self.runner(job.request, on_progress=job.add_row,
                                 should_stop=job.stop_requested.is_set)
            with self._lock:
                current = self._jobs.get(key)
                # Someone asked for it again while it was stopping: a fresh job that is still
                # alive (queued, training or done) takes the place of a partial result.
                replaced = current is not None and current is not job and not (
                    current.status == FAILED or (current.status == STOPPED
                                                 and current.result is None))
                superseded = getattr(result, "partial", False) and replaced
                if current is None or (current is not job and not replaced):
                    self._jobs[key] = job  # its replacement was withdrawn, or failed
            try:
                if not superseded:
                    self.store.save(job.request, result)
                    self.store_problem = None
                    job.saved = True
            except OSError as error:  # a full or read-only disk must not lose the result
                log.warning("results store: cannot save %s (%s); serving from memory", key, error)
                self.store_problem = f"{type(error).__name__}: {error}"
            job.result = result
            job.status = STOPPED if getattr(result, "partial", False) else DONE
        except TrainingStopped as stopped:
            job.error = f"stopped: {stopped}"
            job.message = TrainingStopped.plain
            job.status = STOPPED
        except Exception as error:
            log.error("training failed config=%s\n%s", key, traceback.format_exc())
            job.error = f"{type(error).__name__}: {error}"
            job.message = getattr(error, "plain", None) or (
                f"Training failed: {job.error}. Your settings are kept: press Train to try "
                "again.")
            job.status = FAILED
        finally:
            # The end of each training is logged too, so concurrency can be read from the log.
            log.info("training finished config=%s status=%s", key, job.status)
            job.finished_at = time.monotonic()
            job.ended.set()
            with self._lock:
                self._running -= 1
                self._active.remove(job)
                self._last_pace = job.pace() or self._last_pace
                if job.status in (DONE, STOPPED) and job.result is not None \
                        and self._jobs.get(key) is job:
                    self._keep(key)
                self._start_waiting_jobs()
