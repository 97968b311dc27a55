"""Learning-rate tolerance: short runs of both models over a log grid of learning rates.

The claim to test: batch normalisation trains at learning rates that break the
baseline. A run *diverges* when its training loss stops being a finite number
or explodes (above `EXPLODED_LOSS`); it is then stopped at once. A run that
ends with training accuracy at chance level (`STUCK_ACCURACY` or below, ten
classes) did not diverge but learned nothing: its outcome says "stuck at
chance" (with very short runs this can also mean "not started yet").
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bnviz.config import ConfigError, ExperimentConfig, field_meta

EXPLODED_LOSS = 1e4
STUCK_ACCURACY = 0.2
DEFAULT_RATES = (1e-4, 1e-3, 1e-2, 1e-1)
SWEEP_COLUMNS = ("model", "learning_rate", "best_test_accuracy", "diverged", "outcome",
                 "epochs_run")
MAX_RATES = 8
MAX_SWEEP_EPOCHS = 30


@dataclass(frozen=True)
class SweepRequest:
    """Both models of ``config``, trained for ``epochs`` at each learning rate."""

    config: ExperimentConfig
    learning_rates: tuple[float, ...] = DEFAULT_RATES
    epochs: int = 10

    def __post_init__(self) -> None:
        low, high = field_meta("learning_rate")["min"], field_meta("learning_rate")["max"]
        if not 1 <= len(self.learning_rates) <= MAX_RATES:
            raise ConfigError("learning_rates", f"give 1 to {MAX_RATES} learning rates")
        for rate in self.learning_rates:
            if not (isinstance(rate, float | int) and math.isfinite(rate) and low <= rate <= high):
                raise ConfigError("learning_rates", f"{rate!r} is not between {low:g} and {high:g}")
        if not 1 <= self.epochs <= MAX_SWEEP_EPOCHS:
            raise ConfigError("epochs", f"sweep epochs must be between 1 and {MAX_SWEEP_EPOCHS}")

    def config_hash(self) -> str:
        """Stable key of the sweep (the base config, the rates and the epochs)."""
        canonical = json.dumps({"sweep": 1, "config": self.config.config_hash(),
                                "rates": [repr(float(r)) for r in sorted(self.learning_rates)],
                                "epochs": self.epochs}, sort_keys=True)
        return "sweep-" + hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass
class SweepResult:
    """One row per model and learning rate (`SWEEP_COLUMNS`)."""

    request: SweepRequest
    table: pd.DataFrame

    @property
    def config(self) -> SweepRequest:
        """The request (so that stores and job managers can key it like a comparison)."""
        return self.request


def parse_rates(text: str) -> tuple[float, ...]:
    """``"1e-4,1e-3"`` → ``(0.0001, 0.001)``; a bad entry raises `ConfigError`."""
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError("learning_rates", f"cannot read {text[:40]!r} as numbers "
                          "separated by commas") from None


def sweep_learning_rates(request: SweepRequest,
                         on_point: Callable[[dict[str, Any]], None] | None = None) -> SweepResult:
    """Train both models at each learning rate; report best test accuracy or divergence."""
    from bnviz.data import make_split
    from bnviz.models import model_label
    from bnviz.training import TRAINERS, epoch_order

    base = request.config
    split = make_split(base.split, base.train_size, base.scale_pixels)
    rows = []
    for rate in sorted(request.learning_rates):
        config = base.replace(learning_rate=float(rate), epochs=request.epochs, seeds=1)
        for placement in ("none", base.placement):
            with TRAINERS.lend(placement, config) as trainer:
                trainer.start(base.seed, config.learning_rate, split)
                best, outcome, epoch, last_accuracy = float("nan"), "trained", 0, 0.0
                for epoch in range(1, request.epochs + 1):
                    figures = trainer.run_epoch(epoch_order(base.seed, epoch, len(split.y_train)))
                    loss = figures["train_loss"]
                    if not math.isfinite(loss) or loss > EXPLODED_LOSS:
                        outcome = "diverged"
                        break
                    best = figures["test_accuracy"] if math.isnan(best) else max(
                        best, figures["test_accuracy"])
                    last_accuracy = figures["train_accuracy"]
                if outcome == "trained" and last_accuracy <= STUCK_ACCURACY:
                    outcome = "stuck at chance"
            row = {"model": model_label(placement), "learning_rate": float(rate),
                   "best_test_accuracy": best, "diverged": outcome == "diverged",
                   "outcome": outcome, "epochs_run": epoch}
            rows.append(row)
            if on_point is not None:
                on_point(row)
    return SweepResult(request, pd.DataFrame(rows, columns=list(SWEEP_COLUMNS)))
