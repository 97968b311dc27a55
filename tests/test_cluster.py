"""Trainings on a real local Ray cluster: the same results as the embedded trainer, seeds and
sweep points as parallel tasks, a killed worker retried, an unreachable cluster said plainly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from bnviz.cluster import ClusterRunner, ClusterUnreachable, RayRunner, disconnect
from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.sweep import SweepRequest
from tests.cluster import LOOPBACK_ONLY, RayCluster
from tests.helpers import assert_identical, fake_result, instant_runner
from tests.server import free_port

pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")


@pytest.fixture(scope="module")
def cluster():
    with RayCluster(cpus=2) as started:
        yield started
        disconnect()


def _history(result) -> pd.DataFrame:
    return result.history.drop(columns="seconds")


@pytest.mark.slow
def test_each_seed_trains_as_its_own_task_and_the_result_is_the_embedded_one(cluster):
    from bnviz.training import train_comparison

    config = ExperimentConfig(epochs=3, train_size=256, seeds=2)
    # Its workers first train another configuration: a worker that ran other tasks before
    # trains the same numbers as a fresh process (same seed, same curves).
    RayRunner(cluster.address)(ComparisonRequest(config.replace(placement="before",
                                                                train_size=300, epochs=1)))
    rows = []
    remote = RayRunner(cluster.address)(ComparisonRequest(config), rows.append)
    assert_identical(_history(remote), _history(train_comparison(config)))
    assert sorted((r["seed"], r["model"], r["epoch"]) for r in rows) == sorted(
        (seed, model, epoch) for seed in (1, 2) for model in ("baseline", "BN after")
        for epoch in (1, 2, 3))  # live progress of both seeds, each epoch once
    assert remote.config == config and len(remote.models) == 2


@pytest.mark.slow
def test_each_sweep_point_trains_as_its_own_task_and_the_table_is_the_embedded_one(cluster):
    from bnviz.training import sweep_learning_rates

    request = SweepRequest(ExperimentConfig(train_size=256), (1e-3, 1e-1), 2)
    points = []
    remote = RayRunner(cluster.address)(request, points.append)
    local = sweep_learning_rates(request)
    assert_identical(remote.table, local.table)
    assert len(points) == 4


@pytest.mark.slow
def test_a_worker_killed_mid_training_is_retried_and_the_result_is_unchanged(cluster):
    from bnviz.training import train_comparison

    config = ExperimentConfig(epochs=25, train_size=256, seeds=2, seed=7)
    killed: list[int] = []
    rows = []

    def kill_once(row):
        rows.append(row)
        if not killed:
            for worker in cluster.task_workers("train_seed")[:1]:
                os.kill(worker.pid, signal.SIGKILL)
                killed.append(worker.pid)

    remote = RayRunner(cluster.address)(ComparisonRequest(config), kill_once)
    assert killed  # a worker really died mid-training
    assert_identical(_history(remote), _history(train_comparison(config)))
    assert len(rows) == 2 * 25 * 2  # the retried epochs were not passed on twice


def test_an_unreachable_cluster_is_said_plainly_within_seconds():
    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ClusterUnreachable) as unreachable:
        RayRunner(address)(ComparisonRequest(ExperimentConfig(epochs=2, train_size=256)))
    assert time.monotonic() - started < 30
    assert unreachable.value.plain.startswith(f"The Ray cluster at {address} cannot be reached")


@pytest.mark.slow
def test_the_server_drives_the_cluster_from_a_process_of_its_own(cluster):
    runner = ClusterRunner(cluster.address)
    drivers: list[list[str]] = []

    def note_driver(row):
        rows.append(row)
        drivers.extend(process.args for process in runner.processes.active)

    try:
        rows: list[dict] = []
        config = ExperimentConfig(epochs=2, train_size=256, seeds=2)
        result = runner(ComparisonRequest(config), note_driver)
        assert len(result.history) == 8 and len(rows) == 8 and runner.problem is None
        # the driver was a process of its own, running bnviz.cluster for this address
        assert drivers and all(args[1:4] == ["-m", "bnviz.cluster", cluster.address]
                               for args in drivers)
    finally:
        runner.close()


def test_an_unreachable_cluster_falls_back_to_local_training_only_when_allowed():
    request = ComparisonRequest(ExperimentConfig(epochs=2, train_size=256))
    for fallback in (None, instant_runner):
        runner = ClusterRunner(f"127.0.0.1:{free_port()}", fallback=fallback)
        try:
            if fallback is None:
                with pytest.raises(ClusterUnreachable, match="nothing answers"):
                    runner(request)
            else:
                result = runner(request)
                assert result.history.equals(fake_result(request.config).history)
            assert runner.problem and "cannot be reached" in runner.problem  # for the page
        finally:
            runner.close()


@pytest.mark.slow
def test_the_command_line_trains_on_the_cluster_and_fails_plainly_without_it(cluster, tmp_path):
    command = [sys.executable, "-m", "bnviz", "run", "--epochs", "2", "--train-size", "256",
               "--seeds", "2", "--out", str(tmp_path / "run")]
    environment = {**os.environ, **LOOPBACK_ONLY, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([*command, "--ray", cluster.address], capture_output=True, text=True,
                          env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert sorted(history["seed"].unique()) == [1, 2] and len(history) == 8
    lost = subprocess.run([*command, "--ray", f"127.0.0.1:{free_port()}"], capture_output=True,
                          text=True, env=environment, timeout=120)
    assert lost.returncode == 3
    assert "cannot be reached" in lost.stderr and "Traceback" not in lost.stderr


@pytest.mark.slow
@pytest.mark.browser
def test_the_app_trains_a_link_on_the_cluster_with_live_progress(cluster, tmp_path):
    from playwright.sync_api import sync_playwright

    from tests.server import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, require_chromium, streamlit_server

    require_chromium()
    log_path = tmp_path / "streamlit.log"
    with streamlit_server(tmp_path / "cache", log_path, BNVIZ_RAY_ADDRESS=cluster.address,
                          **LOOPBACK_ONLY) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?epochs=12&train_size=256&seeds=2&run=1")
        # both seeds' progress, live, while they train side by side
        page.get_by_text("seed 2: epoch").first.wait_for(timeout=120_000)
        page.get_by_role("tab", name="Learning curves").wait_for(timeout=180_000)
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        assert "Paired over 2 seeds" in page.content()  # the headline's verdict
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser-ray.png"), full_page=False)
        browser.close()
    log = log_path.read_text()
    assert "trainings go to the Ray cluster" in log and log.count("training started") == 1
    # the server wrote the merged result to its own store
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1


def test_the_page_says_when_its_cluster_cannot_be_reached(monkeypatch):
    import ui.state
    from tests.helpers import page, wait_for

    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("BNVIZ_RAY_ADDRESS", address)
    at = page()
    at.run()
    runner = ui.state.shared_job_manager().runner
    assert isinstance(runner, ClusterRunner) and runner.address == address
    wait_for(lambda: runner.problem is not None, timeout=30)  # checked at start
    at.run()
    assert any(w.value.startswith(f"The Ray cluster at {address} cannot be reached")
               for w in at.warning)
    assert at.tabs  # the gallery's result is still shown


@pytest.mark.slow
def test_a_cluster_that_goes_away_mid_training_fails_it_plainly_and_the_server_lives_on():
    doomed = RayCluster(cpus=2)
    runner = ClusterRunner(doomed.address)
    stopped = []

    def stop_the_cluster(_row):
        if not stopped:
            stopped.append(True)
            doomed.stop()  # head, raylet and workers: every process of the cluster

    try:
        with pytest.raises(ClusterUnreachable) as lost:
            runner(ComparisonRequest(ExperimentConfig(epochs=60, train_size=256)),
                   stop_the_cluster)
        assert stopped and "cannot be reached" in lost.value.plain
        assert runner.problem == lost.value.plain  # and the page says so
        assert not runner.processes.active  # the driver process is gone; this one is not
    finally:
        runner.close()
        doomed.stop()
