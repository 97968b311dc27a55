"""The end of a page run waits until the server's event loop has taken its messages
(`ui.state.hand_over`): a rerun request that comes in meanwhile joins the running run's queue
instead of starting a new ScriptRunner, which would drop them (bench/README.md, the lost
tallies)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

from ui import state


@pytest.fixture
def server_loop(monkeypatch):
    """A real asyncio loop on its own thread, standing where the Streamlit server's is."""
    import streamlit.runtime

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runtime = SimpleNamespace(_get_async_objs=lambda: SimpleNamespace(eventloop=loop))
    monkeypatch.setattr(streamlit.runtime.Runtime, "instance", staticmethod(lambda: runtime))
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def test_a_run_ends_only_after_the_loop_handled_what_it_queued(server_loop, monkeypatch):
    monkeypatch.setattr(state, "HAND_OVER_SECONDS", 60.0)  # the wait ends on the loop, not late
    busy, release = threading.Event(), threading.Event()
    handled: list[str] = []

    def backlog() -> None:  # the run's own messages, still waiting on a busy loop
        busy.set()
        release.wait(30)
        handled.append("messages")

    server_loop.call_soon_threadsafe(backlog)
    busy.wait(30)
    ended = threading.Event()
    run = threading.Thread(target=lambda: (state.hand_over(), ended.set()))
    run.start()
    assert not ended.wait(0.3)  # the loop has not got to the run's messages yet
    release.set()
    assert ended.wait(20) and handled == ["messages"]
    run.join(10)


def test_without_a_server_a_run_ends_at_once(monkeypatch):
    import streamlit.runtime

    def no_runtime():
        raise RuntimeError("Runtime hasn't been created!")

    monkeypatch.setattr(streamlit.runtime.Runtime, "instance", staticmethod(no_runtime))
    monkeypatch.setattr(state, "HAND_OVER_SECONDS", 60.0)  # a wait would show as a minute
    started = time.monotonic()
    state.hand_over()
    assert time.monotonic() - started < 30


def test_in_apptest_a_run_does_not_wait(monkeypatch):
    """AppTest stands a mock in for the runtime: its loop runs nothing, so no wait."""
    from unittest.mock import MagicMock

    import streamlit.runtime

    monkeypatch.setattr(streamlit.runtime.Runtime, "instance",
                        staticmethod(lambda: MagicMock(spec=streamlit.runtime.Runtime)))
    monkeypatch.setattr(state, "HAND_OVER_SECONDS", 60.0)
    started = time.monotonic()
    state.hand_over()
    assert time.monotonic() - started < 30
