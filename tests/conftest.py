"""Shared fixtures: tiny configurations, isolated caches, job managers that close."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator

import pytest

# Ray, read when it is imported: the tests' clusters run on this one machine, so every Ray
# address is 127.0.0.1 and no traffic leaves the loopback interface, without Ray's token
# authentication whatever ~/.ray holds (see tests/cluster.py).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from bnviz import tf_settings
from bnviz.config import ExperimentConfig
from bnviz.data import clear_cache
from bnviz.jobs import JobManager
from bnviz.store import ResultsStore

# Before any test module imports Keras or TensorFlow (tests/test_inside.py does when it is
# collected): in-process trainings must run with the settings of bnviz's own processes, or
# their numbers differ from a training process's (bnviz.tf_settings).
tf_settings.apply()


def _scan_installed_components_once() -> None:
    """Each new AppTest scans every installed distribution's metadata for Streamlit
    components (Streamlit 1.67: 0.45 s of a landing page's 0.52 s AppTest run, on this
    suite's 347 distributions); the server does it once at start. The packages do not
    change while the tests run, so the tests scan once too."""
    import functools

    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # another Streamlit: nothing to spare
        return
    scan = getattr(manifest_scanner, "scan_component_manifests", None)
    if scan is not None and not hasattr(scan, "cache_info"):
        once = functools.cache(scan)
        manifest_scanner.scan_component_manifests = lambda *args, **kwargs: list(
            once(*args, **kwargs))


_scan_installed_components_once()


def _no_keras_clear_session_after_page_runs() -> None:
    """Streamlit ends every script run by calling ``keras.backend.clear_session()`` when
    Keras is imported, and that runs a full garbage collection (with TensorFlow loaded,
    a quarter of a second) and resets Keras's state under any training this process runs.
    bnviz's server never imports Keras (its trainings run in their own processes:
    tests/test_store.py checks that reading results imports no TensorFlow), so there the
    clean-up never happens; in the tests Keras is imported (in-process trainings, the
    model tests), and the clean-up made a class's page test 1.6 s alone but 15 s after a
    training test. Matplotlib, the clean-up's other half, is left as Streamlit has it."""
    try:
        from streamlit.runtime.scriptrunner import script_runner
    except ImportError:
        return
    if not hasattr(script_runner, "_clean_problem_modules"):
        return

    def close_matplotlib_figures() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    script_runner._clean_problem_modules = close_matplotlib_figures


_no_keras_clear_session_after_page_runs()


@pytest.fixture
def tiny_config() -> ExperimentConfig:
    """Two epochs on 256 images: seconds, not minutes."""
    return ExperimentConfig(epochs=2, train_size=256, batch_size=64)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own results store and a fresh dataset cache."""
    monkeypatch.setenv("BNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()
    yield tmp_path / "cache"
    clear_cache()


@pytest.fixture(autouse=True)
def _release_the_apps_job_managers():
    """A page run by AppTest keeps its job manager (and its training processes) in
    Streamlit's resource cache; clearing it closes them, so none outlives its test."""
    yield
    state = sys.modules.get("ui.state")
    if state is not None:
        state.job_manager.clear()


@pytest.fixture
def open_manager() -> Iterator[Callable[..., JobManager]]:
    """``open_manager(store, **options)``: a `JobManager` closed when the test ends."""
    managers: list[JobManager] = []

    def open_one(store: ResultsStore, **options) -> JobManager:
        manager = JobManager(store, **options)
        managers.append(manager)
        return manager

    yield open_one
    for manager in managers:
        manager.close()


@pytest.fixture
def in_process_page(monkeypatch):
    """The page's job manager trains in this process: no worker process (and its warm
    spare) starts, for page tests that train nothing or little."""
    import ui.state
    from bnviz.jobs import run_here

    monkeypatch.setattr(ui.state, "default_runner", lambda budget=None: run_here)
    # Trainings then grow the test process itself, which the budget counts as the server.
    monkeypatch.setenv("BNVIZ_MEMORY_BUDGET_MB", "100000")


class HeldTrainings:
    """The page's trainings, each held until the test ends (they never finish)."""

    def __init__(self) -> None:
        import threading

        self.asked: list = []
        self.release = threading.Event()

    def __call__(self, request, on_progress=None, should_stop=None):
        self.asked.append(request)
        self.release.wait(60)
        raise RuntimeError("held runner: not a real training")


@pytest.fixture
def held_trainings(monkeypatch):
    """The page's job manager with a runner whose trainings last until the test ends."""
    import ui.state

    held = HeldTrainings()
    monkeypatch.setattr(ui.state, "default_runner", lambda budget=None: held)
    yield held
    held.release.set()
