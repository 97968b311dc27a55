"""Trainings on a Ray cluster, for classrooms that outgrow one machine.

With ``BNVIZ_RAY_ADDRESS`` set (``ray://head:10001``, ``head:6379`` or ``auto``) the job
manager hands each training to `ClusterRunner` instead of a local training process (it
drives the cluster from a process of its own, with `RayRunner`); the CLI uses `RayRunner`
with ``--ray``. Work that splits, splits: each seed of a comparison, and
each (learning rate, model) point of a sweep, is its own Ray task, so a cluster with N
free CPUs trains N of them at once; the results come back to the server, which merges
them exactly as one process would have trained them (`bnviz.comparison.merge_seeds`,
the sweep's table in its order) and writes them to its own store. Progress rows stream
back through a small actor while the tasks run.

Faults: a task whose worker or node dies is retried by Ray (`TASK_RETRIES` times), then
the training fails with the reason in plain words. A cluster that cannot be reached is
said so within `CONNECT_SECONDS` (a TCP check of the address first, then Ray's own
connection, given that long at most); one that goes away mid-training fails the
training. With ``BNVIZ_RAY_FALLBACK=local`` (a ``fallback`` runner of `ClusterRunner`)
such a training runs locally instead. Nothing half-done reaches the store: a result exists only once
every task has returned.

Ray is optional (``requirements-ray.txt``): nothing imports it unless a cluster is named.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from bnviz import tf_settings
from bnviz.comparison import ComparisonRequest, merge_seeds
from bnviz.request import ProgressCallback, Request, Runner, as_runner
from bnviz.sweep import SWEEP_COLUMNS, SweepRequest, SweepResult
from bnviz.worker import ProcessRunner, TrainerUnreachable, TrainingCrashed, serve

log = logging.getLogger(__name__)

ADDRESS_VARIABLE = "BNVIZ_RAY_ADDRESS"
FALLBACK_VARIABLE = "BNVIZ_RAY_FALLBACK"  # "local": train locally when the cluster fails
CONNECT_SECONDS = 30.0
TCP_CHECK_SECONDS = 5.0
TASK_RETRIES = 2  # attempts after the first, when a worker or node dies
POLL_SECONDS = 0.5

WORKER_DIED = ("The Ray worker training this died {attempts} times (a node lost, or out of "
               "memory), so the training failed. Your settings are kept: press Train to try "
               "again.")


ClusterUnreachable = TrainerUnreachable  # the Ray cluster cannot be reached, or went away


def _tcp_endpoint(address: str) -> tuple[str, int] | None:
    """(host, port) of an address to check before Ray tries (None for ``auto``)."""
    if address == "auto":
        return None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if not parts.hostname or not parts.port:
        raise ClusterUnreachable(f"{address!r} is not a Ray address (host:port, "
                                 "ray://host:port or auto)",
                                 plain=unreachable_message(address, "not a Ray address"))
    return parts.hostname, parts.port


def unreachable_message(address: str, reason: str) -> str:
    """What the page and the CLI say when the cluster cannot be reached."""
    return (f"The Ray cluster at {address} cannot be reached ({reason}), so nothing can train "
            "on it now. Ask the server's operator to check the cluster; your settings are "
            "kept.")


TOKEN_VARIABLES = "RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH"


def refused_message(address: str, error: BaseException | str) -> str:
    """What the page and the CLI say when the cluster answers but refuses this process: its
    token authentication wants a token this process lacks, or has another one. The token
    itself is never said."""
    if type(error).__name__ == "AuthenticationError":
        why = ("this app is set to token authentication, RAY_AUTH_MODE=token, but has no "
               "token")
    else:
        why = (f"it answers but would not connect: {error}; a cluster with token "
               "authentication refuses a missing or wrong token so, the likely cause")
    return (f"The Ray cluster at {address} refused this app ({why}), so nothing can train on "
            f"it now. The operator gives the app the cluster's token ({TOKEN_VARIABLES}, "
            "with RAY_AUTH_MODE=token); your settings are kept.")


_connect_lock = threading.Lock()
_connected: list[str] = []  # the address this process is connected to, if any


def connect(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """Connect this process to the cluster at ``address`` (once; later calls return at once
    while the connection holds). Raises `ClusterUnreachable` within ``timeout`` seconds."""
    import ray

    with _connect_lock:
        if ray.is_initialized() and _connected == [address]:
            return
        disconnect_locked()
        endpoint = _tcp_endpoint(address)
        if endpoint is not None:
            try:
                with socket.create_connection(endpoint, timeout=min(TCP_CHECK_SECONDS, timeout)):
                    pass
            except OSError as error:
                reason = f"nothing answers at {endpoint[0]}:{endpoint[1]}: {error}"
                raise ClusterUnreachable(reason, plain=unreachable_message(address, reason)) \
                    from None
        outcome: dict[str, BaseException | None] = {}

        def init() -> None:
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False,
                         runtime_env=_runtime_env(), ignore_reinit_error=True)
                outcome["error"] = None
            except BaseException as error:  # reported to the caller, in its thread
                outcome["error"] = error

        thread = threading.Thread(target=init, daemon=True, name="bnviz-ray-connect")
        thread.start()
        thread.join(timeout)
        if "error" not in outcome:
            reason = f"no answer from Ray within {timeout:.0f} s"
            raise ClusterUnreachable(reason, plain=unreachable_message(address, reason))
        error = outcome["error"]
        if error is not None:
            reason = f"{type(error).__name__}: {error}"
            # Something answered at the address (checked above) and Ray still would not
            # connect: with token authentication on, a missing or wrong token ends so.
            refused = type(error).__name__ == "AuthenticationError" or (
                endpoint is not None and isinstance(error, ConnectionError))
            raise ClusterUnreachable(reason, plain=refused_message(address, error) if refused
                                     else unreachable_message(address, reason))
        _connected[:] = [address]


def disconnect() -> None:
    """Leave the cluster this process is connected to (the next `connect` connects anew)."""
    with _connect_lock:
        disconnect_locked()


def disconnect_locked() -> None:
    # Called with _connect_lock held.
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _connected.clear()


def _runtime_env() -> dict[str, Any]:
    # The cluster's workers get this very bnviz (code and bundled sample), whatever is
    # installed on their nodes; TensorFlow and the other requirements must be there.
    return {"py_modules": [str(Path(__file__).resolve().parent)],
            "env_vars": {tf_settings.LOG_LEVEL: "2"}}


_remote: dict[str, Any] = {}


def _remote_functions() -> dict[str, Any]:
    """The Ray tasks and the progress actor, defined once Ray is imported."""
    if _remote:
        return _remote
    import ray

    # A row is handed to the sink and waited for (a millisecond or two): calls of two
    # callers to one actor are not ordered, so a row sent without waiting could reach the
    # sink after the runner, seeing the task done, has read it for the last time.
    @ray.remote(max_retries=TASK_RETRIES, num_cpus=1)
    def train_seed(config: Any, sink: Any, part: int) -> Any:
        tf_settings.apply()  # a Ray worker may have run other code before
        from bnviz.training import train_comparison

        # Only the first seed's checkpoints are kept (`bnviz.comparison.merge_seeds`).
        return train_comparison(config, on_epoch=lambda row: ray.get(sink.add.remote(part, row)),
                                checkpoints=part == 0)

    @ray.remote(max_retries=TASK_RETRIES, num_cpus=1)
    def train_point(request: Any, rate: float, placement: str, sink: Any, part: int) -> Any:
        tf_settings.apply()
        from bnviz.training import sweep_point

        row = sweep_point(request, rate, placement)
        ray.get(sink.add.remote(part, row))
        return row

    @ray.remote(num_cpus=0)
    class Sink:
        """Progress rows of one training's tasks, in the order they came."""

        def __init__(self) -> None:
            self.rows: list[tuple[int, dict]] = []

        def add(self, part: int, row: dict) -> None:
            self.rows.append((part, row))

        def since(self, start: int) -> list[tuple[int, dict]]:
            return self.rows[start:]

    _remote.update(train_seed=train_seed, train_point=train_point, Sink=Sink)
    return _remote


