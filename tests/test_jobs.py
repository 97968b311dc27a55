"""The job manager: one training per request however many ask, a bounded queue, failures
reported, results kept through bad disks, and stored results read once."""

import errno
import logging
import threading

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.jobs import (
    DONE,
    FAILED,
    GALLERY,
    JOB,
    QUEUED,
    RUNNING,
    STORE,
    WITHDRAWN,
    JobManager,
    Lookup,
)
from bnviz.store import ResultsStore
from tests.helpers import fake_result, instant_runner, wait_for


class HeldRunner:
    """Counts trainings; each waits for `release` so tests can look at jobs mid-flight."""

    def __init__(self, fail_first: bool = False) -> None:
        self.requests: list[ComparisonRequest] = []
        self.release = threading.Event()
        self.fail_first = fail_first
        self._lock = threading.Lock()

    def __call__(self, request, on_progress, should_stop=None):
        with self._lock:
            self.requests.append(request)
            attempt = len(self.requests)
        on_progress({"model": "baseline", "seed": request.config.seed, "epoch": 1})
        assert self.release.wait(10)
        if self.fail_first and attempt == 1:
            raise RuntimeError("out of memory")
        return fake_result(request.config)


def _request(**fields) -> ComparisonRequest:
    return ComparisonRequest(ExperimentConfig(**fields))


def test_concurrent_requests_for_one_config_share_one_training(tmp_path, caplog, open_manager):
    caplog.set_level("INFO", logger="bnviz")
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    request = _request(epochs=1)
    jobs = []
    threads = [threading.Thread(target=lambda: jobs.append(manager.submit(request)))
               for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(job) for job in jobs}) == 1
    wait_for(lambda: jobs[0].rows)  # viewers see rows before the end
    assert manager.result_for(request) is None  # not finished yet
    runner.release.set()
    wait_for(lambda: jobs[0].status == DONE)
    assert len(runner.requests) == 1
    assert caplog.text.count(f"training started config={request.config_hash()}") == 1
    assert f"training finished config={request.config_hash()} status=done" in caplog.text
    assert request in manager.store  # persisted for a restart
    fresh = open_manager(ResultsStore(tmp_path), runner=runner)
    assert fresh.submit(request).status == DONE and len(runner.requests) == 1


def test_queue_respects_the_running_limit(tmp_path, open_manager, caplog):
    caplog.set_level(logging.INFO, logger="bnviz")
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), max_running=1, runner=runner)
    first, second, third = (manager.submit(_request(seed=seed)) for seed in (1, 2, 3))
    assert (first.status, second.status, third.status) == (RUNNING, QUEUED, QUEUED)
    assert (manager.queue_position(second), manager.queue_position(third)) == (1, 2)
    assert manager.running_count() == 1 and manager.pending_count() == 3
    runner.release.set()
    wait_for(lambda: third.status == DONE)
    assert len(runner.requests) == 3 and manager.pending_count() == 0
    # the log says so too (bench/load.py reads concurrency from it): each training's end
    # comes before the next one's start
    said = [r.getMessage().split()[1] for r in caplog.records
            if r.getMessage().startswith("training ") and "config=" in r.getMessage()]
    assert said == ["started", "finished"] * 3


def test_a_failed_training_reports_its_error_and_the_next_request_works(tmp_path, open_manager):
    runner = HeldRunner(fail_first=True)
    runner.release.set()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    request = _request(epochs=3)
    failed = manager.submit(request)
    wait_for(lambda: failed.status == FAILED)
    assert failed.error == "RuntimeError: out of memory"
    assert manager.result_for(request) is None
    retried = manager.submit(request)
    assert retried is not failed
    wait_for(lambda: retried.status == DONE)
    assert manager.result_for(request) is retried.result is not None


