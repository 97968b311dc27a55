import threading

import pandas as pd
import pytest

from bnviz.results import HISTORY_COLUMNS
from bnviz.training import TRAINERS, TrainingStopped, train_comparison

LEARNED = ["train_accuracy", "train_loss", "test_accuracy", "test_loss"]


def _curves(result) -> pd.DataFrame:
    return result.history.drop(columns="seconds")


def test_history_is_tidy_and_arrives_epoch_by_epoch(tiny_config):
    rows = []
    result = train_comparison(tiny_config, on_epoch=rows.append)
    assert list(result.history.columns) == list(HISTORY_COLUMNS)
    assert [(r["model"], r["epoch"]) for r in rows] == [
        ("baseline", 1), ("BN after", 1), ("baseline", 2), ("BN after", 2)]
    assert result.probabilities["BN after"].shape == (1000, 10)
    assert result.test_labels.shape == (1000,)
    assert result.layer_tables["BN after"].params.sum() == 33_930


def test_same_seed_same_history_other_seed_other_history(tiny_config):
    first, second = train_comparison(tiny_config), train_comparison(tiny_config)
    pd.testing.assert_frame_equal(_curves(first), _curves(second))
    other = train_comparison(tiny_config.replace(seed=2))
    assert not _curves(other)[LEARNED].equals(_curves(first)[LEARNED])


def test_two_threads_match_runs_alone(tiny_config):
    configs = [tiny_config, tiny_config.replace(seed=5, placement="before")]
    alone = [train_comparison(c) for c in configs]
    together: dict[int, object] = {}

    def train(index):
        together[index] = train_comparison(configs[index])

    threads = [threading.Thread(target=train, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, result in enumerate(alone):
        pd.testing.assert_frame_equal(_curves(together[index]), _curves(result))


def test_stop_request_ends_training(tiny_config):
    with pytest.raises(TrainingStopped):
        train_comparison(tiny_config, should_stop=lambda: True)


def test_a_training_in_between_leaves_no_trace(tiny_config):
    """Trainers are reused: weights, BN statistics, optimizer state, rate and dropout reset."""
    first = train_comparison(tiny_config)
    train_comparison(tiny_config.replace(seed=9, learning_rate=0.01, train_size=300))
    again = train_comparison(tiny_config)
    pd.testing.assert_frame_equal(_curves(again), _curves(first))
    pd.testing.assert_frame_equal(again.bn_layers, first.bn_layers)


def test_trainings_of_one_kind_share_one_compiled_epoch(tiny_config):
    """Why memory stays flat over many trainings: no new trace per training."""
    for config in (tiny_config, tiny_config.replace(seed=4, train_size=200, seeds=2)):
        train_comparison(config)
    with TRAINERS.lend("after", tiny_config) as trainer:
        assert trainer._epoch.experimental_get_tracing_count() == 1
        assert trainer.probe._values.experimental_get_tracing_count() == 1
