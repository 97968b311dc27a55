"""How long a queued training waits: an estimate from the pace of the trainings seen."""

from __future__ import annotations

import time

from bnviz.job import Job


def seconds_to_start(running: list[Job], ahead: list[Job], last_pace: tuple[float, float] | None,
                     trainers: int, wind_down: float = 0.0) -> float | None:
    """Estimated seconds until a queued job starts: what the ``running`` jobs have left and
    what the jobs ``ahead`` of it in the queue will take, shared among ``trainers``.

    The pace (seconds per unit of `Request.work`, seconds to the first row) is a running
    job's, else ``last_pace`` (of the last job that ended); None until one is known. Each
    job also takes ``wind_down`` seconds after its last row (the last job's: its final
    measurements, its result encoded and stored), which a short training's wait is mostly
    made of."""
    pace = next((p for p in [j.pace() for j in running] + [last_pace] if p is not None), None)
    if pace is None:
        return None
    per_work, start_up = pace
    left = []
    now = time.monotonic()
    for job in running:
        seconds = job.seconds_left()
        if seconds is None:
            left.append(start_up + per_work * job.request.work() + wind_down)
        elif seconds > 0 or not job.row_times:
            left.append(seconds + wind_down)
        else:  # every row in: winding down already, for this long
            left.append(max(wind_down - (now - job.row_times[-1]), 0.0))
    left += [start_up + per_work * job.request.work() + wind_down for job in ahead]
    return sum(left) / max(trainers, 1)