def test_a_stored_result_is_read_from_disk_once(tmp_path, open_manager, monkeypatch):
    store = ResultsStore(tmp_path)
    request = _request(epochs=2)
    store.save(request, fake_result(request.config))
    manager = open_manager(store, runner=instant_runner)
    reads = []
    load = store.load
    monkeypatch.setattr(store, "load", lambda r: reads.append(r) or load(r))
    results = [manager.result_for(request) for _ in range(5)]  # five reruns of the page
    assert results[0] is not None and all(r is results[0] for r in results)
    assert len(reads) == 1
    assert manager.submit(request).status == DONE and len(reads) == 1  # no training either


def test_results_read_from_the_store_are_kept_for_the_most_recent_requests_only(
        tmp_path, open_manager, monkeypatch):
    store = ResultsStore(tmp_path)
    requests = [_request(epochs=2, seed=seed) for seed in range(3)]
    for request in requests:
        store.save(request, fake_result(request.config))
    manager = open_manager(store, runner=instant_runner)
    manager.results_kept = 2
    reads = []
    load = store.load
    monkeypatch.setattr(store, "load", lambda r: reads.append(r.config.seed) or load(r))
    for request in (*requests[:2], requests[0], requests[2]):  # seed 1 is asked least recently
        assert manager.result_for(request) is not None
    assert reads == [0, 1, 2]
    assert manager.result_for(requests[0]) is not None and reads == [0, 1, 2]  # still kept
    assert manager.result_for(requests[1]) is not None and reads == [0, 1, 2, 1]  # read again


def test_results_trained_here_are_kept_within_the_same_bound(tmp_path, open_manager):
    store = ResultsStore(tmp_path)
    manager = open_manager(store, runner=instant_runner)
    manager.results_kept = 2
    requests = [_request(epochs=3, seed=seed) for seed in range(3)]
    jobs = []
    for request in requests:
        jobs.append(manager.submit(request))
        wait_for(lambda: jobs[-1].status == DONE and manager.pending_count() == 0)
    assert manager.kept_count() == 2
    assert manager.get(requests[0]) is None  # forgotten by memory, not by the store
    again = manager.lookup(requests[0])
    assert again.origin == STORE and again.result is not jobs[0].result
    assert again.result.config == requests[0].config
    assert manager.lookup(requests[2]) == Lookup(jobs[2].result, JOB)


def test_results_the_store_could_not_save_are_kept_beyond_the_bound(tmp_path, open_manager):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the store directory should be")
    manager = open_manager(ResultsStore(blocker / "cache"), runner=instant_runner)
    manager.results_kept = 1
    requests = [_request(epochs=3, seed=seed) for seed in range(3)]
    for request in requests:
        job = manager.submit(request)
        wait_for(lambda job=job: job.status == DONE and manager.pending_count() == 0)
    assert manager.kept_count() == 3 > manager.results_kept  # the bound is passed
    # each request answered with its own result, from memory: nothing was saved
    assert [manager.lookup(request) for request in requests] == [
        Lookup(manager.get(request).result, JOB) for request in requests]
    assert [manager.result_for(request).config for request in requests] == [
        request.config for request in requests]


def test_a_session_trains_one_thing_at_a_time(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner, max_running=2)
    first = manager.submit(_request(epochs=1), session="a")
    assert manager.submit(_request(epochs=2), session="a") is first  # its first comes back
    assert manager.busy_job("a", other_than=_request(epochs=2)) is first
    assert manager.busy_job("a", other_than=_request(epochs=1)) is None
    assert manager.pending_count() == 1
    other = manager.submit(_request(epochs=2), session="b")  # another visitor may train it
    assert other is not first and manager.pending_count() == 2
    assert manager.submit(_request(epochs=1), session="a") is first  # its own: joined
    runner.release.set()
    wait_for(lambda: manager.pending_count() == 0)
    assert manager.busy_job("a") is None  # done: it may ask for another


def test_a_damaged_entry_is_trained_again(tmp_path, open_manager):
    store = ResultsStore(tmp_path)
    request = _request(epochs=4)
    store.save(request, fake_result(request.config)).write_bytes(b"garbage")
    manager = open_manager(store, runner=instant_runner)
    assert manager.result_for(request) is None
    job = manager.submit(request)
    wait_for(lambda: job.status == DONE)
    assert store.load(request) is not None  # saved again
    assert request.config_hash() not in store.discarded