def _row_key(part: int, row: dict) -> tuple:
    # A retried task reports its epochs again from the first; the values are the same (the
    # seed fixes them), so a row already passed on is not passed on twice.
    return (part, row.get("model"), row.get("seed"), row.get("epoch"), row.get("learning_rate"))


class RayRunner(Runner):
    """A runner that trains each request on a Ray cluster, driving it from this process
    (the CLI's way, and a `ClusterRunner` driver process's)."""

    stops = False  # the tasks run to their end: a stop request is not passed on

    def __init__(self, address: str) -> None:
        self.address = address

    def __call__(self, request: Request, on_progress: ProgressCallback | None = None,
                 should_stop: Any = None) -> Any:
        """Train ``request`` on the cluster (its parts as parallel tasks) and merge the parts
        (``should_stop`` is not read: see `stops`)."""
        connect(self.address)
        return self._train(request, on_progress)

    def _train(self, request: Request, on_progress: ProgressCallback | None) -> Any:
        import ray

        tasks = _remote_functions()
        sink = tasks["Sink"].remote()
        if isinstance(request, ComparisonRequest):
            config = request.config
            refs = [tasks["train_seed"].remote(config.replace(seed=seed, seeds=1), sink, part)
                    for part, seed in enumerate(config.seed_list)]
        elif isinstance(request, SweepRequest):
            refs = [tasks["train_point"].remote(request, rate, placement, sink, part)
                    for part, (rate, placement) in enumerate(request.points())]
        else:
            raise TrainingCrashed(f"no Ray training for the task {request.task!r}")
        try:
            self._follow(refs, sink, on_progress)
            parts = ray.get(refs)
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.OutOfMemoryError) as error:
            raise TrainingCrashed(f"a Ray worker died {TASK_RETRIES + 1} times: {error}",
                                  plain=WORKER_DIED.format(attempts=TASK_RETRIES + 1)) from None
        except ray.exceptions.RayTaskError as error:  # the training itself raised
            cause = error.cause if error.cause is not None else error
            raise TrainingCrashed(f"{type(cause).__name__}: {cause}") from None
        except (ray.exceptions.RaySystemError, ray.exceptions.ActorUnavailableError,
                ray.exceptions.ActorDiedError, ConnectionError) as error:
            # The progress actor lost, or the cluster itself: nothing more will come back.
            reason = f"the cluster went away during the training: {error}"
            disconnect()  # the next training connects anew
            raise ClusterUnreachable(reason, plain=unreachable_message(self.address, reason)) \
                from None
        finally:
            with contextlib.suppress(Exception):  # the cluster may be gone with it
                ray.kill(sink)
        if isinstance(request, ComparisonRequest):
            return merge_seeds(request.config, parts)
        return SweepResult(request, pd.DataFrame(parts, columns=list(SWEEP_COLUMNS)))

    def _follow(self, refs: list[Any], sink: Any, on_progress: ProgressCallback | None) -> None:
        """Pass progress rows on as they come, until every task has ended."""
        import ray

        pending, seen, passed = list(refs), 0, set()
        while True:
            _, pending = ray.wait(pending, num_returns=len(pending), timeout=POLL_SECONDS)
            rows = ray.get(sink.since.remote(seen))
            seen += len(rows)
            for part, row in rows:
                key = _row_key(part, row)
                if key not in passed:
                    passed.add(key)
                    if on_progress is not None:
                        on_progress(row)
            if not pending:
                return


