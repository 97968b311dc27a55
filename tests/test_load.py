"""The classroom at CI scale, against a real `streamlit run` and real chromium pages.

The same scenarios as ``bench/load.py`` (which runs them with 30 sessions), smaller: one
link opened by several sessions trains once and serves all; several configurations
queue behind ``BNVIZ_MAX_JOBS=1``; a server killed mid-training loses nothing finished.
Sessions speak Streamlit's websocket protocol, and one chromium page watches alongside.
"""

from __future__ import annotations

import pytest

from bench.load import check, scenario_restart, scenario_same, scenario_spread
from bench.wsclient import ProtocolChanged, check_protocol
from tests.server import require_chromium

EPOCHS, TRAIN_SIZE = 2, 256


def test_the_load_client_speaks_the_installed_streamlits_protocol():
    try:
        check_protocol()
    except ProtocolChanged as error:
        pytest.fail(str(error))


@pytest.fixture
def _chromium():
    require_chromium()


@pytest.mark.slow
@pytest.mark.browser
def test_sessions_opening_one_link_share_one_training(tmp_path, _chromium):
    result = scenario_same(tmp_path, sessions=8, epochs=EPOCHS, train_size=TRAIN_SIZE,
                           spread=2.0, observers=1)
    assert result["trainings_started"] == 1, result
    assert result["websocket_with_charts"] == 8 and result["chromium_with_charts"] == 1, result
    assert check(result, max_jobs=1) == []


@pytest.mark.slow
@pytest.mark.browser
def test_configurations_queue_behind_the_limit_and_each_trains_once(tmp_path, _chromium):
    result = scenario_spread(tmp_path, sessions=6, configs=2, epochs=EPOCHS,
                             train_size=TRAIN_SIZE, spread=1.0, max_jobs=1, observers=1)
    assert result["trainings_started"] == 2 and result["each_config_trained_once"], result
    assert result["max_concurrent"] == 1, result
    assert result["sessions_shown_queue_place"] >= 1, result
    assert result["sessions_with_charts"] == 7, result
    assert check(result, max_jobs=1) == []


@pytest.mark.slow
@pytest.mark.browser
def test_a_server_killed_mid_training_loses_nothing_finished(tmp_path, _chromium):
    result = scenario_restart(tmp_path, epochs=EPOCHS, train_size=TRAIN_SIZE, long_epochs=15)
    assert result["workers_at_kill"] >= 1, result  # a training process was really running
    assert result["orphans_exited_seconds"] is not None, result
    assert result["finished_in_store"] and not result["interrupted_in_store"], result
    assert result["temporary_files"] == [], result
    assert result["finished_after_restart"] == "results", result
    assert result["trainings_for_finished"] == 0, result
    assert result["interrupted_after_restart"] == "idle", result
    assert result["interrupted_trained_again"], result
    assert result["trainings_for_interrupted"] == 1, result
    assert check(result, max_jobs=1) == []
