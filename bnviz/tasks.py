"""What a job can ask for: a comparison (`ExperimentConfig`) or a sweep (`SweepRequest`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bnviz.config import ExperimentConfig
from bnviz.results import ComparisonResult
from bnviz.sweep import SweepRequest, SweepResult

Request = ExperimentConfig | SweepRequest
Result = ComparisonResult | SweepResult


def run_request(request: Request, on_epoch: Callable[[dict[str, Any]], None] | None = None
                ) -> Result:
    """Train what ``request`` asks for in this process, reporting progress rows."""
    if isinstance(request, SweepRequest):
        from bnviz.sweep import sweep_learning_rates

        return sweep_learning_rates(request, on_point=on_epoch)
    from bnviz.training import train_comparison

    return train_comparison(request, on_epoch=on_epoch)
