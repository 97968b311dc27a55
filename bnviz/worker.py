"""Train in a separate process, one process per training, with a warm spare.

Why: TensorFlow's resident memory grows with every model a process builds and
it cannot hand it back, and a training that crashes (out of memory, a fault
in a native kernel) must not take the page server down with it. So the server
never imports TensorFlow: each training runs in a fresh ``python -m
bnviz.worker`` process that exits when done, and one spare process waits
with TensorFlow already imported, so a new training starts without paying the
import.

Protocol over a socket pair (``multiprocessing.connection``): the parent sends
the request (any `bnviz.request.Request`; the comparison's and the sweep's are
validated again as they are unpickled), and later perhaps ``("stop", None)``; the
child sends ``("progress", row)`` per progress row, then ``("done", result)`` (a
partial one after a stop), ``("stopped", None)`` (stopped before anything was done) or
``("error", message)``.

A child never outlives its server: if the server is killed (SIGKILL, a crash, a
restart), the child notices within a second, because its parent process id
changes, and exits, so no orphan keeps training (and holding a core) for nobody.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from bnviz import tf_settings
from bnviz.memory import MemoryBudget
from bnviz.request import ProgressCallback, Request, Runner, StopCheck, TrainingStopped

log = logging.getLogger(__name__)
MEMORY_CHECK_SECONDS = 2.0
# How often the parent looks for a stop request while it waits for the child's next message.
STOP_CHECK_SECONDS = 0.05

# Defaults for training processes (the caller's environment wins): glibc malloc with few
# arenas that hands freed memory back, which keeps the resident size of a multi-threaded
# TensorFlow process lower. TensorFlow's own settings: `bnviz.tf_settings`.
WORKER_ENVIRONMENT = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_TRIM_THRESHOLD_": "0",
}


OUT_OF_MEMORY = ("The server ran out of memory while training, so the training was stopped; "
                 "try fewer training images or epochs. The server keeps serving, and Train "
                 "tries again.")


class TrainingCrashed(RuntimeError):
    """The training process died or reported an error; ``plain`` says it for the page."""

    def __init__(self, message: str, plain: str | None = None) -> None:
        super().__init__(message)
        self.plain = plain


class TrainerUnreachable(TrainingCrashed):
    """Where the trainings run cannot be reached (a Ray cluster, `bnviz.cluster`)."""


class _Process:
    def __init__(self, child: tuple[str, ...]) -> None:
        parent, child_end = socket.socketpair()
        self.process = subprocess.Popen(
            [sys.executable, "-m", *child, str(child_end.fileno()), str(os.getpid())],
            pass_fds=(child_end.fileno(),), stdin=subprocess.DEVNULL,
            env={**WORKER_ENVIRONMENT, **os.environ})
        child_end.close()
        self.connection = Connection(parent.detach())

    def close(self) -> None:
        self.connection.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _crashed(worker: _Process, closing: bool) -> TrainingCrashed:
    code = worker.process.wait()
    if closing:
        return TrainingCrashed("the server is shutting down: the training was stopped")
    if code == -signal.SIGKILL:
        # Nothing of the app sends SIGKILL to a training but its own close(), and then
        # nobody waits for the answer: the sender is the kernel's out-of-memory killer (or
        # an operator, who knows).
        return TrainingCrashed("the training process was killed (SIGKILL), most likely by "
                               "the out-of-memory killer", plain=OUT_OF_MEMORY)
    return TrainingCrashed(f"the training process stopped unexpectedly (exit code {code})")


class ProcessRunner(Runner):
    """A runner (see `bnviz.jobs.JobManager`) that runs each request in its own process.

    With a memory ``budget`` (`bnviz.memory.MemoryBudget`) the warm spare is kept only
    while it fits beside the server and the trainings running, and given up (killed) when
    the app's measured memory goes over the budget during a training.
    """

    def __init__(self, keep_spare: bool = True, budget: MemoryBudget | None = None,
                 child: tuple[str, ...] = ("bnviz.worker",)) -> None:
        # What each process runs: ``python -m <child...> <socket fd> <parent pid>``, a module
        # that answers with `serve` (this one trains; `bnviz.cluster` drives a Ray cluster).
        self.child = child
        self.keep_spare = keep_spare
        self.budget = budget
        self._lock = threading.Lock()
        self._spare: _Process | None = None
        self._closed = False
        self.active: list[subprocess.Popen] = []  # processes training now (for operators, tests)
        self._training: list[Request] = []  # what they train
        self._memory_checked = 0.0
        self._replenish()

    @property
    def spare(self) -> subprocess.Popen | None:
        """The warm spare's process, if one is kept now."""
        with self._lock:
            return self._spare.process if self._spare is not None else None

    def _replenish(self) -> None:
        # The spare warms up between trainings, not during one, so it never steals CPU
        # from a running job on a two-core machine.
        with self._lock:
            if not self.keep_spare or self._closed or (
                    self._spare is not None and self._spare.process.poll() is None):
                return
            if self.budget is not None and not self.budget.spare_fits(self._training):
                log.info("no warm spare: it would not fit in the memory budget (%.0f MB)",
                         self.budget.budget_mb)
                return
            self._spare = _Process(self.child)

    def _give_up_spare_if_over_budget(self) -> None:
        """During a training, at most every `MEMORY_CHECK_SECONDS`: kill the spare if the
        app's processes together use more than the budget."""
        now = time.monotonic()
        if self.budget is None or now - self._memory_checked < MEMORY_CHECK_SECONDS:
            return
        self._memory_checked = now
        if self.spare is None:
            return
        used = self.budget.used_mb()
        if used > self.budget.budget_mb:
            with self._lock:
                spare, self._spare = self._spare, None
            if spare is not None:
                log.warning("gave up the warm spare: the app uses %.0f MB, over its budget of "
                            "%.0f MB", used, self.budget.budget_mb)
                spare.process.kill()
                spare.close()

    def _take(self) -> _Process:
        with self._lock:
            if self._closed:
                raise TrainingCrashed("the runner is closed")
            taken, self._spare = self._spare, None
            if taken is None or taken.process.poll() is not None:
                taken = _Process(self.child)
            self.active.append(taken.process)
            return taken

    def __call__(self, request: Request, on_progress: ProgressCallback | None = None,
                 should_stop: StopCheck | None = None) -> Any:
        """Run ``request`` in a fresh process, passing each progress row to ``on_progress``;
        once ``should_stop()`` is true, ask the process to stop (it answers with what it has
        done, see `bnviz.training.train_comparison`)."""
        worker = self._take()
        with self._lock:
            self._training.append(request)
        stop_sent = False
        try:
            try:
                worker.connection.send(request)
            except OSError:  # the process died before it could take the request
                raise _crashed(worker, self._closed) from None
            while True:
                if should_stop is not None and not stop_sent and should_stop():
                    stop_sent = True
                    # The child may have just sent its result and gone: what it sent is still
                    # read below, and a dead child is reported by the read, not by this send.
                    with contextlib.suppress(OSError):
                        worker.connection.send(("stop", None))
                try:
                    if should_stop is not None and not worker.connection.poll(
                            STOP_CHECK_SECONDS):
                        continue
                    kind, payload = worker.connection.recv()
                except (EOFError, OSError):
                    raise _crashed(worker, self._closed) from None
                if kind == "progress":
                    if on_progress is not None:
                        on_progress(payload)
                    self._give_up_spare_if_over_budget()
                elif kind == "done":
                    return payload
                elif kind == "stopped":
                    raise TrainingStopped(payload)
                else:
                    message, plain, unreachable = payload
                    raise (TrainerUnreachable if unreachable else TrainingCrashed)(
                        message, plain=plain)
        finally:
            worker.close()
            with self._lock:
                self.active.remove(worker.process)
                self._training.remove(request)
            self._replenish()

    def close(self) -> None:
        """End every process of this runner: the spare, and any training still running
        (its caller gets `TrainingCrashed`). No new process starts afterwards."""
        with self._lock:
            self._closed = True
            spare, self._spare = self._spare, None
            training = list(self.active)
        if spare is not None:  # it holds nothing yet: no need to wait for its warm-up
            spare.process.kill()
            spare.close()
        for process in training:
            process.kill()
            process.wait()