def test_an_unwritable_store_is_reported_and_results_are_served_from_memory(
        tmp_path, open_manager):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the store directory should be")
    manager = open_manager(ResultsStore(blocker / "cache"), runner=instant_runner)
    assert manager.store_problem and "a-file" in manager.store_problem
    request = _request(epochs=2)
    job = manager.submit(request)
    wait_for(lambda: job.status == DONE)
    assert manager.result_for(request) is job.result is not None
    assert manager.store_problem


def test_a_full_disk_during_save_is_reported(tmp_path, monkeypatch, open_manager):
    store = ResultsStore(tmp_path)
    manager = open_manager(store, runner=instant_runner)
    assert manager.store_problem is None

    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "save", full)
    job = manager.submit(_request(epochs=3))
    wait_for(lambda: job.status == DONE and manager.store_problem is not None)
    assert "No space left" in manager.store_problem and job.result is not None


def test_a_closed_manager_closes_its_runner_and_starts_nothing(tmp_path):
    from bnviz.request import Runner

    class ClosableRunner(Runner):
        closed = False

        def __call__(self, request, on_progress, should_stop=None):
            return fake_result(request.config)

        def close(self):
            self.closed = True

    runner = ClosableRunner()
    manager = JobManager(ResultsStore(tmp_path), runner=runner)
    manager.close()
    assert runner.closed
    with pytest.raises(RuntimeError, match="closed"):
        manager.submit(_request(epochs=5))


def test_a_precomputed_result_is_shown_until_someone_asks_to_train_it(tmp_path, open_manager):
    request = _request(epochs=2)

    class Shelf:
        def load(self, asked):
            return fake_result(asked.config) if asked == request else None

    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner, gallery=Shelf())
    shown = manager.lookup(request)
    assert shown.origin == GALLERY and shown.result is not None
    assert manager.get(request) is None and not runner.requests  # nothing trains by itself
    job = manager.submit(request)  # "Train it yourself"
    wait_for(lambda: runner.requests)
    # while it trains, whoever did not ask still sees the precomputed result
    assert job.status == RUNNING and manager.lookup(request).origin == GALLERY
    runner.release.set()
    wait_for(lambda: job.status == DONE)
    assert manager.lookup(request) == Lookup(job.result, JOB)


def test_a_failed_training_of_a_precomputed_result_falls_back_to_it(tmp_path, open_manager):
    request = _request(epochs=3)

    class Shelf:
        def load(self, asked):
            return fake_result(asked.config)

    runner = HeldRunner(fail_first=True)
    runner.release.set()
    manager = open_manager(ResultsStore(tmp_path), runner=runner, gallery=Shelf())
    job = manager.submit(request)
    wait_for(lambda: job.status == FAILED)
    assert manager.lookup(request).origin == GALLERY and job.error


