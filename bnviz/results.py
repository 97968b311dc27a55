"""The jobs a server process knows and the finished results it keeps, with the store and the
gallery behind them: which result a request is answered with, and where it came from."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from bnviz.job import DONE, FAILED, GALLERY, JOB, STOPPED, STORE, Job, Lookup
from bnviz.request import Request, Result
from bnviz.store import ResultsStore

log = logging.getLogger("bnviz.jobs")

# Finished results (trained here, or read from the store) are kept in memory for the next
# rerun and the next viewer, the most recently asked for first, up to this many (a
# comparison is about 100 kB, with the views the page builds of it a few hundred); older
# ones are read from disk again when asked for. A result the store could not save is kept
# regardless, since nothing else holds it.
RESULTS_KEPT = 32


class ResultCache:
    """Every job of this process by its request's hash, and a bound on the finished ones.

    ``lock`` guards the table; `bnviz.jobs.JobManager` holds it too while it changes the
    table and its queue together.
    """

    def __init__(self, store: ResultsStore, gallery: Any = None,
                 results_kept: int = RESULTS_KEPT) -> None:
        self.store = store
        self.gallery = gallery  # precomputed results: anything with load(request) -> result
        self.results_kept = results_kept
        self.lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._kept: OrderedDict[str, Job] = OrderedDict()  # finished; least recently asked first
        # Answers read from a finished result that holds them (`answered_by_another`), each
        # made once, so that every viewer shares it (and the views built of it).
        self._derived: OrderedDict[str, Lookup] = OrderedDict()
        # Why results cannot be kept (a store that cannot be written), for the page to say;
        # None while saving works. Checked once here, updated by every save.
        self.store_problem: str | None = store.check_writable()
        store.sweep_temporary()
        store.evict()  # a limit lowered since the last start holds from now

    def get(self, key: str) -> Job | None:
        """The job of the request hashed ``key``, if this process knows one."""
        with self.lock:
            return self._jobs.get(key)

    def put(self, job: Job) -> None:
        """``job`` is now its request's job (a fresh one replaces a kept finished one)."""
        key = job.request.config_hash()
        with self.lock:
            self._jobs[key] = job
            if self._kept.get(key) is not job:
                self._kept.pop(key, None)

    def drop(self, job: Job) -> None:
        """Forget ``job`` if it is still its request's job."""
        key = job.request.config_hash()
        with self.lock:
            if self._jobs.get(key) is job:
                del self._jobs[key]

    def keep(self, job: Job) -> None:
        """Keep the finished ``job`` as the most recently asked for, and forget the least
        recently asked for finished jobs beyond the bound whose result is saved (they are
        read from the store again when asked for)."""
        key = job.request.config_hash()
        with self.lock:
            self._kept[key] = job
            self._kept.move_to_end(key)
            for old in [k for k, kept in self._kept.items() if kept.saved]:
                if len(self._kept) <= self.results_kept:
                    break
                if self._jobs.get(old) is self._kept.pop(old):
                    del self._jobs[old]

    def kept_count(self) -> int:
        """How many finished results this process keeps in memory now."""
        with self.lock:
            return len(self._kept)

    def trained(self, request: Request) -> Lookup:
        """A finished job's result, else the store's; (None, `JOB`) while a job trains.

        A result read from the store is kept as a finished job, so later reruns and other
        viewers of the same request do not read the file again.
        """
        key = request.config_hash()
        with self.lock:
            job = self._jobs.get(key)
            if key in self._kept:
                self._kept.move_to_end(key)
        if job is not None and job.live:
            return Lookup(job.result, job.origin if job.status in (DONE, STOPPED) else JOB)
        stored = self.store.load(request)
        if stored is None:
            return Lookup(None, "")
        with self.lock:
            current = self._jobs.get(key)
            if current is None or current.status == FAILED:
                job = Job(request, STOPPED if stored.partial else DONE, result=stored,
                          origin=STORE, saved=True)
                self._jobs[key] = job
                self.keep(job)
        return Lookup(stored, STORE)

    def lookup(self, request: Request, own: bool = False) -> Lookup:
        """The finished result of ``request`` and where it came from: its finished job,
        else the store, else the gallery, else one cut from another finished run that holds
        it (`answered_by_another`); also while a job of it trains or after it failed. A
        partial result (a stopped training) gives way to a whole one (the gallery's, or a
        cut): a class opening the landing link sees the precomputed result, whoever stopped
        a training of it; except for a session that asked to train it (``own``), which
        sees what its stopped training had done."""
        job = self.get(request.config_hash())
        if own and job is not None and job.status == STOPPED and job.result is not None:
            return Lookup(job.result, JOB)
        trained = self.trained(request)
        if trained.result is None or trained.result.partial:
            precomputed = self.gallery.load(request) if self.gallery is not None else None
            if precomputed is not None:
                return Lookup(precomputed, GALLERY)
            derived = self.answered_by_another(request)
            if derived is not None:
                return derived
        return trained

    def answered_by_another(self, request: Request) -> Lookup | None:
        """``request``'s answer read from another finished result that holds it
        (`bnviz.request.Request.answer_from`: fewer epochs or seeds of a longer run), with
        that result's origin: this process's finished jobs first, then the gallery's."""
        key = request.config_hash()
        with self.lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]
            sources = [(job.result, job.origin) for job in self._jobs.values()
                       if job.status == DONE and job.result is not None]
        if self.gallery is not None:
            sources += [(result, GALLERY) for result in self.gallery.holding(request)]
        for source, origin in sources:
            answer = request.answer_from(source)
            if answer is not None:
                with self.lock:
                    found = self._derived.setdefault(key, Lookup(answer, origin))
                    while len(self._derived) > self.results_kept:
                        self._derived.popitem(last=False)
                return found
        return None

    def jobs(self) -> list[Job]:
        """Every job this process knows now."""
        with self.lock:
            return list(self._jobs.values())

    def takes_place(self, job: Job, result: Result) -> bool:
        """Whether the ended ``job``'s ``result`` is stored: unless it is partial and someone
        asked for the request again while it was stopping (a fresh job that is still live
        takes the place of a partial result). Puts ``job`` back as its request's job where
        its replacement was withdrawn or failed."""
        with self.lock:
            current = self._jobs.get(job.request.config_hash())
            replaced = current is not None and current is not job and current.live
            if current is None or (current is not job and not replaced):
                self.put(job)
            return not (result.partial and replaced)

    def save(self, job: Job, result: Result) -> None:
        """Store ``job``'s ``result``; a full or read-only disk keeps it in memory only, and
        `store_problem` says why."""
        with self.lock:  # the results viewers are shown now stay on disk too
            shown = frozenset(self._kept) | {key for key, kept in self._jobs.items()
                                             if kept.live}
        try:
            self.store.save(job.request, result, keep=shown)
            self.store_problem = None
            job.saved = True
        except OSError as error:
            log.warning("results store: cannot save %s (%s); serving from memory",
                        job.request.config_hash(), error)
            self.store_problem = f"{type(error).__name__}: {error}"
