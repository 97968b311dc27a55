import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bnviz.config import ExperimentConfig
from bnviz.results import HISTORY_COLUMNS, ComparisonResult, ResultsStore


def _result(config: ExperimentConfig) -> ComparisonResult:
    history = pd.DataFrame(
        [["baseline", config.seed, 1, 0.5, 1.2, 0.4, 1.3, 0.1],
         ["BN after", config.seed, 1, 0.6, 1.0, 0.5, 1.1, 0.1]], columns=list(HISTORY_COLUMNS))
    probabilities = np.full((4, 10), 0.1, dtype=np.float32)
    return ComparisonResult(
        config=config, history=history, test_labels=np.arange(4),
        probabilities={"baseline": probabilities, "BN after": probabilities * 2},
        layer_tables={"baseline": pd.DataFrame({"layer": ["dense"], "params": [5130]})},
        data_source="bundled sample")


def test_round_trip(tmp_path):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=1)
    assert store.load(config) is None
    store.save(_result(config))
    loaded = store.load(config)
    pd.testing.assert_frame_equal(loaded.history, _result(config).history)
    expected = _result(config).probabilities["BN after"]
    np.testing.assert_array_equal(loaded.probabilities["BN after"], expected)
    assert loaded.models == ["baseline", "BN after"]
    assert loaded.layer_tables["baseline"].params.iloc[0] == 5130


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=1)
    store.save(_result(config))
    before = store.path_for(config).read_bytes()

    def crash(*_):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(_result(config.replace(seed=1)))
    assert store.path_for(config).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [store.path_for(config).name]


def test_corrupt_entry_is_discarded_and_reported_absent(tmp_path, caplog):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=1)
    store.save(_result(config))
    store.path_for(config).write_bytes(b"PK\x03\x04 garbage")
    assert store.load(config) is None
    assert "unreadable entry" in caplog.text
    assert not store.path_for(config).exists()


def test_reading_results_does_not_import_tensorflow(tmp_path):
    store, config = ResultsStore(tmp_path), ExperimentConfig(epochs=1)
    store.save(_result(config))
    code = (
        "import sys; from bnviz.results import ResultsStore; from bnviz.config import "
        f"ExperimentConfig; r = ResultsStore({str(tmp_path)!r}).load(ExperimentConfig(epochs=1)); "
        "r.summary(); assert r is not None; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
