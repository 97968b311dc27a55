"""Server-wide objects and the link (URL query) that holds the configuration."""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import logging
import os
import threading
import uuid

import streamlit as st

from bnviz.caps import QueueCaps, QueueFull
from bnviz.classroom import PARAMS as LESSON_PARAMS
from bnviz.classroom import STEP_PARAM
from bnviz.cluster import ADDRESS_VARIABLE, runner_from_environment
from bnviz.config import ExperimentConfig
from bnviz.gallery import Gallery
from bnviz.jobs import Job, JobManager
from bnviz.link import (
    PRESENT_PARAM,
    RUN_PARAM,
    LinkProblem,
    LinkReading,
    markdown_code,
    problems_markdown,
    read_link,
)
from bnviz.memory import MemoryBudget
from bnviz.page import Facts
from bnviz.presets import LANDING_PRESET, PRESETS
from bnviz.request import Request
from bnviz.store import ResultsStore, default_cache_dir
from bnviz.worker import default_runner


@st.cache_resource(on_release=JobManager.close)
def job_manager(cache_dir: str, max_running: int) -> JobManager:
    """The process-wide job manager: one per results directory, shared by every session.

    Released (its training processes ended) when the cache is cleared, and when the
    server exits.
    """
    logger = logging.getLogger("bnviz")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    budget = MemoryBudget()
    cluster = runner_from_environment(lambda: default_runner(budget))
    if cluster is not None:  # trainings use the cluster's memory, not this box's
        logger.info("trainings go to the Ray cluster at %s", os.environ[ADDRESS_VARIABLE])
        return JobManager(ResultsStore(cache_dir), max_running=max_running, runner=cluster,
                          gallery=Gallery(), caps=QueueCaps.from_environment())
    logger.info("memory budget %.0f MB (%s)", budget.budget_mb, budget.source)
    if budget.cannot_train():  # the operator's figures; the page tells students what works
        logger.warning("this server cannot train: %s", budget.cannot_train())
    return JobManager(ResultsStore(cache_dir), max_running=max_running,
                      runner=default_runner(budget), gallery=Gallery(), budget=budget,
                      caps=QueueCaps.from_environment())


atexit.register(job_manager.clear)  # ends the training processes when the server exits


def shared_job_manager() -> JobManager:
    """The job manager for this server's settings (``BNVIZ_CACHE_DIR``, ``BNVIZ_MAX_JOBS``)."""
    try:
        max_running = int(os.environ.get("BNVIZ_MAX_JOBS", "1"))
    except ValueError:
        max_running = 1
    return job_manager(str(default_cache_dir()), max_running)


def link_reading(gallery: Gallery | None) -> LinkReading:
    """What the link asks for: its configuration, the problems found in it, whether it asks
    to run and to present (for a projector).

    Bad, unknown or repeated parameters are reported (see `bnviz.link.read_link`);
    bad ones are replaced by their defaults. A visit without settings in its link opens on
    the blog post's preset, whose precomputed result the gallery shows at once.
    """
    reading = read_link({key: st.query_params.get_all(key) for key in st.query_params})
    if not set(st.query_params) - {PRESENT_PARAM}:
        landing = PRESETS[LANDING_PRESET][0]
        reading = dataclasses.replace(
            reading, config=gallery.preset_config(landing) if gallery else landing)
    return reading


def forget_run_request() -> None:
    """Take ``run`` out of the link once it has been acted on."""
    st.query_params.pop(RUN_PARAM, None)


def show_link_problems(problems: list[LinkProblem]) -> None:
    """One warning per bad link parameter; link text is escaped, never rendered as markup."""
    for text in problems_markdown(problems):
        st.warning(text)


def show_server_problems(manager: JobManager) -> None:
    """Say when this server cannot train: its Ray cluster is out of reach, or its memory
    budget holds no training at all."""
    if manager.runner.problem:
        st.warning(manager.runner.problem)
    cannot_train = manager.cannot_train()
    if cannot_train:
        st.info(SMALL_BOX_MESSAGE)
        with st.expander("Why, for the server's operator"):
            st.markdown(f"Not even the smallest training fits in this server's memory: "
                        f"{cannot_train}. Give the app a bigger box, or set "
                        "`BNVIZ_MEMORY_BUDGET_MB` where the box has room (the repository's "
                        "docs/deploy.md, *Memory budget*).")


# What a student can do on a box too small to train (the operator's figures are a click away
# and in the log, `bnviz.memory`).
SMALL_BOX_MESSAGE = ("This server is too small to train new settings. The precomputed "
                     "presets, the what-ifs they hold and the lessons all work as usual; "
                     "training other settings needs a bigger server.")


def show_store_notices(manager: JobManager, request: Request) -> None:
    """Say when results cannot be kept, or when a stored result was unreadable."""
    if manager.store_problem:
        st.warning("Results cannot be saved on this server, so they last only until it "
                   "restarts; training works as usual. "
                   f"({markdown_code(manager.store_problem, 160)})")
    reason = manager.store.discarded.get(request.config_hash())
    if reason:
        st.info("The stored result of these settings could not be read, so it was discarded "
                f"and will be trained again. ({markdown_code(reason, 160)})")


