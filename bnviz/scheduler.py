"""The scheduler of training jobs: a FIFO queue, at most ``max_running`` at once within the
memory budget, who asked for each job, stops and withdrawals, and each training's end.

`bnviz.jobs.JobManager` is the scheduler with the results it serves; see there for the rules.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from bnviz import wait
from bnviz.caps import QueueCaps, QueueFull
from bnviz.job import DONE, FAILED, QUEUED, RUNNING, STOPPED, WITHDRAWN, Job, Status
from bnviz.memory import REFUSE, START, WAIT, MemoryBudget
from bnviz.request import Request, Result, Runner, TrainingStopped
from bnviz.results import ResultCache

log = logging.getLogger("bnviz.jobs")


class Scheduler:
    """Queued and running jobs; the table of jobs and finished results is ``results``."""

    def __init__(self, results: ResultCache, runner: Runner, max_running: int,
                 budget: MemoryBudget | None, caps: QueueCaps | None = None) -> None:
        self.results = results
        self.caps = caps or QueueCaps()
        self.runner = runner
        self.max_running = max(1, max_running)
        # Trainings start only when they fit in it (see `bnviz.memory`); None: no limit.
        self.budget = budget
        self._lock = results.lock  # one lock for the table of jobs and the queue
        self._queue: list[Job] = []
        # The jobs training now: a stopping job replaced by a fresh one still trains, and
        # still counts for memory and for waiting times.
        self._active: list[Job] = []
        self._closed = False
        self._last_pace: tuple[float, float] | None = None  # of the last job that ended
        self._wind_down = 0.0  # seconds from its last row to its end, of the last job done

    def get(self, request: Request) -> Job | None:
        """The job of ``request`` known to this process, if any."""
        return self.results.get(request.config_hash())

    def submit(self, request: Request, session: str | None = None,
               address: str | None = None) -> Job:
        """Ask for ``request`` to be trained for ``session`` (from client ``address``, when
        known): joins an existing job, or queues a new one. A session that has another job
        queued or running gets that one back instead (one visitor cannot fill the queue). A
        job that failed or was stopped is replaced by a fresh one; a stored result comes
        back as a finished job. A new job beyond the server's or the address's cap
        (`bnviz.caps`) raises `QueueFull`, saying why and when to come back."""
        # The gallery is not consulted: asking to train a precomputed configuration trains it.
        self.results.trained(request)
        with self._lock:
            if self._closed:
                raise RuntimeError("the job manager is closed")
            busy = self.busy_job(session, other_than=request) if session is not None else None
            if busy is not None:
                return busy
            job = self.get(request)
            if job is not None and not job.replaceable:
                if session is not None and session not in job.requesters and job.training:
                    job.requesters.append(session)
                    if address:
                        job.addresses[session] = address
                return job
            _refuse_over_caps(self.caps, self._queue, self._active, address,
                              lambda: wait.seconds_to_start(
                                  self._active, self._queue, self._last_pace,
                                  self.max_running, self._wind_down))
            job = Job(request, requesters=[session] if session is not None else [],
                      addresses={session: address} if session and address else {})
            self.results.put(job)
            self._queue.append(job)
            self._start_waiting_jobs()
            return job

    def busy_job(self, session: str, other_than: Request | None = None) -> Job | None:
        """The job other than ``other_than``'s that ``session`` asked for and that is still
        queued or running, if any (a session that left a job is not among its askers)."""
        key = other_than.config_hash() if other_than is not None else None
        with self._lock:
            return next((job for job in self._queue + self._active
                         if session in job.requesters and job.request.config_hash() != key
                         and job.training), None)

    def stoppable(self, job: Job) -> bool:
        """Whether ``job``'s training can end early: a kind of request that stops (a
        comparison, not a sweep) on a runner that stops (not a Ray cluster)."""
        return self.runner.stops and job.request.stoppable

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
            if session not in job.requesters or not job.training or (
                    job.status == RUNNING and session == job.owner):
                return False
            job.requesters.remove(session)
            if job.status == QUEUED and not job.requesters and job in self._queue:
                self._queue.remove(job)
                self.results.drop(job)
                job.status, job.finished_at = WITHDRAWN, time.monotonic()
                job.ended.set()
                log.info("queued training withdrawn config=%s", job.request.config_hash())
                self._start_waiting_jobs()  # a job behind it may fit now
            return True

    def _start_waiting_jobs(self) -> None:
        # Called with the lock held.
        while self._queue and len(self._active) < self.max_running:
            job = self._queue[0]
            verdict = _admission(self.budget, job, self._active)
            if verdict == WAIT:
                return  # starts when a running training ends and frees its memory
            self._queue.pop(0)
            if verdict == REFUSE:
                continue  # failed, with the reason; the next one may fit
            job.status, job.started_at = RUNNING, time.monotonic()
            self._active.append(job)
            threading.Thread(target=self._run, args=(job,), daemon=True,
                             name=f"bnviz-train-{job.request.config_hash()}").start()

    def _run(self, job: Job) -> None:
        key = job.request.config_hash()
        log.info("training started config=%s", key)
        outcome = _train(self.runner, job)
        try:
            if outcome.result is not None and self.results.takes_place(job, outcome.result):
                self.results.save(job, outcome.result)
        except Exception as error:  # a result its request cannot encode: a failure too
            outcome = _failed(job, error)
        with self._lock:
            job.status, job.result = outcome.status, outcome.result
            job.error, job.message = outcome.error, outcome.message
            job.finished_at = time.monotonic()
            # The end of each training is logged too, before the next one starts, so that
            # concurrency can be read from the log.
            log.info("training finished config=%s status=%s", key, job.status)
            job.ended.set()
            self._active.remove(job)
            self._last_pace = job.pace() or self._last_pace
            if job.status == DONE and job.row_times:
                self._wind_down = job.finished_at - job.row_times[-1]
            if job.status in (DONE, STOPPED) and job.result is not None \
                    and self.results.get(key) is job:
                self.results.keep(job)
            self._start_waiting_jobs()


def _refuse_over_caps(caps: QueueCaps, queue: list[Job], active: list[Job],
                      address: str | None, wait_seconds: Callable[[], float | None]) -> None:
    """Raise `QueueFull` when a new job for ``address`` would pass one of ``caps``
    (``wait_seconds``: when the last in the queue would start). Called with the lock held."""
    of_address = sum(1 for job in queue + active
                     if address is not None and job.owner_address == address)
    refused = caps.refusal(len(queue), of_address, address, wait_seconds())
    if refused is not None:
        log.warning("training refused: queue %d, address %d", len(queue), of_address)
        raise QueueFull(refused)


def _admission(budget: MemoryBudget | None, job: Job, active: list[Job]) -> str:
    """`bnviz.memory`'s verdict on starting ``job`` beside the ``active`` ones; a refused job
    (the budget can never hold it) is marked failed, with the reason."""
    if budget is None:
        return START
    decision = budget.decide(job.request, [j.request for j in active])
    if decision.verdict == REFUSE:
        log.warning("training refused config=%s: %s", job.request.config_hash(),
                    decision.reason)
        job.status, job.finished_at = FAILED, time.monotonic()
        job.error = f"memory budget: {decision.reason}"
        job.message = (f"This server cannot train these settings: {decision.reason}. Try "
                       "fewer training images; precomputed and stored results are served as "
                       "usual.")
    return decision.verdict


@dataclass(frozen=True)
class _Outcome:
    """How a training ended: its status, result and, for the page, what went wrong."""

    status: Status
    result: Result | None = None
    error: str | None = None
    message: str | None = None


def _train(runner: Runner, job: Job) -> _Outcome:
    """Run ``job``'s request with ``runner``, reporting its rows to the job."""
    try:
        result = runner(job.request, on_progress=job.add_row,
                        should_stop=job.stop_requested.is_set)
    except TrainingStopped as stopped:
        return _Outcome(STOPPED, error=f"stopped: {stopped}", message=TrainingStopped.plain)
    except Exception as error:
        return _failed(job, error)
    return _Outcome(STOPPED if result.partial else DONE, result)


def _failed(job: Job, error: Exception) -> _Outcome:
    """A failed training, logged with its traceback, in plain words for the page."""
    log.error("training failed config=%s\n%s", job.request.config_hash(), traceback.format_exc())
    text = f"{type(error).__name__}: {error}"
    # Errors of training processes and clusters say what happened in plain words.
    plain = getattr(error, "plain", None)
    return _Outcome(FAILED, error=text, message=plain or (
        f"Training failed: {text}. Your settings are kept: press Train to try again."))
