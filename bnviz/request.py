"""What the store and the job manager need of a request, whatever it asks for.

A request (a comparison, a learning-rate sweep, and whatever comes next) is
identified by a stable hash, knows how to turn its result into bytes and back,
and names the task that computes it. The store keeps ``encode_result`` bytes in
``<hash><suffix>``; the job manager keys jobs by the hash and hands the request
to a runner; `bnviz.training.run_request` looks the task up among its training
loops. So a new kind of request needs no change in the store or the job manager.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Protocol

# Called with each progress row as soon as it exists (an epoch of one model, a sweep point).
ProgressCallback = Callable[[dict[str, Any]], None]
# Polled by a training while it trains (between steps, `bnviz.training.STOP_POLL_SECONDS`):
# True asks it to stop at its next step (see `TrainingStopped`).
StopCheck = Callable[[], bool]


class TrainingStopped(Exception):
    """A training was asked to stop before it had anything to show (before its first epoch
    ended); one stopped later returns its partial result instead of raising."""

    plain = ("Stopped before the first epoch ended, so there is nothing to show. Press "
             "**Train** to train these settings anew.")


class Request(Protocol):
    """A unit of work that jobs share and the store keeps."""

    task: ClassVar[str]  # the name of the training loop that computes it (bnviz.training)
    suffix: ClassVar[str]  # file extension of its stored result
    # Whether its training stops early when asked (a comparison: yes; a sweep runs to its end).
    stoppable: ClassVar[bool]

    def config_hash(self) -> str:
        """Stable key: equal for equal requests, in every process and every run."""
        ...

    def encode_result(self, result: Any) -> bytes:
        """The result as bytes for the store."""
        ...

    def decode_result(self, data: bytes) -> Any:
        """The result back from `encode_result` bytes; raises on anything wrong with them."""
        ...

    def progress_rows(self) -> int:
        """How many progress rows its training reports in all (for the time left)."""
        ...

    def work(self) -> int:
        """Training images it goes through in all (images x epochs x models x runs): what
        its training time is proportional to, for estimating a queued job's wait."""
        ...

    def answer_from(self, result: Any) -> Any:
        """Its result as read from another request's finished ``result`` that holds it (a
        comparison of fewer epochs or seeds from a longer one: `bnviz.prefix`), or None."""
        ...


class Result(Protocol):
    """What the job manager needs of any request's result."""

    @property
    def partial(self) -> bool:
        """Whether its training was stopped before its end (a partial result is served,
        marked, until the request is trained again)."""
        ...


class Runner:
    """Runs a request to its result, reporting progress rows: in this process
    (`bnviz.jobs.run_here`), in a training process (`bnviz.worker.ProcessRunner`) or on a
    Ray cluster (`bnviz.cluster`). Called as ``runner(request, on_progress, should_stop)``."""

    # Whether ``should_stop`` can end its trainings early (a Ray cluster's run to their end).
    stops: ClassVar[bool] = True
    # Why it cannot train now (a cluster out of reach), in plain words for the page.
    problem: str | None = None

    def __call__(self, request: Request, on_progress: ProgressCallback | None = None,
                 should_stop: StopCheck | None = None) -> Result:
        """Train ``request``; pass each progress row to ``on_progress``; once
        ``should_stop()`` is true, end early with a partial result (`TrainingStopped`
        before the first row)."""
        raise NotImplementedError

    def close(self) -> None:
        """End whatever it started (processes, connections); nothing to end by default."""


class FunctionRunner(Runner):
    """A function ``run(request, on_progress, should_stop)`` as a runner."""

    def __init__(self, run: Callable[..., Result]) -> None:
        self.run = run

    def __call__(self, request: Request, on_progress: ProgressCallback | None = None,
                 should_stop: StopCheck | None = None) -> Result:
        """See `Runner.__call__`."""
        return self.run(request, on_progress, should_stop)


def as_runner(run: Runner | Callable[..., Result]) -> Runner:
    """``run`` as a `Runner`: a plain function is wrapped in `FunctionRunner`."""
    return run if isinstance(run, Runner) else FunctionRunner(run)
