"""Trainings in processes of their own: same results, crashes reported, nothing left behind."""

import os
import signal
import subprocess
import sys
import threading

import pandas as pd
import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.request import TrainingStopped
from bnviz.training import train_comparison
from bnviz.worker import OUT_OF_MEMORY, ProcessRunner, TrainingCrashed
from tests.helpers import assert_identical, wait_for


@pytest.fixture
def runner():
    runner = ProcessRunner(keep_spare=False)
    yield runner
    runner.close()


@pytest.mark.slow
def test_a_training_in_its_own_process_matches_one_in_this_process(runner, tiny_config):
    rows = []
    remote = runner(ComparisonRequest(tiny_config), on_progress=rows.append)
    local = train_comparison(tiny_config)
    assert len(rows) == 4 and rows[0]["model"] == "baseline"
    assert_identical(remote.history.drop(columns="seconds"),
                     local.history.drop(columns="seconds"))
    assert not runner.active


# Trains other configurations, then the one asked for, and writes its history (a notebook,
# a CLI sweep or a warm spare trains several things in one process).
_AFTER_OTHERS = """
import pickle, sys
from bnviz.training import train_comparison
others, config = pickle.load(open(sys.argv[1], "rb"))
for other in others:
    train_comparison(other)
train_comparison(config).history.to_pickle(sys.argv[2])
"""


@pytest.mark.slow
def test_the_same_configuration_trains_identical_histories_wherever_it_runs(
        runner, tiny_config, tmp_path):
    # The Seed setting's promise, "same seed, same curves", to the last bit on this
    # machine: in this process after the suite's other trainings, in a fresh training
    # process, in a process that trained other configurations first (another size of the
    # same compiled trainer, another placement, another batch size), and in the CLI.
    import pickle

    config = tiny_config.replace(seed=3)
    others = [config.replace(train_size=300, epochs=1), config.replace(placement="before"),
              config.replace(batch_size=32, seed=1)]
    here = train_comparison(config).history.drop(columns="seconds")
    assert_identical(runner(ComparisonRequest(config)).history.drop(columns="seconds"), here)
    (tmp_path / "configs.pkl").write_bytes(pickle.dumps((others, config)))
    subprocess.run([sys.executable, "-c", _AFTER_OTHERS, str(tmp_path / "configs.pkl"),
                    str(tmp_path / "after.pkl")], check=True, timeout=600, cwd=os.getcwd())
    assert_identical(pd.read_pickle(tmp_path / "after.pkl").drop(columns="seconds"), here)
    cli = subprocess.run(
        [sys.executable, "-m", "bnviz", "run", "--epochs", "2", "--train-size", "256",
         "--seed", "3", "--out", str(tmp_path / "cli")], capture_output=True, text=True,
        timeout=600, check=False)
    assert cli.returncode == 0, cli.stderr[-2000:]
    written = pd.read_csv(tmp_path / "cli" / "history.csv", float_precision="round_trip")
    assert_identical(written.drop(columns="seconds"), here)


@pytest.mark.slow
def test_a_killed_training_process_is_reported_not_raised_elsewhere(runner, tiny_config):
    def kill_on_first_epoch(_row):
        for process in list(runner.active):
            os.kill(process.pid, signal.SIGKILL)

    with pytest.raises(TrainingCrashed, match=r"killed \(SIGKILL\)") as crash:
        runner(ComparisonRequest(tiny_config.replace(epochs=5)), on_progress=kill_on_first_epoch)
    assert crash.value.plain == OUT_OF_MEMORY  # what the page says
    # and the next training works
    assert len(runner(ComparisonRequest(tiny_config)).history) == 4


@pytest.mark.slow
def test_an_error_in_the_child_comes_back_as_its_message(runner, tiny_config):
    # The child validates what it receives: smuggle in a value validation forbids.
    unusable = tiny_config.replace()
    object.__setattr__(unusable, "epochs", 0)
    with pytest.raises(TrainingCrashed, match="ConfigError: epochs: must be between 1 and 1000"):
        runner(ComparisonRequest(unusable))


@pytest.mark.slow
def test_a_spare_is_warm_after_a_training_and_close_ends_it(tiny_config):
    runner = ProcessRunner(keep_spare=True)
    try:
        rows = []
        runner(ComparisonRequest(tiny_config), on_progress=rows.append)
        # two epochs of each model, the baseline first
        assert [(row["model"], row["epoch"]) for row in rows] == [
            ("baseline", 1), ("BN after", 1), ("baseline", 2), ("BN after", 2)]
        spare = runner._spare.process
        assert spare.poll() is None  # waiting for the next request
        runner.close()
        assert spare.poll() is not None and runner._spare is None
        with pytest.raises(TrainingCrashed, match="closed"):
            runner(ComparisonRequest(tiny_config))
        assert runner._spare is None  # and no new one started
    finally:
        runner.close()


