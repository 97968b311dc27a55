"""What the page shows for a request and a session, decided as plain data.

The page script gathers the facts (the job of the settings asked for, the result they are
answered with, the session's other training, what the session did) and draws the `View`
that `decide` returns; the controls a training offers this session are `training_control`'s.
No Streamlit here, so every case is a unit test (tests/test_page.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bnviz.job import FAILED, QUEUED, RUNNING, STOPPED, Job, Lookup


class Body(StrEnum):
    """What the page's body shows."""

    BUSY = "busy"  # this session's other training, instead of queuing a second
    LIVE = "live"  # the training of these settings, as it goes
    NOT_WATCHING = "not watching"  # this viewer stopped watching; it trains on for others
    RESULT = "result"  # a finished (or partial) result, with where it came from
    ABOUT = "about"  # a failed training with nothing else to show: the explanation
    WELCOME = "welcome"  # nothing trained yet: choose a preset or press Train


class Control(StrEnum):
    """A button (or a note in its place) this session is offered."""

    STOP = "stop"  # end the training it started
    STOPPING = "stopping"  # it asked to stop; the training ends at its next step
    WITHDRAW = "withdraw"  # leave the queue
    STOP_WATCHING = "stop watching"  # another's training: stop following it
    WATCH_AGAIN = "watch again"


NOT_WATCHING = ("You stopped watching this training; it goes on for whoever started it, and "
                "its result will be here when it is done.")


@dataclass(frozen=True)
class Facts:
    """What the page knows about the settings asked for and about this session."""

    job: Job | None  # the job of these settings, if this server has one
    found: Lookup  # the result they are answered with (`JobManager.lookup`, own=asked_here)
    busy: Job | None  # this session's training of other settings, queued or running
    train_asked: bool  # this page run asked to train these settings (Train, a preset, run=1)
    asked_here: bool  # this session asked to train these settings, now or before
    watching: bool  # this session follows their training (it did not stop watching)


@dataclass(frozen=True)
class View:
    """What the page draws, top to bottom: a message, then the body."""

    body: Body
    result: Any | None = None  # for `Body.RESULT`
    origin: str = ""  # where that result came from (`bnviz.job.JOB`, `STORE`, `GALLERY`)
    training: bool = False  # a training of these settings goes on meanwhile
    busy: Job | None = None  # for `Body.BUSY`
    error: str | None = None  # a failed training, said above the body
    notice: str | None = None  # a training stopped before it had anything to show
    controls: tuple[Control, ...] = ()  # offered under the body


def decide(facts: Facts) -> View:
    """The view of the page for these facts."""
    job, found = facts.job, facts.found
    training = job is not None and job.status in (QUEUED, RUNNING)
    failed = job is not None and job.status == FAILED
    error = (job.message or f"Training failed: {job.error}.") if failed and (
        facts.asked_here or found.result is None) else None
    # Whoever stopped a training before its first epoch is told so; others see what there is.
    notice = job.message if (job is not None and job.status == STOPPED and facts.asked_here
                             and job.result is None) else None
    # A session trains one thing at a time: asked for a second, or with nothing else to
    # show, the page shows the one it has running.
    busy = facts.busy if facts.busy is not None and (
        facts.train_asked or (found.result is None and not training)) else None
    said = {"error": error, "notice": notice, "training": training}
    if busy is not None:
        return View(Body.BUSY, busy=busy, **said)
    if training and facts.watching and (facts.asked_here or found.result is None):
        return View(Body.LIVE, **said)
    if training and found.result is None:
        return View(Body.NOT_WATCHING, controls=(Control.WATCH_AGAIN,), **said)
    if found.result is not None:
        return View(Body.RESULT, result=found.result, origin=found.origin, **said)
    return View(Body.ABOUT if failed else Body.WELCOME, **said)


def training_control(job: Job, session: str, stoppable: bool) -> Control | None:
    """What ``session`` may do to the training it sees: stop it (the session that started
    it, where the training can stop), withdraw it from the queue (a session that queued
    it), or stop watching it (any other viewer: the training goes on for the others)."""
    if job.status == RUNNING and session == job.owner:
        if not stoppable:
            return None  # a sweep, or a cluster's training: it runs to its end
        return Control.STOPPING if job.stop_requested.is_set() else Control.STOP
    if job.status == QUEUED and session in job.requesters:
        return Control.WITHDRAW
    return Control.STOP_WATCHING
