"""A cluster only the app can use: a real local Ray cluster with token authentication on
(`RAY_AUTH_MODE=token`). The command line and the app train on it with the token; without
it, or with another, they are refused in plain words (exit 3 for the command line), never a
traceback or a hang, and the token is never written out."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.cluster import RayCluster

pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")

REFUSED_WITHIN_S = 60  # the connection's own timeout is 30 s (bnviz.cluster.CONNECT_SECONDS)


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="module")
def cluster(token):
    with RayCluster(cpus=2, token=token) as started:
        yield started


def _without_token(home) -> dict[str, str]:
    """The environment of a process that has no token: none in it, none in its home."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("RAY_AUTH_TOKEN")}
    return {**environment, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "HOME": str(home),
            "TF_CPP_MIN_LOG_LEVEL": "2"}


def _run(cluster, out, environment) -> tuple[subprocess.CompletedProcess, float]:
    command = [sys.executable, "-m", "bnviz", "run", "--epochs", "2", "--train-size", "256",
               "--seeds", "2", "--out", str(out), "--ray", cluster.address]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=environment,
                          timeout=300)
    return done, time.monotonic() - started


@pytest.mark.slow
def test_the_command_line_trains_with_the_token_and_is_refused_without_it(cluster, token,
                                                                         tmp_path):
    clean = _without_token(tmp_path)
    done, _ = _run(cluster, tmp_path / "with", {**clean, **cluster.environment})
    assert done.returncode == 0, done.stderr[-2000:]
    history = pd.read_csv(tmp_path / "with" / "history.csv")
    assert sorted(history["seed"].unique()) == [1, 2]

    for name, environment, said in [
        ("no token", {**clean, "RAY_AUTH_MODE": "token"}, "RAY_AUTH_MODE=token, but has no token"),
        ("another token", {**clean, "RAY_AUTH_MODE": "token",
                           "RAY_AUTH_TOKEN": secrets.token_hex(32)}, "would not connect"),
        ("no authentication", {**clean, "RAY_AUTH_MODE": "disabled"}, "would not connect"),
    ]:
        refused, seconds = _run(cluster, tmp_path / name, environment)
        assert refused.returncode == 3, (name, refused.stderr[-2000:])
        assert f"The Ray cluster at {cluster.address} refused this app" in refused.stderr, name
        assert said in refused.stderr, (name, refused.stderr[-1000:])
        assert "Traceback" not in refused.stderr, name
        assert seconds < REFUSED_WITHIN_S, (name, seconds)
        assert not (tmp_path / name / "history.csv").exists()
    for output in (done.stdout, done.stderr):
        assert token not in output


@pytest.mark.slow
@pytest.mark.browser
def test_the_app_trains_on_the_cluster_with_the_token_and_says_so_without_it(cluster, token,
                                                                            tmp_path):
    from tests.server import page_server

    link = "?epochs=2&train_size=256&seeds=2&run=1"
    with page_server(tmp_path / "with", tmp_path / "with.log", BNVIZ_RAY_ADDRESS=cluster.address,
                     **cluster.environment) as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/{link}")
        page.get_by_role("tab", name="Learning curves").wait_for(timeout=240_000)
        assert "Paired over 2 seeds" in page.content()
        assert page.locator("[data-testid='stException']").count() == 0
    log = (tmp_path / "with.log").read_text()
    assert "trainings go to the Ray cluster" in log and "training finished" in log
    assert token not in log

    no_token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "",
                "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "HOME": str(tmp_path)}
    with page_server(tmp_path / "without", tmp_path / "without.log",
                     BNVIZ_RAY_ADDRESS=cluster.address, **no_token) as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/{link}")
        page.get_by_text(f"The Ray cluster at {cluster.address} refused this app").first \
            .wait_for(timeout=120_000)
        assert page.locator("[data-testid='stException']").count() == 0
    assert "training failed" in (tmp_path / "without.log").read_text()