class FakeClock:
    """Stands in for the `time` module of bnviz.job and bnviz.scheduler: a clock the test
    moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_time_left_follows_the_pace_after_the_first_row(monkeypatch):
    import bnviz.job
    from bnviz.jobs import Job

    clock = FakeClock()
    monkeypatch.setattr(bnviz.job, "time", clock)
    job = Job(_request(epochs=10), RUNNING, started_at=clock.now)  # 20 rows in all
    clock.now += 5  # starting up and compiling
    job.add_row({})
    assert job.seconds_left() is None  # one row tells no pace
    for _ in range(2):
        clock.now += 1
        job.add_row({})
    assert job.seconds_left() == 17  # 17 rows left at 1 s each
    clock.now += 0.5
    assert job.seconds_left() == 16.5
    assert job.pace() == (pytest.approx(20 / _request(epochs=10).work()), 5)


def test_a_queued_job_is_told_its_wait_from_the_running_pace(tmp_path, open_manager,
                                                            monkeypatch):
    import bnviz.job
    import bnviz.scheduler

    clock = FakeClock()
    monkeypatch.setattr(bnviz.job, "time", clock)
    monkeypatch.setattr(bnviz.scheduler, "time", clock)
    release, rows_sent = threading.Event(), threading.Event()

    def paced(request, on_progress, should_stop=None):
        for step in (5, 1, 1):  # start-up 5 s, then 1 s per row
            clock.now += step
            on_progress({})
        rows_sent.set()
        assert release.wait(10)
        return fake_result(request.config)

    manager = open_manager(ResultsStore(tmp_path), runner=paced)
    running = manager.submit(_request(epochs=10))
    wait_for(rows_sent.is_set)
    second, third = manager.submit(_request(epochs=11)), manager.submit(_request(epochs=10,
                                                                                seed=2))
    assert manager.seconds_to_start(second) == 17  # what the running job has left
    # then the second: 5 s to start up and 1 s per row, 22 rows of the same images
    assert manager.seconds_to_start(third) == pytest.approx(17 + 5 + 22)
    release.set()
    wait_for(lambda: manager.pending_count() == 0)
    assert running.status == DONE


class StoppableRunner:
    """Reports an epoch every few milliseconds until ``should_stop`` says stop; then returns
    the epochs done as a partial result (as `bnviz.training.train_comparison` does)."""

    def __init__(self, epoch_ends: threading.Event | None = None) -> None:
        self.started = threading.Event()
        # When given: a stopped training ends only once it is set (its epoch still running).
        self.epoch_ends = epoch_ends

    def __call__(self, request, on_progress, should_stop=None):
        import dataclasses
        import time

        self.started.set()
        for epoch in range(1, 1000):
            if should_stop is not None and should_stop():
                if self.epoch_ends is not None:
                    self.epoch_ends.wait(30)
                if epoch == 1:
                    from bnviz.request import TrainingStopped

                    raise TrainingStopped("before the first epoch")
                return dataclasses.replace(fake_result(request.config), stopped_seed=1,
                                           stopped_epoch=epoch - 1)
            on_progress({"model": "baseline", "seed": 1, "epoch": epoch})
            time.sleep(0.005)
        return fake_result(request.config)


def test_only_the_session_that_started_a_training_can_stop_it(tmp_path, open_manager):
    from bnviz.jobs import STOPPED

    runner = StoppableRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    request = _request(epochs=1)
    job = manager.submit(request, session="teacher")
    assert manager.submit(request, session="student") is job  # joins: one training
    wait_for(lambda: len(job.rows) >= 3)
    assert job.owner == "teacher" and not manager.stop(job, "student")
    assert job.status == RUNNING  # a viewer's click stops nothing
    assert manager.stop(job, "teacher")
    wait_for(lambda: job.status == STOPPED)
    assert job.result.partial and job.result.stopped_epoch == len(job.rows)
    assert manager.running_count() == 0  # the trainer is free for the queue
    # Served to whoever opens the link (also from the store after a restart), marked partial.
    assert manager.lookup(request).result is job.result
    restarted = open_manager(ResultsStore(tmp_path), runner=runner)
    assert restarted.lookup(request).result.partial
    assert restarted.get(request).status == STOPPED
    again = manager.submit(request, session="student")  # Train again trains it anew
    assert again is not job and again.owner == "student"
    wait_for(lambda: len(again.rows) >= 1)
    manager.stop(again, "student")


def test_a_stop_before_the_first_epoch_ends_the_job_with_nothing_to_show(tmp_path,
                                                                         open_manager):
    from bnviz.jobs import STOPPED

    class CompilesUntilStopped(StoppableRunner):  # the Stop comes while it compiles
        def __call__(self, request, on_progress, should_stop=None):
            wait_for(should_stop)
            return super().__call__(request, on_progress, should_stop)

    manager = open_manager(ResultsStore(tmp_path), runner=CompilesUntilStopped())
    job = manager.submit(_request(epochs=1), session="me")
    wait_for(lambda: job.status == RUNNING)
    assert manager.stop(job, "me")
    wait_for(lambda: job.status == STOPPED)
    assert job.result is None and "nothing to show" in job.message
    assert manager.lookup(job.request).result is None  # nothing served, nothing stored
    again = manager.submit(job.request, session="me")
    assert again is not job
    wait_for(lambda: again.status == RUNNING)
    manager.stop(again, "me")
    wait_for(again.ended.is_set)


def test_a_queued_training_is_withdrawn_only_when_nobody_waits_for_it(tmp_path, open_manager):
    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    manager.submit(_request(epochs=1), session="first")  # takes the one trainer
    shared = manager.submit(_request(epochs=2), session="a")
    manager.submit(_request(epochs=2), session="b")
    alone = manager.submit(_request(epochs=3), session="c")
    assert [manager.queue_position(j) for j in (shared, alone)] == [1, 2]
    assert not manager.leave(alone, "a")  # not one of those who queued it
    assert not manager.stop(alone, "c")  # Stop is for running trainings; queued: withdraw
    assert manager.leave(shared, "a")
    assert shared.status == QUEUED and shared.owner == "b"  # b still waits for it
    assert manager.leave(alone, "c")
    assert alone.status == WITHDRAWN and alone.ended.is_set()
    assert manager.get(alone.request) is None and manager.pending_count() == 2
    assert manager.queue_position(shared) == 1
    runner.release.set()


def test_a_viewer_leaves_a_running_training_but_only_its_starter_stops_it(tmp_path,
                                                                         open_manager):
    runner = StoppableRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    job = manager.submit(_request(epochs=1), session="teacher")
    manager.submit(_request(epochs=1), session="student")
    wait_for(lambda: len(job.rows) >= 1)
    assert not manager.leave(job, "teacher")  # the starter stops it, does not leave it
    assert manager.leave(job, "student") and job.requesters == ["teacher"]
    assert job.status == RUNNING and not job.stop_requested.is_set()
    manager.stop(job, "teacher")


def test_asking_while_a_stopped_training_ends_its_epoch_trains_anew(tmp_path, open_manager):
    from bnviz.jobs import STOPPED

    # The stopped training's epoch ends only after the fresh request: otherwise a runner that
    # stops within milliseconds may end before it, and the race decides what the test sees.
    epoch_ends = threading.Event()
    manager = open_manager(ResultsStore(tmp_path), runner=StoppableRunner(epoch_ends),
                           max_running=2)
    job = manager.submit(_request(epochs=1), session="teacher")
    wait_for(lambda: len(job.rows) >= 1)
    manager.stop(job, "teacher")
    fresh = manager.submit(_request(epochs=1), session="student")  # before it has ended
    assert fresh is not job and fresh.owner == "student"
    assert job.status != STOPPED  # still ending its epoch
    epoch_ends.set()
    wait_for(lambda: job.status == STOPPED and len(fresh.rows) >= 1)
    assert not job.saved  # the partial result does not take the fresh training's place
    assert manager.get(job.request) is fresh
    manager.stop(fresh, "student")


def test_a_partial_result_gives_way_to_the_gallerys_whole_one(tmp_path, open_manager):
    import dataclasses

    request = _request(epochs=1)
    whole = fake_result(request.config)

    class Gallery:
        def load(self, asked):
            return whole if asked == request else None

    store = ResultsStore(tmp_path)
    store.save(request, dataclasses.replace(whole, stopped_seed=1, stopped_epoch=0))
    manager = open_manager(store, runner=instant_runner, gallery=Gallery())
    assert manager.lookup(request) == Lookup(whole, GALLERY)


def test_a_sweep_runs_to_its_end_whoever_asks_to_stop_it(tmp_path, open_manager):
    from bnviz.sweep import SweepRequest

    runner = HeldRunner()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    sweep = manager.submit(SweepRequest(ExperimentConfig(), (1e-3,), 2), session="me")
    wait_for(lambda: sweep.status == RUNNING)
    assert not manager.stop(sweep, "me") and not sweep.stop_requested.is_set()
    runner.release.set()


def test_a_stop_that_comes_too_late_leaves_a_whole_result_that_is_not_trained_again(
        tmp_path, open_manager):
    manager = open_manager(ResultsStore(tmp_path), runner=instant_runner)
    job = manager.submit(_request(epochs=1), session="me")
    wait_for(lambda: job.status == DONE)
    job.stop_requested.set()  # as a Stop pressed while the result was on its way
    assert not job.replaceable and manager.submit(job.request, session="you") is job


def test_a_partial_result_is_kept_when_its_replacement_is_withdrawn(tmp_path, open_manager):
    from bnviz.jobs import STOPPED

    class SlowToStop(StoppableRunner):  # ends only when the test lets it
        def __init__(self) -> None:
            super().__init__()
            self.let_end = threading.Event()

        def __call__(self, request, on_progress, should_stop=None):
            def stopping() -> bool:
                if should_stop():
                    assert self.let_end.wait(10)
                    return True
                return False

            return super().__call__(request, on_progress, stopping)

    runner = SlowToStop()
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    job = manager.submit(_request(epochs=1), session="teacher")
    wait_for(lambda: len(job.rows) >= 1)
    manager.stop(job, "teacher")
    fresh = manager.submit(job.request, session="student")  # waits for the one trainer
    assert fresh is not job and fresh.status == QUEUED
    assert manager.leave(fresh, "student")  # withdrawn: nothing will take the place
    runner.let_end.set()
    wait_for(lambda: job.status == STOPPED)
    assert job.result.partial and job.saved and manager.get(job.request) is job
    assert manager.lookup(job.request).result is job.result


def test_a_whole_result_despite_a_late_stop_leaves_its_replacement_queued(tmp_path,
                                                                         open_manager):
    runner = HeldRunner()  # ignores the stop: its result comes back whole
    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    job = manager.submit(_request(epochs=1), session="teacher")
    wait_for(lambda: job.status == RUNNING)
    manager.stop(job, "teacher")
    fresh = manager.submit(job.request, session="student")
    assert fresh is not job and fresh.status == QUEUED
    runner.release.set()
    wait_for(lambda: fresh.status == DONE)  # it kept its place and trained
    assert job.status == DONE and job.saved and manager.get(job.request) is fresh


def test_a_wait_counts_each_trainings_wind_down_after_its_last_row(tmp_path, open_manager,
                                                                   monkeypatch):
    import bnviz.job
    import bnviz.scheduler

    clock = FakeClock()
    monkeypatch.setattr(bnviz.job, "time", clock)
    monkeypatch.setattr(bnviz.scheduler, "time", clock)
    releases = [threading.Event(), threading.Event()]
    rows_sent = [threading.Event(), threading.Event()]

    def paced(request, on_progress, should_stop=None):
        turn = 0 if request.config.seed == 1 else 1
        for step in (5, 1, 1):  # start-up 5 s, then 1 s per row
            clock.now += step
            on_progress({})
        rows_sent[turn].set()
        assert releases[turn].wait(10)
        clock.now += 3  # after the last row: final measurements, the result stored
        return fake_result(request.config)

    manager = open_manager(ResultsStore(tmp_path), runner=paced)
    first = manager.submit(_request(epochs=10, seed=1))
    wait_for(rows_sent[0].is_set)
    releases[0].set()
    wait_for(lambda: first.status == DONE)
    second = manager.submit(_request(epochs=10, seed=2))
    wait_for(rows_sent[1].is_set)
    third = manager.submit(_request(epochs=10, seed=3))
    # What the running one has left (17 rows at 1 s), and its 3 s of winding down.
    assert manager.seconds_to_start(third) == pytest.approx(17 + 3)
    releases[1].set()
    wait_for(lambda: manager.pending_count() == 0)
    assert second.status == DONE
