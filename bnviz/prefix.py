"""Answers a stored run already holds: fewer epochs, fewer seeds.

A comparison of E epochs holds every shorter one with the same other settings, epoch for
epoch: an epoch's batch order depends on the seed and the epoch alone, and nothing in a
training looks ahead. A comparison of seeds s … s+n−1 holds the one of seeds s … s+m−1 for
m ≤ n: each seed trains from a fresh start. So a request for k epochs and m seeds is answered
by such a run, cut (`cut`): its curves, tables and probes up to epoch k and for the first m
seeds, and each model's answers on the test set as the run kept them after epoch k
(`bnviz.snapshots`): exactly what a k-epoch run ends with. BN's values and two modes were
kept at checkpoints only (1, 2, 5, 10, 20, 50, … and the last epoch): exact when k is one of
them, else those of the last checkpoint before k, which the page says. The seeds must start
at the same seed: what the tabs show comes from the first seed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from bnviz.config import ExperimentConfig

# A result here is a `bnviz.comparison.ComparisonResult`, which imports this module: read
# through its fields, and copied with `dataclasses.replace`.


def holds(source: ExperimentConfig, wanted: ExperimentConfig) -> bool:
    """Whether a run of ``source`` holds the run of ``wanted``: the same settings but for at
    least as many epochs and seeds (from the same first seed)."""
    return (source != wanted and source.epochs >= wanted.epochs
            and source.seeds >= wanted.seeds
            and source.replace(epochs=wanted.epochs, seeds=wanted.seeds) == wanted)


def can_cut(result: Any, wanted: ExperimentConfig) -> bool:
    """Whether ``result`` can be cut to ``wanted``: it holds it, is whole, and kept its answers
    after ``wanted``'s last epoch."""
    return (not result.partial and holds(result.config, wanted)
            and wanted.epochs in result.predictions.epochs)


def cut(result: Any, wanted: ExperimentConfig) -> Any:
    """``result`` as a run of ``wanted`` would have ended (`can_cut` must hold): marked with
    the run it was cut from (`ComparisonResult.cut_from`)."""
    if not can_cut(result, wanted):
        raise ValueError(f"{result.config.describe()} does not hold {wanted.describe()}")
    seeds = set(wanted.seed_list)
    last = wanted.epochs

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        kept = frame["epoch"] <= last
        if "seed" in frame:
            kept &= frame["seed"].isin(seeds)
        return frame[kept].reset_index(drop=True)

    return dataclasses.replace(
        result,
        config=wanted,
        history=rows(result.history),
        predictions=result.predictions.until(last),
        relu_inputs=rows(result.relu_inputs),
        bn_layers=rows(result.bn_layers),
        bn_modes=rows(result.bn_modes),
        landscape=rows(result.landscape),
        cut_from=result.config,
    )
