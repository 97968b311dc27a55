import os
import signal
import threading

import pandas as pd
import pytest

from bnviz.training import train_comparison
from bnviz.worker import ProcessTrainer, TrainingCrashed


@pytest.fixture
def trainer():
    trainer = ProcessTrainer(keep_spare=False)
    yield trainer
    trainer.close()


def test_a_training_in_its_own_process_matches_one_in_this_process(trainer, tiny_config):
    rows = []
    remote = trainer(tiny_config, on_epoch=rows.append)
    local = train_comparison(tiny_config)
    assert len(rows) == 4 and rows[0]["model"] == "baseline"
    pd.testing.assert_frame_equal(remote.history.drop(columns="seconds"),
                                  local.history.drop(columns="seconds"))
    assert not trainer.active


def test_a_killed_training_process_is_reported_not_raised_elsewhere(trainer, tiny_config):
    def kill_on_first_epoch(_row):
        for process in list(trainer.active):
            os.kill(process.pid, signal.SIGKILL)

    with pytest.raises(TrainingCrashed, match="stopped unexpectedly"):
        trainer(tiny_config.replace(epochs=5), on_epoch=kill_on_first_epoch)
    # and the next training works
    assert len(trainer(tiny_config).history) == 4


def test_an_error_in_the_child_comes_back_as_its_message(trainer, tiny_config):
    # The child re-validates what it receives: smuggle in a value validation forbids.
    unusable = tiny_config.replace()
    object.__setattr__(unusable, "epochs", 0)
    with pytest.raises(TrainingCrashed, match="ConfigError: epochs: must be between 1 and 300"):
        trainer(unusable)


def test_spare_is_ready_for_the_next_training(tiny_config):
    trainer = ProcessTrainer(keep_spare=True)
    try:
        done = threading.Event()
        trainer(tiny_config, on_epoch=lambda _: done.set())
        assert done.is_set() and trainer._spare is not None
        assert trainer._spare.process.poll() is None
    finally:
        trainer.close()
