"""The results store: round trips, atomic writes, damaged entries, leftovers of killed writers."""

import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.store import ResultsStore
from bnviz.sweep import SWEEP_COLUMNS, SweepRequest, SweepResult
from tests.helpers import fake_result


def _saved(store: ResultsStore, config: ExperimentConfig):
    request = ComparisonRequest(config)
    return request, store.save(request, fake_result(config))


def test_a_comparison_comes_back_as_it_was_saved(tmp_path):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=1)
    request = ComparisonRequest(config)
    assert store.load(request) is None and request not in store
    store.save(request, fake_result(config))
    loaded = store.load(request)
    pd.testing.assert_frame_equal(loaded.history, fake_result(config).history)
    np.testing.assert_array_equal(loaded.answers_at(1)["BN after"][0], [3, 3, 3, 3])
    np.testing.assert_array_equal(loaded.answers_at()["BN after"][1], [0.4] * 4)
    assert loaded.models == ["baseline", "BN after"]
    assert loaded.layer_tables["baseline"].params.iloc[0] == 5130
    assert loaded.config == config and loaded.data_source == "bundled sample"


def test_a_sweep_comes_back_as_it_was_saved(tmp_path):
    store = ResultsStore(tmp_path)
    request = SweepRequest(ExperimentConfig(), (1e-3, 1.0), epochs=2)
    table = pd.DataFrame([["baseline", 1e-3, 0.8, False, "trained", 2],
                          ["baseline", 1.0, float("nan"), True, "diverged", 1]],
                         columns=list(SWEEP_COLUMNS))
    path = store.save(request, SweepResult(request, table))
    assert path.name == f"{request.config_hash()}.csv"
    pd.testing.assert_frame_equal(store.load(request).table, table)


def test_a_failed_write_keeps_the_old_entry_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    request, path = _saved(store, ExperimentConfig(epochs=1))
    before = path.read_bytes()

    def crash(*_):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(request, fake_result(ExperimentConfig(epochs=1, seed=2)))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_saves_leave_nothing_but_their_entries(tmp_path):
    store = ResultsStore(tmp_path)
    for seed in range(3):
        _saved(store, ExperimentConfig(seed=seed))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".npz"] * 3


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "directory", "other config"])
def test_a_damaged_entry_is_discarded_logged_and_reported_absent(tmp_path, caplog, damage):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=4)
    request, path = _saved(store, config)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "garbage":
        path.write_bytes(os.urandom(2000))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "directory":  # an entry that cannot even be opened as a file
        path.unlink()
        path.mkdir()
    else:  # a valid entry under the wrong name
        _, other = _saved(store, config.replace(seed=9))
        os.replace(other, path)
    assert store.load(request) is None
    assert "unreadable entry" in caplog.text
    assert request.config_hash() in store.discarded
    if damage != "directory":
        assert not path.exists()  # removed, so it is trained again
        store.save(request, fake_result(config))  # and a new save clears the report
        assert request.config_hash() not in store.discarded


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
    assert sorted(ResultsStore(tmp_path).sweep_temporary()) == sorted([orphan, old_style])
    assert not orphan.exists() and not old_style.exists()
    assert live.exists()


def test_reading_results_does_not_import_tensorflow(tmp_path):
    _saved(ResultsStore(tmp_path), ExperimentConfig(epochs=1))
    code = (
        "import sys; from bnviz.store import ResultsStore; from bnviz.config import "
        "ExperimentConfig; from bnviz.comparison import ComparisonRequest; "
        f"r = ResultsStore({str(tmp_path)!r}).load(ComparisonRequest(ExperimentConfig(epochs=1)));"
        " r.summary(); assert r is not None; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