class ClusterRunner(Runner):
    """The server's runner for a cluster: each training drives Ray from a process of its own.

    Why a process: Ray ends any process connected to a cluster whose head has been gone
    for a minute ("Failed to connect to GCS within 60 seconds ... The program will
    terminate"), found by stopping a test cluster mid-training. The server must outlive
    its cluster, so it never imports Ray: a `ProcessRunner` starts ``python -m
    bnviz.cluster ADDRESS`` processes (one per training, and a warm spare already
    connected), which run `RayRunner` and send progress back as training processes do.
    """

    def __init__(self, address: str, fallback: Runner | Callable[..., Any] | None = None) -> None:
        self.address = address
        self.fallback = as_runner(fallback) if fallback is not None else None
        # Why the cluster cannot be used, for the page and the log; None while it can.
        self.problem: str | None = None
        self.processes = ProcessRunner(child=("bnviz.cluster", address))
        threading.Thread(target=self._check, daemon=True, name="bnviz-ray-check").start()

    def _check(self) -> None:
        """Say at start, in the log and on the page, if nothing answers at the address."""
        try:
            endpoint = _tcp_endpoint(self.address)
            if endpoint is not None:
                with socket.create_connection(endpoint, timeout=TCP_CHECK_SECONDS):
                    pass
            log.info("Ray cluster at %s answers", self.address)
        except ClusterUnreachable as error:
            self.problem = error.plain
        except OSError as error:
            self.problem = unreachable_message(self.address, f"nothing answers: {error}")
        if self.problem:
            log.error("Ray cluster at %s cannot be reached: %s", self.address, self.problem)

    stops = False  # see `RayRunner.stops`

    def __call__(self, request: Request, on_progress: ProgressCallback | None = None,
                 should_stop: Any = None) -> Any:
        """Train ``request`` on the cluster, from a driver process of its own (``should_stop``
        is not read: see `RayRunner.stops`)."""
        try:
            result = self.processes(request, on_progress)
            self.problem = None
            return result
        except ClusterUnreachable as error:
            self.problem = error.plain
            log.error("Ray cluster at %s: %s", self.address, error)
            if self.fallback is None:
                raise
            log.warning("training locally instead (%s=local)", FALLBACK_VARIABLE)
            return self.fallback(request, on_progress)

    def close(self) -> None:
        """End the driver processes (their tasks are cancelled as they go) and the fallback's."""
        self.processes.close()
        if self.fallback is not None:
            self.fallback.close()


def runner_from_environment(local: Callable[[], Runner]) -> Runner | None:
    """A `ClusterRunner` when ``BNVIZ_RAY_ADDRESS`` is set (falling back to the runner
    ``local()`` makes only with ``BNVIZ_RAY_FALLBACK=local``), else None: train locally."""
    address = os.environ.get(ADDRESS_VARIABLE, "").strip()
    if not address:
        return None
    fallback = local() if os.environ.get(FALLBACK_VARIABLE, "").strip() == "local" else None
    return ClusterRunner(address, fallback=fallback)


def _prepare_driver(address: str) -> Runner:
    """In a driver process: connect while no job waits (a failure is reported with the job)."""
    with contextlib.suppress(ClusterUnreachable):
        connect(address)
    return RayRunner(address)


if __name__ == "__main__":  # python -m bnviz.cluster ADDRESS FD PARENT_PID (see ClusterRunner)
    import sys

    cluster_address = sys.argv[1]
    serve(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None,
          lambda _request_waiting: _prepare_driver(cluster_address))