def default_runner(budget: MemoryBudget | None = None) -> Runner:
    """Process isolation where the platform passes sockets to children, else in-process."""
    if os.name == "posix":
        return ProcessRunner(budget=budget)
    from bnviz.jobs import run_here

    return run_here


PARENT_CHECK_SECONDS = 1.0


def exit_with_parent(parent_pid: int, interval: float = PARENT_CHECK_SECONDS) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent.

    Why a poll of the parent pid: the server may die without closing anything
    (SIGKILL), and the child may be deep in an epoch or in TensorFlow's import,
    not reading its socket. ``PR_SET_PDEATHSIG`` does not fit: it fires when the
    parent *thread* that started the child ends, and the job threads that start
    workers end after each training. When the parent dies the child is re-parented
    (to init or a subreaper), so its parent pid changes.
    """
    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)  # nobody can receive the result; stop at once, skip cleanup
            time.sleep(interval)

    threading.Thread(target=watch, daemon=True, name="bnviz-parent-watch").start()


def serve(fd: int, parent_pid: int | None,
          prepare: Callable[[Callable[[], bool]], Callable[..., Any]]) -> None:
    """The child's side of `ProcessRunner`: ``prepare(request_waiting)`` the runner that will
    run the one request this process receives, then run it, sending progress rows and the
    result (or the error) back over the socket ``fd``. ``request_waiting()`` tells
    ``prepare`` whether the request has already come (so a warm-up would only delay it)."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    connection = Connection(fd)
    run = prepare(lambda: connection.poll(0))
    try:
        # Unpickling rebuilds the request through its constructor, so a configuration is
        # validated again here (`ExperimentConfig.__reduce__`, `SweepRequest.__reduce__`).
        request = connection.recv()
    except EOFError:
        return  # the parent closed a spare it no longer needs
    except Exception as error:
        _send_error(connection, error)
        return
    stop = threading.Event()
    threading.Thread(target=_wait_for_stop, args=(connection, stop), daemon=True,
                     name="bnviz-stop-listener").start()
    try:
        result = run(request, lambda row: connection.send(("progress", row)),
                     should_stop=stop.is_set)
        connection.send(("done", result))
    except (BrokenPipeError, ConnectionResetError):
        return  # the parent went away mid-training: nobody is listening, stop quietly
    except TrainingStopped as stopped:
        with contextlib.suppress(OSError):
            connection.send(("stopped", str(stopped)))
    except Exception as error:
        _send_error(connection, error)