@pytest.mark.slow
def test_a_stop_asked_mid_training_comes_back_as_a_partial_result_at_once(
        runner, tiny_config):
    import time

    rows: list[dict] = []
    asked: list[float] = []

    def should_stop() -> bool:
        if len(rows) >= 4 and not asked:  # after two epochs of each model
            asked.append(time.monotonic())
        return bool(asked)

    result = runner(ComparisonRequest(tiny_config.replace(epochs=100)),
                    on_progress=rows.append, should_stop=should_stop)
    took = time.monotonic() - asked[0]
    assert result.partial and result.stopped_epoch >= 2 and len(result.history) == len(rows)
    assert result.stop_note() == f"stopped at epoch {result.stopped_epoch} of 100"
    # Not a timed gate (a slow CI moment would make it flaky; bench/soak.py times Stops): the
    # training ends within a few epochs of the ask instead of running its 100.
    print(f"{took:.2f} s from Stop to the partial result, at epoch {result.stopped_epoch}")
    assert result.stopped_epoch <= 10, result.stopped_epoch
    assert not runner.active  # the process is done: the trainer is free
    with pytest.raises(TrainingStopped):  # stopped before the first epoch: nothing to show
        runner(ComparisonRequest(tiny_config), should_stop=lambda: True)


@pytest.mark.slow
def test_close_ends_a_training_in_progress_and_its_caller_is_told(runner, tiny_config):
    started = threading.Event()
    outcome: list[str] = []

    def train() -> None:
        try:
            runner(ComparisonRequest(tiny_config.replace(epochs=100)),
                   on_progress=lambda _: started.set())
        except TrainingCrashed as error:
            outcome.append(str(error))

    thread = threading.Thread(target=train)
    thread.start()
    assert started.wait(120)
    training = list(runner.active)
    runner.close()
    thread.join(30)
    assert training and all(process.poll() is not None for process in training)
    assert outcome and "shutting down" in outcome[0]


def test_a_worker_exits_when_its_parent_dies():
    # A parent starts a child that watches it; the child says when it has watched through
    # several checks without exiting; then the parent is SIGKILLed.
    child_code = (
        "import sys, time; from bnviz.worker import exit_with_parent; "
        "exit_with_parent(int(sys.argv[1]), interval=0.05); time.sleep(0.3); "
        "print('still here', flush=True); time.sleep(600)")
    script = (
        "import subprocess, sys, os, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {child_code!r}, str(os.getpid())])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              cwd=os.getcwd(), env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        child_pid = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "still here"  # it watches; it did not exit
        assert _alive(child_pid)
        parent.kill()
        parent.wait()
        wait_for(lambda: not _alive(child_pid), timeout=10)
    finally:
        parent.kill()


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


def test_a_process_started_for_a_waiting_request_skips_the_warm_up(tiny_config):
    # The child's side of the protocol, in this process: what `prepare` is told decides
    # whether a spare's warm-up (seconds of tracing) runs before the request.
    import socket
    from multiprocessing.connection import Connection

    from bnviz.worker import serve

    def served(request_first: bool) -> tuple[bool, list]:
        parent, child = socket.socketpair()
        connection = Connection(parent.detach())
        told: list[bool] = []

        def prepare(request_waiting):
            told.append(request_waiting())
            return lambda request, on_progress, should_stop=None: "trained"

        if request_first:  # no spare was ready: the request is there before the process is
            connection.send(ComparisonRequest(tiny_config))
        server = threading.Thread(target=serve, args=(child.detach(), None, prepare))
        server.start()
        if not request_first:  # a spare: prepared while nobody waits
            wait_for(lambda: told, timeout=10)
            connection.send(ComparisonRequest(tiny_config))
        answer = connection.recv()
        server.join(timeout=10)
        connection.close()
        return told[0], answer

    assert served(request_first=True) == (True, ("done", "trained"))
    assert served(request_first=False) == (False, ("done", "trained"))


def test_a_training_process_warms_up_only_while_no_request_waits(monkeypatch):
    import bnviz.training
    from bnviz.worker import _prepare_training

    warmed = []
    monkeypatch.setattr(bnviz.training, "warm_up", lambda: warmed.append(True))
    assert _prepare_training(lambda: True) is bnviz.training.run_request
    assert warmed == []  # the request is there: straight to it
    _prepare_training(lambda: False)
    assert warmed == [True]  # a spare: warm while nobody waits
