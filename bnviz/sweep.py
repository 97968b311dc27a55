"""Learning-rate tolerance: what a sweep asks for, and its result.

The claim to test: batch normalisation trains at learning rates that break the
baseline. Both models train for a few epochs at each rate of a log grid
(`bnviz.training.sweep_learning_rates` runs it). What each run came to (trained,
still learning, stuck at chance, diverged) follows the rules of
`bnviz.summary.outcome` and `bnviz.summary.diverged`, pure words on numbers that
the charts share.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from bnviz.comparison import model_placements
from bnviz.config import IMAGE_COST, ConfigError, ExperimentConfig, field_meta

# The log grid of learning rates offered to a person (the sweep's choices and the sidebar's).
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0)
DEFAULT_RATES = (1e-4, 1e-3, 1e-2, 1e-1)
DEFAULT_SWEEP_EPOCHS = 10
SWEEP_COLUMNS = ("model", "learning_rate", "best_test_accuracy", "diverged", "outcome",
                 "epochs_run")
MAX_RATES = 8
MAX_SWEEP_EPOCHS = 30


@dataclass(frozen=True)
class SweepRequest:
    """Both models of ``config``, trained for ``epochs`` at each learning rate
    (a `bnviz.request.Request`)."""

    config: ExperimentConfig
    learning_rates: tuple[float, ...] = DEFAULT_RATES
    epochs: int = DEFAULT_SWEEP_EPOCHS
    task: ClassVar[str] = "learning-rate sweep"
    suffix: ClassVar[str] = ".csv"
    stoppable: ClassVar[bool] = False  # its points are short: it runs to its end

    def __post_init__(self) -> None:
        low, high = field_meta("learning_rate")["min"], field_meta("learning_rate")["max"]
        if not 1 <= len(self.learning_rates) <= MAX_RATES:
            raise ConfigError("learning_rates", f"give 1 to {MAX_RATES} learning rates")
        for rate in self.learning_rates:
            if not (isinstance(rate, float | int) and math.isfinite(rate) and low <= rate <= high):
                raise ConfigError("learning_rates", f"{rate!r} is not between {low:g} and {high:g}")
        if not 1 <= self.epochs <= MAX_SWEEP_EPOCHS:
            raise ConfigError("epochs", f"sweep epochs must be between 1 and {MAX_SWEEP_EPOCHS}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Unpickling builds the request anew, so it is validated again in a training process.
        return (SweepRequest, (self.config, self.learning_rates, self.epochs))

    def points(self) -> list[tuple[float, str]]:
        """(learning rate, placement) of each run, in the order of the sweep's table:
        rates ascending, the baseline before the BN model."""
        return [(float(rate), placement) for rate in sorted(self.learning_rates)
                for placement in model_placements(self.config)]

    def answer_from(self, result: Any) -> None:
        """None: a sweep is answered by its own training alone (a shorter sweep would need
        each point's curve, which a sweep does not keep)."""
        return None

    def progress_rows(self) -> int:
        """One row per model and learning rate (a whole run of `epochs`)."""
        return len(self.points())

    def work(self) -> float:
        """Images seen by both models over every epoch of every rate's run, in images of the
        blog's CNN (`bnviz.config.IMAGE_COST`)."""
        return (self.progress_rows() * self.epochs * self.config.train_size
                * IMAGE_COST[self.config.architecture])

    def config_hash(self) -> str:
        """Stable key of the sweep (the base config, the rates and the epochs). Sweeps train
        one seed and take no landscape probes, so those settings are left out."""
        base = self.config.replace(landscape_every=0, seeds=1)
        canonical = json.dumps({"sweep": 1, "config": base.config_hash(),
                                "rates": [repr(float(r)) for r in sorted(self.learning_rates)],
                                "epochs": self.epochs}, sort_keys=True)
        return "sweep-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def encode_result(self, result: SweepResult) -> bytes:
        """The table as CSV."""
        return result.table.to_csv(index=False).encode()

    def decode_result(self, data: bytes) -> SweepResult:
        """The table back from CSV; raises if its columns are not the sweep's."""
        table = pd.read_csv(io.BytesIO(data))
        if tuple(table.columns) != SWEEP_COLUMNS:
            raise ValueError(f"columns {list(table.columns)}")
        return SweepResult(self, table)


@dataclass(eq=False)  # one result is one object (the page keeps its views by identity)
class SweepResult:
    """One row per model and learning rate (`SWEEP_COLUMNS`)."""

    request: SweepRequest
    table: pd.DataFrame

    @property
    def partial(self) -> bool:
        """Never: a sweep runs to its end (`SweepRequest.stoppable`)."""
        return False


def parse_rates(text: str) -> tuple[float, ...]:
    """``"1e-4,1e-3"`` → ``(0.0001, 0.001)``; a bad entry raises `ConfigError`."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError("learning_rates", f"cannot read {text[:40]!r} as numbers "
                          "separated by commas") from None
