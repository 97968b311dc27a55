"""The store cannot fill the disk: past `BNVIZ_STORE_LIMIT_MB` the least recently used
results go, never one being written or shown, never the gallery's or anything else in the
directory; an evicted result is trained again when asked for."""

from __future__ import annotations

import os
import time

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.jobs import DONE, STORE
from bnviz.store import DEFAULT_LIMIT_MB, ResultsStore, limit_from_environment
from tests.helpers import fake_result, instant_runner, wait_for


def _request(seed: int) -> ComparisonRequest:
    return ComparisonRequest(ExperimentConfig(epochs=1, train_size=256, seed=seed))


def _entry_mb(tmp_path) -> float:
    probe = ResultsStore(tmp_path / "probe", limit_mb=100)
    return probe.save(_request(1), fake_result(_request(1).config)).stat().st_size / 2**20


def _aged(store: ResultsStore, request: ComparisonRequest, seconds_ago: float) -> None:
    # File times say which entry was used last; spread them so the order is certain.
    stamp = time.time() - seconds_ago
    os.utime(store.path_for(request), (stamp, stamp))


def test_many_results_stay_within_the_limit_least_recently_used_going_first(tmp_path):
    limit = 3.5 * _entry_mb(tmp_path)  # room for three entries
    store = ResultsStore(tmp_path / "store", limit_mb=limit)
    for seed in range(1, 4):
        store.save(_request(seed), fake_result(_request(seed).config))
        _aged(store, _request(seed), 100 - seed)  # 1 oldest, 3 newest
    assert store.load(_request(1)) is not None  # read now: the most recently used
    for seed in range(4, 9):
        store.save(_request(seed), fake_result(_request(seed).config))
        size = sum(path.stat().st_size for path in store.entries())
        assert size <= limit * 2**20, (seed, size)
    kept = {path.name.split(".")[0] for path in store.entries()}
    assert len(kept) == 3
    assert _request(8).config_hash() in kept  # the one just written stays
    assert _request(2).config_hash() not in kept and _request(3).config_hash() not in kept


def test_results_shown_or_being_written_are_never_evicted_nor_other_files(tmp_path):
    entry = _entry_mb(tmp_path)
    store = ResultsStore(tmp_path / "store", limit_mb=1.5 * entry)  # room for one
    store.directory.mkdir(parents=True)
    others = [store.directory / name for name in
              ("0123456789abcdef.123.xyz.tmp", "GALLERY.json", "notes.npz")]
    for path in others:
        path.write_bytes(b"x" * 4096)
    (store.directory / "rooms").mkdir()
    shown = _request(1)
    store.save(shown, fake_result(shown.config))
    _aged(store, shown, 100)
    for seed in (2, 3):
        store.save(_request(seed), fake_result(_request(seed).config),
                   keep=frozenset({shown.config_hash()}))
    kept = {path.name.split(".")[0] for path in store.entries()}
    assert kept == {shown.config_hash(), _request(3).config_hash()}
    assert all(path.exists() for path in others) and (store.directory / "rooms").is_dir()


def test_the_manager_keeps_what_viewers_see_and_trains_an_evicted_result_again(tmp_path,
                                                                              open_manager):
    entry = _entry_mb(tmp_path)
    store = ResultsStore(tmp_path / "store", limit_mb=2.5 * entry)  # two entries
    manager = open_manager(store, runner=instant_runner)
    manager.results_kept = 1  # one result in memory: the last one viewers asked for
    for seed in range(1, 5):
        job = manager.submit(_request(seed))
        wait_for(lambda job=job: job.status == DONE)
        _aged(store, _request(seed), 100 - seed)  # saved one after the other
    assert len(store.entries()) == 2
    assert _request(4) in store and _request(1) not in store
    # Asked for again, the evicted one is no longer stored: it trains anew, and is kept.
    fresh = open_manager(ResultsStore(tmp_path / "store", limit_mb=2.5 * entry),
                         runner=instant_runner)
    assert fresh.lookup(_request(4)).origin == STORE
    assert fresh.lookup(_request(1)).result is None
    again = fresh.submit(_request(1))
    wait_for(lambda: again.status == DONE)
    assert _request(1) in fresh.store


@pytest.mark.parametrize(("value", "expected"), [
    (None, DEFAULT_LIMIT_MB), ("250", 250.0), ("0.5", 0.5), ("0", DEFAULT_LIMIT_MB),
    ("-3", DEFAULT_LIMIT_MB), ("lots", DEFAULT_LIMIT_MB)])
def test_the_limit_is_read_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("BNVIZ_STORE_LIMIT_MB", raising=False)
    else:
        monkeypatch.setenv("BNVIZ_STORE_LIMIT_MB", value)
    assert limit_from_environment() == expected


def test_a_result_evicted_while_it_is_read_is_absent_not_damaged(tmp_path, monkeypatch):
    from pathlib import Path

    store = ResultsStore(tmp_path / "store", limit_mb=100)
    request = _request(1)
    store.save(request, fake_result(request.config))
    read = Path.read_bytes

    def evicted_meanwhile(path):
        path.unlink()  # another thread's eviction, between the check and the read
        return read(path)

    monkeypatch.setattr(Path, "read_bytes", evicted_meanwhile)
    assert store.load(request) is None
    assert store.discarded == {}  # not reported as damaged: it is simply gone


def test_sweeps_count_against_the_limit_and_a_lowered_limit_holds_at_start(tmp_path):
    from bnviz.sweep import SweepRequest

    sweep = SweepRequest(ExperimentConfig(epochs=1, train_size=256), (1e-3, 1e-2), 1)
    store = ResultsStore(tmp_path / "store", limit_mb=100)
    store.directory.mkdir(parents=True)
    store.path_for(sweep).write_text("model,learning_rate\n")
    assert store.path_for(sweep) in store.entries()
    for seed in (1, 2):
        store.save(_request(seed), fake_result(_request(seed).config))
    _aged(store, sweep, 300)
    _aged(store, _request(1), 200)
    from bnviz.results import ResultCache

    smaller = ResultsStore(tmp_path / "store", limit_mb=1.5 * _entry_mb(tmp_path))
    ResultCache(smaller)  # a server starting with a lower limit
    assert [path.name.split(".")[0] for path in smaller.entries()] == [
        _request(2).config_hash()]
