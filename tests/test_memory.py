"""The memory budget: trainings start only when they fit, the spare goes first, a server
too small to train says so and still serves, and a killed training is told in plain words."""

import os
import signal
import threading

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.jobs import DONE, FAILED, QUEUED, RUNNING
from bnviz.memory import (
    BUDGET_VARIABLE,
    DEFAULT_BUDGET_MB,
    LIBRARIES_MB,
    REFUSE,
    START,
    WAIT,
    MemoryBudget,
    budget_from_environment,
    container_limit_mb,
    training_mb,
)
from bnviz.store import ResultsStore
from bnviz.worker import OUT_OF_MEMORY, ProcessRunner
from tests.helpers import TINY_LINK, fake_result, page, run_until_results, wait_for
from ui.state import SMALL_BOX_MESSAGE


def _request(train_size: int = 256, seed: int = 1) -> ComparisonRequest:
    return ComparisonRequest(ExperimentConfig(epochs=2, train_size=train_size, seed=seed))


def _room_for(trainings: float, train_size: int = 256) -> MemoryBudget:
    """A budget with room for the server and ``trainings`` trainings of ``train_size``."""
    server = MemoryBudget(1).server_mb()
    # The server's own size moves a little between measurements: a margin of 50 MB.
    return MemoryBudget(server + 50 + LIBRARIES_MB + trainings * training_mb(train_size), "test")


def test_more_training_images_need_more_memory():
    assert training_mb(100) < training_mb(1000) < training_mb(50_000)
    # three float32 copies of each 28 x 28 image: 9.2 kB per image
    assert training_mb(50_000) - training_mb(10_000) == pytest.approx(40_000 * 9408 / 2**20)


def test_a_training_starts_waits_or_is_refused_by_what_fits():
    one = _room_for(1.5)
    assert one.decide(_request(), []).verdict == START
    assert one.decide(_request(seed=2), [_request()]).verdict == WAIT  # after the first ends
    refused = _room_for(0.5).decide(_request(), [])
    assert refused.verdict == REFUSE and "a training on 256 images about" in refused.reason
    assert _room_for(0.5).cannot_train() is not None and _room_for(1.5).cannot_train() is None


def test_the_spare_is_kept_only_where_it_fits_beside_the_trainings():
    budget = _room_for(1.5)
    assert budget.spare_fits([])
    assert not budget.spare_fits([_request()])


def test_the_budget_comes_from_the_environment_else_the_container_else_the_default(
        monkeypatch, tmp_path):
    monkeypatch.setenv(BUDGET_VARIABLE, "900")
    assert budget_from_environment() == (900.0, BUDGET_VARIABLE)
    monkeypatch.setenv(BUDGET_VARIABLE, "lots")  # unreadable: ignored
    monkeypatch.setattr("bnviz.memory.container_limit_mb", lambda: 1024.0)
    assert budget_from_environment()[0] == 1024 - 64
    monkeypatch.setattr("bnviz.memory.container_limit_mb", lambda: None)
    assert budget_from_environment()[0] == DEFAULT_BUDGET_MB


@pytest.mark.parametrize(("lines", "files", "expected"), [
    ("4:memory:/box\n", {"memory/box/memory.limit_in_bytes": str(2**30)}, 1024.0),  # v1
    ("4:memory:/box\n", {"memory/box/memory.limit_in_bytes": str(2**63 - 4096)}, None),
    ("0::/box\n", {"box/memory.max": str(690 * 2**20)}, 690.0),  # v2
    ("0::/box\n", {"box/memory.max": "max"}, None),
    ("0::/box\n", {}, None),
])
def test_the_container_limit_is_read_from_cgroup_v1_or_v2(tmp_path, lines, files, expected):
    (tmp_path / "cgroup").write_text(lines)
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text + "\n")
    assert container_limit_mb(tmp_path, tmp_path / "cgroup") == expected


class HeldRunner:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[ComparisonRequest] = []

    def __call__(self, request, on_progress=None, should_stop=None):
        self.started.append(request)
        assert self.release.wait(30)
        return fake_result(request.config)


def test_a_second_training_that_does_not_fit_waits_for_the_first(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), max_running=2, runner=runner,
                           budget=_room_for(1.5))
    first, second = manager.submit(_request(seed=1)), manager.submit(_request(seed=2))
    wait_for(lambda: len(runner.started) == 1)
    assert (first.status, second.status) == (RUNNING, QUEUED)  # BNVIZ_MAX_JOBS alone allows 2
    runner.release.set()
    wait_for(lambda: first.status == DONE and second.status == DONE)


def test_a_training_that_cannot_fit_at_all_fails_with_a_plain_message(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner, budget=_room_for(0.5))
    job = manager.submit(_request())
    assert job.status == FAILED and not runner.started
    assert job.message.startswith("This server cannot train these settings")
    assert "Try fewer training images" in job.message


def test_a_server_too_small_to_train_serves_the_gallery_and_says_so(in_process_page,
                                                                    monkeypatch):
    monkeypatch.setenv(BUDGET_VARIABLE, "300")
    at = page()
    at.run()
    assert not at.exception
    # In a student's words: what works, and that training needs a bigger server.
    assert SMALL_BOX_MESSAGE in [i.value for i in at.info]
    assert not any("MB" in i.value for i in at.info)  # no operator's arithmetic up front
    # The operator's figures, behind a details control.
    details = next(e for e in at.expander if e.label == "Why, for the server's operator")
    assert "the app may use 300 MB of memory" in details.markdown[0].value
    assert at.tabs  # the blog's precomputed result, as usual
    assert at.sidebar.form_submit_button[0].disabled
    assert not [b for b in at.button if b.label == "Train it yourself"]


@pytest.mark.slow
def test_a_training_killed_mid_way_is_told_in_plain_words_and_can_be_retried():
    """SIGKILL, as the kernel's out-of-memory killer sends it, to the real worker process."""
    import ui.state

    at = page(**{**TINY_LINK, "epochs": "30"}, run="1")
    at.run()
    manager = ui.state.shared_job_manager()
    runner = manager.runner
    assert isinstance(runner, ProcessRunner)
    request = ComparisonRequest(ExperimentConfig(epochs=30, train_size=256))
    job = manager.get(request)
    wait_for(lambda: job.rows, timeout=120)  # mid-training: an epoch is done
    for process in list(runner.active):
        os.kill(process.pid, signal.SIGKILL)
    wait_for(lambda: job.status == FAILED, timeout=30)
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [OUT_OF_MEMORY]
    assert at.query_params["epochs"] == "30"  # the settings are kept
    at.sidebar.form_submit_button[0].click()  # the same settings again, on the same server
    run_until_results(at)
    assert not at.exception and at.tabs
    assert manager.get(request).status == DONE


@pytest.mark.slow
def test_no_spare_is_started_where_it_would_not_fit():
    runner = ProcessRunner(budget=MemoryBudget(100, "test"))
    try:
        assert runner.spare is None
    finally:
        runner.close()


@pytest.mark.slow
def test_the_spare_is_given_up_when_the_app_goes_over_its_budget():
    runner = ProcessRunner(budget=MemoryBudget(100_000, "test"))
    try:
        spare = runner.spare
        assert spare is not None and spare.poll() is None
        runner.budget = MemoryBudget(1, "test")  # the app is now over it
        runner._give_up_spare_if_over_budget()  # what every progress row of a training calls
        assert runner.spare is None and spare.poll() is not None
    finally:
        runner.close()
