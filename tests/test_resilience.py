"""Crashes, bad entries and bad disks: the store and the jobs keep working."""

import errno
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bnviz.config import ExperimentConfig
from bnviz.jobs import DONE, JobManager
from bnviz.results import HISTORY_COLUMNS, ComparisonResult, ResultsStore
from tests.helpers import wait_for


def _result(config):
    history = pd.DataFrame([["baseline", config.seed, 1, 0.5, 1.0, 0.4, 1.1, 0.0]],
                           columns=list(HISTORY_COLUMNS))
    return ComparisonResult(config, history, np.zeros(2, int),
                            {"baseline": np.full((2, 10), 0.1, np.float32)},
                            {"baseline": pd.DataFrame({"params": [1]})})


def _instant(config, on_epoch):
    return _result(config)


def test_leftovers_of_a_killed_writer_are_swept_and_live_writes_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    orphan = tmp_path / f"0123456789abcdef.{dead_pid}.abcd1234.tmp"
    orphan.write_bytes(b"PK\x03\x04 half a zip")
    live = tmp_path / f"0123456789abcdef.{os.getpid()}.efgh5678.tmp"
    live.write_bytes(b"being written")
    old_style = tmp_path / "tmpabcd.tmp"
    old_style.write_bytes(b"x")
    os.utime(old_style, (time.time() - 7200,) * 2)
    manager = JobManager(ResultsStore(tmp_path), trainer=_instant)  # sweeps on start
    assert not orphan.exists() and not old_style.exists()
    assert live.exists()
    assert manager.store_problem is None


def test_saves_leave_no_temporary_files(tmp_path):
    store = ResultsStore(tmp_path)
    for seed in range(3):
        store.save(_result(ExperimentConfig(seed=seed)))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npz"] * 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "directory"])
def test_a_damaged_entry_is_discarded_reported_and_recomputed(tmp_path, damage):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=4)
    path = store.save(_result(config))
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(os.urandom(2000))
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # an entry that cannot even be opened as a file
        path.unlink()
        path.mkdir()
    manager = JobManager(store, trainer=_instant)
    assert manager.stored(config) is None
    assert config.config_hash() in store.discarded
    job = manager.submit(config)
    wait_for(lambda: job.status == DONE)
    assert job.result is not None
    if damage != "directory":  # recomputed and saved again; the report is cleared
        assert store.load(config) is not None
        assert config.config_hash() not in store.discarded


def test_an_unwritable_store_is_reported_and_training_still_works(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the store directory should be")
    manager = JobManager(ResultsStore(blocker / "cache"), trainer=_instant)
    assert manager.store_problem and "a-file" in manager.store_problem
    job = manager.submit(ExperimentConfig(epochs=2))
    wait_for(lambda: job.status == DONE)
    assert job.result is not None and manager.store_problem


def test_a_full_disk_during_save_is_reported(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    manager = JobManager(store, trainer=_instant)
    assert manager.store_problem is None

    def full(_result):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "save", full)
    job = manager.submit(ExperimentConfig(epochs=3))
    wait_for(lambda: job.status == DONE and manager.store_problem is not None)
    assert "No space left" in manager.store_problem


def test_start_and_end_of_each_training_are_logged(tmp_path, caplog):
    caplog.set_level("INFO", logger="bnviz")
    manager = JobManager(ResultsStore(tmp_path), trainer=_instant)
    config = ExperimentConfig(epochs=5)
    job = manager.submit(config)
    finished = f"finished config={config.config_hash()}"
    wait_for(lambda: job.status == DONE and finished in caplog.text)
    assert f"training started config={config.config_hash()}" in caplog.text


def test_a_worker_exits_when_its_parent_dies(tmp_path):
    # A parent that starts a child watching it, prints the child's pid, then is SIGKILLed.
    script = (
        "import subprocess, sys, os, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import sys, time; from bnviz.worker import exit_with_parent; "
        "exit_with_parent(int(sys.argv[1]), interval=0.1); time.sleep(600)', "
        "str(os.getpid())])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    child_pid = int(parent.stdout.readline())
    time.sleep(0.5)
    assert _alive(child_pid)  # it watches, it does not exit on its own
    parent.kill()
    parent.wait()
    wait_for(lambda: not _alive(child_pid), timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
