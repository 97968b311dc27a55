"""Fuzzed links against the page: it always renders, names the bad parameter, uses defaults,
never trains a configuration that validation rejects, and never renders link text as markup.

Breadth runs through Streamlit's AppTest with a recording trainer (no TensorFlow); a few
hostile links also go through the real page in headless chromium.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import bnviz.config
import ui.state
from bnviz.config import ExperimentConfig
from tests.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
DEFAULT = ExperimentConfig()
LONG = "9" * 10_000


class RecordingTrainer:
    """Records what the page asks to train and holds each training until the test ends."""

    def __init__(self) -> None:
        self.configs: list[ExperimentConfig] = []
        self.release = threading.Event()

    def __call__(self, config, on_epoch=None):
        self.configs.append(config)
        self.release.wait(60)
        raise RuntimeError("recording trainer: not a real training")


@pytest.fixture
def trainer(monkeypatch):
    recording = RecordingTrainer()
    monkeypatch.setattr(ui.state, "default_trainer", lambda: recording)
    ui.state.job_manager.clear()
    yield recording
    recording.release.set()
    ui.state.job_manager.clear()


def _within_caps(config: ExperimentConfig) -> bool:
    """True when ``config`` passes validation again and respects the work cap, if any."""
    again = ExperimentConfig.from_mapping(config.to_mapping())  # raises if out of range
    cap = getattr(bnviz.config, "MAX_WORK", None)
    work = config.epochs * config.train_size * getattr(config, "seeds", 1)
    return again == config and (cap is None or work <= cap)


def _trained(trainer: RecordingTrainer, expected: int) -> list[ExperimentConfig]:
    """The configs handed to the trainer, once ``expected`` of them arrived (jobs start in
    threads); waits a little longer to catch any extra one."""
    deadline = time.monotonic() + 10
    while len(trainer.configs) < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    return list(trainer.configs)


def _page(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    return at


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning).replace("\\", "")


CASES = [
    ("epochs", "-5"), ("epochs", "0"), ("epochs", "301"), ("epochs", "99999999999"),
    ("epochs", LONG), ("epochs", "nan"), ("epochs", "inf"), ("epochs", "-inf"),
    ("epochs", "abc"), ("epochs", ""), ("epochs", "1e3"), ("epochs", "٣٠٠٠"),
    ("train_size", "0"), ("train_size", "-256"), ("train_size", "10000000"),
    ("batch_size", "0"), ("batch_size", "1e9"),
    ("learning_rate", "nan"), ("learning_rate", "inf"), ("learning_rate", "-1"),
    ("learning_rate", "0"), ("learning_rate", "1e999"),
    ("seed", "-1"), ("seed", "99999999999999999999"),
    ("placement", "<script>alert(1)</script>"), ("placement", "[x](http://evil.example)"),
    ("optimizer", "ádám 🧪"), ("split", "x" * 10_000), ("scale_pixels", "perhaps"),
    ("run", "please"), ("colour", "red"), ("<b>bold</b>", "1"), ("k" * 10_000, "1"),
    ("日本語", "値"), ("", "empty-name"),
]


@pytest.mark.parametrize("name, value", CASES, ids=[f"{n[:12]}={v[:12]}" for n, v in CASES])
def test_a_fuzzed_parameter_is_named_defaulted_and_never_trains_beyond_the_caps(
        trainer, name, value):
    # A tiny base config, so that anything the link manages to train would be small.
    query = {"epochs": "2", "train_size": "256", "run": "1", name: value}
    at = _page(query)
    assert not at.exception, at.exception
    assert at.title[0].value == "Batch normalisation, side by side"
    shown_name = f"`{name[:20]}" if name else "(empty)"
    assert shown_name in _warnings(at), (name, _warnings(at))  # named, as a code span
    if name in bnviz.config.field_names():
        widget = getattr(at.sidebar, "slider" if name == "epochs" else "number_input",
                         None)
        # The bad field shows its default; the good ones keep the link's values.
        expected = {**{"epochs": 2, "train_size": 256}, name: getattr(DEFAULT, name)}
        assert at.session_state[f"setting_{name}"] == expected[name]
        assert widget is not None
    # run=1 still trains (the link's good values, defaults for the bad one), unless the
    # run word itself is bad; whatever trains passed validation and the caps.
    trained = _trained(trainer, 0 if name == "run" else 1)
    assert len(trained) == (0 if name == "run" else 1)
    for config in trained:
        assert _within_caps(config), config
        if name in bnviz.config.field_names():
            assert getattr(config, name) == getattr(DEFAULT, name)


def test_repeated_keys_use_the_last_value_and_warn(trainer):
    at = _page({"epochs": ["3", "2"], "train_size": "256", "run": "1"})
    assert not at.exception
    assert "epochs" in _warnings(at) and "2 times" in _warnings(at)
    assert at.session_state["setting_epochs"] == 2
    assert [c.epochs for c in _trained(trainer, 1)] == [2]


def test_a_link_asking_for_too_much_work_trains_nothing_larger(trainer):
    # The largest values the fields allow: whatever trains must pass validation (and the
    # work cap, once bnviz.config defines MAX_WORK); out-of-range values are refused.
    at = _page({"epochs": "300", "train_size": "50000", "seeds": "1000", "run": "1"})
    assert not at.exception
    for config in _trained(trainer, 1):
        assert _within_caps(config)
    at = _page({"epochs": "301", "train_size": "50001", "run": "1"})
    assert "`epochs`" in _warnings(at) and "`train_size`" in _warnings(at)
    trained = _trained(trainer, 2)
    assert all(_within_caps(c) for c in trained)
    assert all(c.epochs <= 300 and c.train_size <= 50_000 for c in trained)


def test_hostile_links_in_a_real_browser_stay_text(tmp_path):
    from playwright.sync_api import sync_playwright

    require_chromium()
    hostile = [
        {"placement": "<script>window.__pwned=1</script>", "epochs": LONG},
        {"<img src=x onerror=window.__pwned=2>": "1", "optimizer": "[click](http://evil.example)"},
        {"split": "<b onmouseover=alert(1)>日本語 🧪</b>", "seed": "nan",
         "colour": "www.evil.example", "run": "http://evil.example/run"},
    ]
    log_path = tmp_path / "streamlit.log"
    with streamlit_server(tmp_path / "cache", log_path) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        for query in hostile:
            page = context.new_page()
            page.goto(f"{url}/?{urllib.parse.urlencode(query)}")
            alerts = page.locator("[data-testid='stAlertContentWarning']")
            alerts.nth(len(query) - 1).wait_for(timeout=60_000)
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.evaluate("window.__pwned") is None
            main = page.locator("[data-testid='stMain']")
            assert main.locator("a[href*='evil']").count() == 0
            assert main.locator("img[src='x'], b[onmouseover]").count() == 0
            assert page.locator("script:has-text('pwned')").count() == 0
            text = " ".join(alerts.all_inner_texts())
            for key in query:
                assert key[:20] in text, (key, text)  # named, as plain text
            page.close()
        browser.close()
    assert "training started" not in log_path.read_text()  # no run=1: nothing trains
