"""Helpers shared by the tests: waiting for a condition, a page run to its results,
and a small made-up comparison result."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bnviz.comparison import HISTORY_COLUMNS, ComparisonRequest, ComparisonResult
from bnviz.config import ExperimentConfig
from bnviz.snapshots import Predictions

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
TINY_LINK = {"epochs": "2", "train_size": "256"}  # a link to a configuration that trains fast


def assert_identical(left: pd.DataFrame, right: pd.DataFrame) -> None:
    """Equal to the last bit, as "same seed, same curves" promises on one kind of CPU
    (pandas' default would let values within a relative 1e-5 pass)."""
    pd.testing.assert_frame_equal(left, right, check_exact=True)


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


def decided(at: AppTest):
    """What the page decided to show in its last run (`bnviz.page.decide`'s `View`)."""
    return at.session_state["view"]


def open_section(at: AppTest, section: str) -> AppTest:
    """Open one tab of the results (only the open tab is drawn)."""
    at.session_state["section"] = section
    at.run()
    assert not at.exception, at.exception
    return at


def page(**query: str | list[str]) -> AppTest:
    """The app with ``query`` as its link, not yet run."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    return at


def started_training(link: dict[str, str]):
    """The app run once with ``link`` and ``run=1``: ``(page, the shared job manager, the
    training job it started)``; fails when no training started."""
    import ui.state  # the app's own module, imported as the app imports it

    at = page(**link, run="1")
    at.run()
    manager = ui.state.shared_job_manager()
    job = manager.get(ComparisonRequest(ExperimentConfig.from_mapping(link)))
    assert job is not None, "run=1 started no training"
    return at, manager, job


def fake_result(config: ExperimentConfig) -> ComparisonResult:
    """A made-up result of ``config``: one epoch of each model on four test images."""
    history = pd.DataFrame(
        [["baseline", config.seed, 1, 0.5, 1.2, 0.4, 1.3, 0.1],
         ["BN after", config.seed, 1, 0.6, 1.0, 0.5, 1.1, 0.1]], columns=list(HISTORY_COLUMNS))
    probabilities = np.full((4, 10), 0.1, dtype=np.float32)
    probabilities[:, 3] = 0.2  # every image read as a dress
    return ComparisonResult(
        config=config, history=history, test_labels=np.arange(4),
        predictions=Predictions.from_probabilities(
            {"baseline": probabilities, "BN after": probabilities * 2}, epoch=1),
        layer_tables={"baseline": pd.DataFrame({"layer": ["dense"], "params": [5130]})},
        data_source="bundled sample")


def instant_runner(request: ComparisonRequest, on_progress=None,
                   should_stop=None) -> ComparisonResult:
    """A runner that trains nothing: the fake result at once."""
    return fake_result(request.config)


def prediction_alt_texts(at: AppTest) -> list[str]:
    """The alt texts of the predictions grid's pictures on the page (none: no grid)."""
    import html
    import re

    texts = []
    for element in at.get("html"):
        if "bnviz-predictions" in element.proto.body:
            texts += [html.unescape(text) for text in
                      re.findall(r'<img [^>]*alt="([^"]*)"', element.proto.body)]
    return texts