VIEW = "view"  # session state: the page's last `bnviz.page.View` (read by tests)
_ASKED = "asked_to_train"  # session state: hash -> request, of what this session asked to train
_SESSION = "session_id"  # session state: who this session is to the job manager (stopping)
_UNWATCHED = "not_watching"  # session state: hashes of trainings this session stopped watching


def session_id() -> str:
    """This browser session's name for the job manager: the session that starts a training
    is the one that may stop it."""
    return st.session_state.setdefault(_SESSION, uuid.uuid4().hex)


def stop_watching(request: Request) -> None:
    """This session no longer follows the training of ``request`` (it goes on for others)."""
    st.session_state.setdefault(_UNWATCHED, set()).add(request.config_hash())


def watch_again(request: Request) -> None:
    """This session follows the training of ``request`` again."""
    st.session_state.setdefault(_UNWATCHED, set()).discard(request.config_hash())


def watching(request: Request) -> bool:
    """Whether this session follows the training of ``request`` (unless it stopped)."""
    return request.config_hash() not in st.session_state.get(_UNWATCHED, set())


def remember_asked(request: Request) -> None:
    """Note that this session asked to train ``request``: it then follows that training."""
    st.session_state.setdefault(_ASKED, {})[request.config_hash()] = request


def asked_here(request: Request) -> bool:
    """Whether this session asked to train ``request``."""
    return request.config_hash() in st.session_state.get(_ASKED, {})


def busy_job(manager: JobManager, other_than: Request) -> Job | None:
    """This session's training of settings other than ``other_than``'s, still queued or
    running, if any (a session trains one thing at a time: `JobManager.submit`)."""
    return manager.busy_job(session_id(), other_than=other_than)


def page_facts(manager: JobManager, request: Request, train_asked: bool) -> Facts:
    """What the page decides its view from (`bnviz.page.decide`), for this session."""
    own = asked_here(request)
    return Facts(job=manager.get(request), found=manager.lookup(request, own),
                 busy=busy_job(manager, request), train_asked=train_asked, asked_here=own,
                 watching=watching(request))


def submit_for_session(manager: JobManager, request: Request) -> Job | None:
    """Train ``request`` for this session: joins or queues its job, unless the session
    already has another job queued or running, which is then returned instead. None, and
    a warning saying why and what to do, when the server or this visitor's address has as
    many trainings waiting as it takes (`bnviz.caps`)."""
    try:
        job = manager.submit(request, session=session_id(), address=st.context.ip_address)
    except QueueFull as full:
        st.warning(full.plain)
        return None
    if job.request == request:
        remember_asked(request)
        watch_again(request)
    return job


def write_url(config: ExperimentConfig, step: int | None = None) -> None:
    """Put the configuration in the link, so that copying it shares these settings (a
    presentation switch, a lesson's or a class's parameters and a ``hide=`` in the link
    stay); in a class, ``step`` says which step the settings were chosen at."""
    kept = {name: st.query_params.get_all(name)[-1] for name in (PRESENT_PARAM, *LESSON_PARAMS)
            if st.query_params.get_all(name)}
    if step is not None:
        kept[STEP_PARAM] = str(step)
    st.query_params.from_dict({**config.to_mapping(), **kept})


# How long the end of a page run waits for the server to take its messages (`hand_over`).
HAND_OVER_SECONDS = 2.0


def hand_over() -> None:
    """Wait, at the very end of a page run (at most `HAND_OVER_SECONDS`), until the server's
    event loop has taken every message the run drew.

    Why: Streamlit 1.67 loses the last messages of a run that has ended when a rerun request
    comes in before its event loop got to them. The ended run's ScriptRunner cannot take the
    request, so a new one is started, and the old one's queued events are dropped as
    "from a non-current ScriptRunner" (`AppSession._handle_scriptrunner_event_on_event_loop`).
    A `run_every` fragment's timer asks for such reruns every second whatever the page is
    doing, so on a busy server the end of a page (a class's tally after a Reveal, traced in
    `bench/soak.py`) never reached some students. While this run waits it is still running,
    so a rerun request joins its queue instead, and the events ahead of the wait are handled
    first: the loop runs callbacks in order. What the wait proves is that the messages are in
    the session's outgoing queue (which a fragment run's start keeps); the run's own end is
    sent after it, so a rerun in that last gap can still cost the browser that one message.
    Outside a server (AppTest's runtime is a stand-in), or if Streamlit's internals move,
    there is nothing to wait for.
    """
    try:
        from streamlit.runtime import Runtime

        loop = Runtime.instance()._get_async_objs().eventloop
    except Exception:  # no server runtime, or another Streamlit: no wait
        return
    if not (isinstance(loop, asyncio.AbstractEventLoop) and loop.is_running()):
        return  # AppTest's stand-in runtime (a mock) or a server shutting down: no loop
    handled = threading.Event()
    try:
        loop.call_soon_threadsafe(handled.set)
    except RuntimeError:  # the loop is closing: the server is shutting down
        return
    handled.wait(HAND_OVER_SECONDS)
