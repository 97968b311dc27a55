"""Bad data and bad disks, through the page: a clear message, and the app keeps working."""

from __future__ import annotations

import gzip

import pytest
from streamlit.testing.v1 import AppTest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.data import IDX_FILES
from bnviz.store import ResultsStore
from tests.helpers import TINY_LINK, fake_result, page, run_until_results


def _open(timeout: float = 180, **query) -> AppTest:
    """Open the page with ``query`` and rerun until the results' tabs appear (if training)."""
    at = page(**query)
    if query.get("run"):
        run_until_results(at, timeout)
    else:
        at.run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


@pytest.mark.slow
def test_corrupt_dataset_files_are_named_and_training_uses_the_next_source(tmp_path, monkeypatch):
    data_dir = tmp_path / "fashion"
    data_dir.mkdir()
    for index, name in enumerate(IDX_FILES.values()):
        if index % 2:  # a truncated gzip
            (data_dir / name).write_bytes(gzip.compress(b"\x00" * 5000)[:40])
        else:  # not gzip at all, and no IDX header either
            (data_dir / name).write_bytes(b"this is not a dataset")
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(data_dir))
    at = _open(**TINY_LINK, run="1")
    warnings = _texts(at.warning)
    assert "Data:" in warnings and str(data_dir) in warnings, warnings
    assert "falling back to the next source" in warnings
    caption = _texts(at.caption)
    source = caption.split("Data: ", 1)[1]
    assert str(data_dir) not in source.split(".")[0]  # trained on another source
    assert "fashion-mnist" in source or "bundled sample" in source, caption


@pytest.mark.slow
def test_an_unwritable_store_is_announced_and_training_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("a regular file where the store directory should be")
    monkeypatch.setenv("BNVIZ_CACHE_DIR", str(blocker / "cache"))
    at = _open()
    assert "Results cannot be saved" in _texts(at.warning)
    at = _open(**TINY_LINK, run="1")
    assert at.tabs[0].label == "Learning curves"  # trained and shown, from memory
    assert "Results cannot be saved" in _texts(at.warning)


def test_a_corrupt_store_entry_is_announced_and_not_served(isolated_cache, in_process_page):
    config = ExperimentConfig(epochs=2, train_size=256)
    path = ResultsStore(isolated_cache).save(ComparisonRequest(config), fake_result(config))
    path.write_bytes(path.read_bytes()[:200])  # truncated, as by a full disk
    at = _open(**TINY_LINK)
    assert not at.tabs  # not served as a finished result
    assert "could not be read" in _texts(at.info)
    assert any("press **Train**" in i.value for i in at.info)
    assert not path.exists()  # discarded, so it is recomputed on request