def _wait_for_stop(connection: Connection, stop: threading.Event) -> None:
    """Set ``stop`` when the parent sends ``("stop", None)``; end when it closes the line.

    Reading here while the training thread writes progress is safe: a socket's two
    directions are independent, and only this thread reads."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            kind, _ = connection.recv()
            if kind == "stop":
                stop.set()


def _prepare_training(request_waiting: Callable[[], bool]) -> Callable[..., Any]:
    from bnviz.training import run_request, warm_up

    # A spare warms up while no job waits: TensorFlow's one-time kernel set-up and the
    # default comparison's traces cost seconds that would otherwise delay the first
    # visible epoch. One small epoch is enough; a whole comparison would leave memory
    # behind for the real one. A process started for a request that is already there
    # (no spare was ready) goes straight to it: a warm-up would make it wait longer.
    if not request_waiting():
        warm_up()
    return run_request


def _send_error(connection: Connection, error: Exception) -> None:
    with contextlib.suppress(OSError):  # the parent is gone: nobody to tell
        connection.send(("error", (f"{type(error).__name__}: {error}",
                                   getattr(error, "plain", None),
                                   isinstance(error, TrainerUnreachable))))


# How much lower than the server a training process runs (nice): when both want the CPU, the
# server's pages come first (a fresh server's first visitor waited for the warm spare's
# TensorFlow import, on the same cores); an idle server leaves trainings every core.
NICENESS = 10

if __name__ == "__main__":
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    tf_settings.apply()
    serve(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None, _prepare_training)
    # Everything is sent: skip the interpreter's and TensorFlow's teardown (0.7 s, measured),
    # which the server waits through before it shows a result or starts the next training.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
