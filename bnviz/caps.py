"""How many trainings a server takes on: a cap on the queue for the whole server, and one per
client address, so that a flood (a class all trying their own settings, one browser opening
many tabs) gets a plain answer instead of a wait nobody can see the end of.

The per-session rule (one training queued or running per visitor, `bnviz.scheduler`) still
holds underneath; these caps bound what many sessions can ask together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from bnviz.summary import format_duration

# The queue the last of which still starts within about 30 minutes here: the blog's run
# trains in about 70 s on this 2-core box (docs/deploy.md), so about 20 of them.
DEFAULT_MAX_QUEUED = 20
# Trainings queued or running for one client address. A school's students often reach the
# internet through one address: an operator who hosts a class raises it (docs/deploy.md).
DEFAULT_PER_ADDRESS = 4
QUEUED_VARIABLE, PER_ADDRESS_VARIABLE = "BNVIZ_MAX_QUEUED", "BNVIZ_MAX_PER_ADDRESS"


class QueueFull(Exception):
    """A training not taken on: a cap is reached. ``plain`` says why and what to do."""

    def __init__(self, plain: str) -> None:
        super().__init__(plain)
        self.plain = plain


@dataclass(frozen=True)
class QueueCaps:
    """At most ``max_queued`` trainings waiting on the server, and at most ``per_address``
    queued or running that one client address started (0: no such cap)."""

    max_queued: int = DEFAULT_MAX_QUEUED
    per_address: int = DEFAULT_PER_ADDRESS

    @classmethod
    def from_environment(cls) -> QueueCaps:
        """`BNVIZ_MAX_QUEUED` (a whole number of at least 1) and `BNVIZ_MAX_PER_ADDRESS` (at
        least 1, or 0 for no per-address cap: behind a proxy on another host every visitor
        has the proxy's address); the defaults where one is unset or not such a number."""
        def read(name: str, default: int, least: int) -> int:
            try:
                value = int(os.environ.get(name, default))
            except ValueError:
                return default
            return value if value >= least else default

        return cls(read(QUEUED_VARIABLE, DEFAULT_MAX_QUEUED, 1),
                   read(PER_ADDRESS_VARIABLE, DEFAULT_PER_ADDRESS, 0))

    def refusal(self, queued: int, of_address: int, address: str | None,
                wait_seconds: float | None) -> str | None:
        """Why a new training is not taken on, in plain words with what to do (None: it is):
        ``queued`` trainings wait on the server, ``of_address`` are queued or running for the
        client ``address`` (None: unknown, no per-address cap), and the last in the queue
        starts in about ``wait_seconds``."""
        back = (f"come back in {format_duration(wait_seconds)}" if wait_seconds is not None
                else "come back in a few minutes")
        if queued >= self.max_queued:
            return (f"The server has {_trainings(queued)} waiting, as many as it takes on. "
                    f"Try a precomputed preset (they open at once), or {back}.")
        if address is not None and self.per_address and of_address >= self.per_address:
            return (f"{_trainings(of_address).capitalize()} already waiting or running for "
                    "your network address, as many as one address may have. Wait for one of "
                    "them to finish, or open a precomputed preset (they open at once).")
        return None


def _trainings(count: int) -> str:
    return f"{count} training{'' if count == 1 else 's'}"
