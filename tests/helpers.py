"""Small waiting helpers shared by the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.01)


def run_until_results(at: AppTest, timeout: float = 180) -> AppTest:
    """Rerun the page until the results' tabs appear, failing on any exception or error."""
    deadline = time.monotonic() + timeout
    at.run()
    while not at.tabs:
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        if time.monotonic() > deadline:
            pytest.fail("training did not finish in time")
        time.sleep(0.5)
        at.run()
    return at
