import threading

import numpy as np
import pandas as pd

from bnviz.config import ExperimentConfig
from bnviz.jobs import DONE, FAILED, QUEUED, RUNNING, JobManager
from bnviz.results import HISTORY_COLUMNS, ComparisonResult, ResultsStore
from tests.helpers import wait_for


class FakeTrainer:
    """Counts trainings; each waits for `release` so tests can look at jobs mid-flight."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[ExperimentConfig] = []
        self.release = threading.Event()
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, config, on_epoch):
        with self._lock:
            self.calls.append(config)
            attempt = len(self.calls)
        on_epoch({"model": "baseline", "seed": config.seed, "epoch": 1, "train_accuracy": 0.5,
                  "train_loss": 1.0, "test_accuracy": 0.4, "test_loss": 1.1, "seconds": 0.0})
        assert self.release.wait(10)
        if self.fail_first and attempt == 1:
            raise RuntimeError("out of memory")
        history = pd.DataFrame([["baseline", config.seed, 1, 0.5, 1.0, 0.4, 1.1, 0.0]],
                               columns=list(HISTORY_COLUMNS))
        return ComparisonResult(config, history, np.zeros(2, int),
                                {"baseline": np.full((2, 10), 0.1, np.float32)},
                                {"baseline": pd.DataFrame({"params": [1]})})


def test_concurrent_requests_for_one_config_share_one_training(tmp_path, caplog):
    caplog.set_level("INFO", logger="bnviz")
    trainer = FakeTrainer()
    manager = JobManager(ResultsStore(tmp_path), trainer=trainer)
    config = ExperimentConfig(epochs=1)
    jobs = []
    threads = [threading.Thread(target=lambda: jobs.append(manager.submit(config)))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(job) for job in jobs}) == 1
    wait_for(lambda: jobs[0].rows)  # viewers see rows before the end
    trainer.release.set()
    wait_for(lambda: jobs[0].status == DONE)
    assert len(trainer.calls) == 1
    assert caplog.text.count(f"training started config={config.config_hash()}") == 1
    assert config in manager.store  # persisted for a restart
    fresh = JobManager(ResultsStore(tmp_path), trainer=trainer)
    assert fresh.submit(config).status == DONE and len(trainer.calls) == 1


def test_queue_respects_the_running_limit(tmp_path):
    trainer = FakeTrainer()
    manager = JobManager(ResultsStore(tmp_path), max_running=1, trainer=trainer)
    first = manager.submit(ExperimentConfig(seed=1))
    second = manager.submit(ExperimentConfig(seed=2))
    third = manager.submit(ExperimentConfig(seed=3))
    assert (first.status, second.status, third.status) == (RUNNING, QUEUED, QUEUED)
    assert (manager.queue_position(second), manager.queue_position(third)) == (1, 2)
    assert manager.running_count() == 1
    trainer.release.set()
    wait_for(lambda: third.status == DONE)
    assert len(trainer.calls) == 3


def test_a_failed_training_reports_its_error_and_the_next_request_works(tmp_path):
    trainer = FakeTrainer(fail_first=True)
    trainer.release.set()
    manager = JobManager(ResultsStore(tmp_path), trainer=trainer)
    config = ExperimentConfig(epochs=3)
    failed = manager.submit(config)
    wait_for(lambda: failed.status == FAILED)
    assert failed.error == "RuntimeError: out of memory"
    retried = manager.submit(config)
    assert retried is not failed
    wait_for(lambda: retried.status == DONE)
    assert retried.result is not None


def test_unwritable_store_still_serves_the_result(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the store directory should be")
    trainer = FakeTrainer()
    trainer.release.set()
    manager = JobManager(ResultsStore(blocker / "cache"), trainer=trainer)
    job = manager.submit(ExperimentConfig(epochs=2))
    wait_for(lambda: job.status in (DONE, FAILED))
    assert job.status == DONE and job.result is not None
