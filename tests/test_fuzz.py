"""Fuzzed links against the page: it always renders, names the bad parameter, uses defaults,
never trains a configuration that validation rejects, and never renders link text as markup.

Breadth runs through Streamlit's AppTest with a recording runner (no TensorFlow); a few
hostile links also go through the real page in headless chromium.
"""

from __future__ import annotations

import urllib.parse

import pytest
from streamlit.testing.v1 import AppTest

import bnviz.config
import ui.state
from bnviz import explain
from bnviz.config import ExperimentConfig
from bnviz.store import ResultsStore
from tests.helpers import APP, wait_for
from tests.server import page_server

DEFAULT = ExperimentConfig()
LONG = "9" * 10_000
BASE = {"epochs": "2", "train_size": "256", "run": "1"}  # whatever trains would be small


class RecordingRunner:
    """Records what the page asks to train, and trains nothing (the job fails at once)."""

    def __init__(self) -> None:
        self.configs: list[ExperimentConfig] = []

    def __call__(self, request, on_progress=None, should_stop=None):
        self.configs.append(request.config)
        raise RuntimeError("recording runner: not a real training")


@pytest.fixture
def trainings(monkeypatch, open_manager, isolated_cache):
    """The page's job manager with a recording runner; yields a function that returns the
    configurations handed to it once every submitted job has ended."""
    runner = RecordingRunner()
    manager = open_manager(ResultsStore(isolated_cache), runner=runner)
    monkeypatch.setattr(ui.state, "shared_job_manager", lambda: manager)

    def trained() -> list[ExperimentConfig]:
        wait_for(lambda: manager.pending_count() == 0)
        return list(runner.configs)

    return trained


def _page(query: dict) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    return at


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning).replace("\\", "")


CASES = [
    ("epochs", "-5"), ("epochs", "0"), ("epochs", "1001"), ("epochs", "99999999999"),
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
def test_a_fuzzed_parameter_is_named_defaulted_and_the_rest_of_the_link_trains(
        trainings, name, value):
    at = _page({**BASE, name: value})
    assert not at.exception, at.exception
    assert at.title[0].value == explain.TITLE
    shown_name = f"`{name[:20]}" if name else "(empty)"
    assert shown_name in _warnings(at), (name, _warnings(at))  # named, as a code span
    # The bad field takes its default; the good ones keep the link's values. run=1 trains
    # exactly that configuration, unless the run word itself is bad.
    expected = ExperimentConfig(epochs=2, train_size=256)
    if name in bnviz.config.field_names():
        expected = expected.replace(**{name: getattr(DEFAULT, name)})
        assert at.session_state[f"setting_{name}"] == getattr(DEFAULT, name)
    assert trainings() == ([] if name == "run" else [expected])


def test_repeated_keys_use_the_last_value_and_warn(trainings):
    at = _page({**BASE, "epochs": ["3", "2"]})
    assert not at.exception
    assert "epochs" in _warnings(at) and "2 times" in _warnings(at)
    assert at.session_state["setting_epochs"] == 2
    assert trainings() == [ExperimentConfig(epochs=2, train_size=256)]


def test_a_link_asking_for_too_much_work_gives_up_factors_in_order(trainings):
    # Seeds are out of range (default 1); 300 epochs × 50,000 images is over the work cap,
    # so the link gives up train_size next (default 1000), and 300 epochs train.
    at = _page({"epochs": "300", "train_size": "50000", "seeds": "1000", "run": "1"})
    assert not at.exception
    assert "`seeds`" in _warnings(at) and "`train_size`" in _warnings(at)
    assert trainings() == [ExperimentConfig(epochs=300)]
    at = _page({"epochs": "1001", "train_size": "50001", "run": "1"})
    assert "`epochs`" in _warnings(at) and "`train_size`" in _warnings(at)
    assert trainings() == [ExperimentConfig(epochs=300), ExperimentConfig()]


@pytest.mark.slow
@pytest.mark.browser
def test_hostile_links_in_a_real_browser_stay_text(tmp_path):
    hostile = [
        {"placement": "<script>window.__pwned=1</script>", "epochs": LONG},
        {"<img src=x onerror=window.__pwned=2>": "1", "optimizer": "[click](http://evil.example)"},
        {"split": "<b onmouseover=alert(1)>日本語 🧪</b>", "seed": "nan",
         "colour": "www.evil.example", "run": "http://evil.example/run"},
    ]
    log_path = tmp_path / "streamlit.log"
    with page_server(tmp_path / "cache", log_path) as (url, browser):
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
    assert "training started" not in log_path.read_text()  # no run=1: nothing trains


# The lesson and class parameters (lesson, step, teach, room, key, hide, me) and present:
# each bad value is named in a warning, the page falls back (no lesson, step 1, no class,
# nothing hidden, the usual page), nothing raises, and what the link also asked is kept.
LESSON_CASES = [
    ({"lesson": "nope"}, "there is no lesson", None),
    ({"lesson": "<script>x</script>"}, "is not a lesson name", None),
    ({"lesson": LONG}, "there is no lesson", None),
    ({"lesson": "batch-norm", "step": "0"}, "is not a step of this lesson (1 to 8)", 1),
    ({"lesson": "batch-norm", "step": "-1"}, "is not a step of this lesson", 1),
    ({"lesson": "batch-norm", "step": LONG}, "is not a step of this lesson", 1),
    ({"lesson": "batch-norm", "step": "abc"}, "is not a step number", 1),
    ({"lesson": "batch-norm", "teach": "2"}, "`2` is not yes or no (teach=1 starts a class)", 1),
    ({"lesson": "batch-norm", "hide": "bogus"}, "names `bogus`, which is no setting", 1),
    ({"lesson": "batch-norm", "hide": LONG}, "which is no setting", 1),
    ({"room": "ZZZZ"}, "There is no class with the code ZZZZ", None),
    ({"room": "<b>x</b>"}, "That is not a class code", None),
    ({"room": LONG}, "That is not a class code", None),
    ({"room": "ABCD", "key": "<script>"}, "There is no class with the code ABCD", None),
    ({"present": "maybe"}, "`maybe` is not yes or no (present=1", None),
]


@pytest.mark.parametrize("query, said, step", LESSON_CASES,
                         ids=[",".join(f"{k}={v[:8]}" for k, v in q.items())
                              for q, _, _ in LESSON_CASES])
def test_a_bad_lesson_or_class_parameter_is_named_and_nothing_else_is_lost(trainings, query,
                                                                           said, step):
    from bnviz.lessons import lesson

    at = _page({"epochs": "2", "train_size": "256", **query})
    assert not at.exception, at.exception
    assert at.title[0].value == explain.TITLE
    assert said in _warnings(at), (query, _warnings(at))
    assert "<script>" not in " ".join(m.value for m in at.markdown)  # link text stays text
    if step is None:  # no lesson: the link's own settings stand
        assert at.session_state["setting_epochs"] == 2
        assert at.session_state["setting_train_size"] == 256
    else:  # the lesson's step (its own settings), where the bad value leaves it
        assert at.main.header[0].value == lesson("batch-norm").steps[step - 1].title
    assert trainings() == []  # no run=1: nothing trains
