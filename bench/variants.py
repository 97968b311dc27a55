"""What part of batch norm matters: every normalisation against the baseline, over seeds.

    .venv/bin/python bench/variants.py                       # the blog's settings, 3 seeds
    .venv/bin/python bench/variants.py --epochs 20 --seeds 2 --normalizations batch,group

For each normalisation (`bnviz.config.NORMALIZATIONS`) and for raw and scaled pixels,
trains the comparison at the blog's settings (100 epochs, 1000 images, batch 64, Adam
0.001) with ``--seeds`` seeds, and prints per model: epochs to 90 % train accuracy and
best test accuracy (mean ± sd, and the seeds' range), and whether each differs clearly
from the baseline (ranges that do not overlap; `bnviz.summary.clearly_different`). The
baseline is the same network in every row of a pixel setting; it is trained once per
setting and shown once. The loss-landscape probes are off: they change nothing in the
training and cost a quarter of its time.

The results are written to ``--out`` as ``variants.csv`` (one row per model, statistic and
pixel setting) as well.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.speed import cpu_description
from bnviz.config import NORMALIZATIONS, ExperimentConfig
from bnviz.models import BASELINE
from bnviz.summary import clearly_different, format_spread, seed_summary

STATISTICS = {"epochs_to_90_train": "epochs to 90 % train", "best_test_accuracy": "best test"}


def main() -> int:
    """Train and print the table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--normalizations", default=",".join(NORMALIZATIONS))
    parser.add_argument("--out", default="artifacts/variants")
    args = parser.parse_args()
    from bnviz.training import train_comparison

    print(f"CPU: {cpu_description()}")
    rows = []
    for scaled in (False, True):
        pixels = "scaled" if scaled else "raw"
        print(f"\n== {pixels} pixels: {args.epochs} epochs, {args.seeds} seeds ==", flush=True)
        for normalization in args.normalizations.split(","):
            config = ExperimentConfig(epochs=args.epochs, seeds=args.seeds, scale_pixels=scaled,
                                      normalization=normalization, landscape_every=0)
            begin = time.perf_counter()
            spread = seed_summary(train_comparison(config).summary())
            seconds = time.perf_counter() - begin
            baseline = spread[spread.model == BASELINE]
            for model, of_model in spread.groupby("model", sort=False):
                if model == BASELINE and any(r["model"] == BASELINE and r["pixels"] == pixels
                                             for r in rows):
                    continue  # the same network, trained the same way: shown once
                shown = []
                for statistic, words in STATISTICS.items():
                    ours = of_model[of_model.statistic == statistic].iloc[0]
                    theirs = baseline[baseline.statistic == statistic].iloc[0]
                    if model == BASELINE:
                        verdict = ""
                    elif not (ours["reached"] and theirs["reached"]):
                        verdict = " (not comparable: a model never reached it)"
                    else:
                        verdict = (" (clear)" if clearly_different(ours, theirs)
                                   else " (overlaps)")
                    rows.append({"pixels": pixels, "model": model, "statistic": statistic,
                                 "mean": ours["mean"], "sd": ours["sd"], "low": ours["low"],
                                 "high": ours["high"], "reached": ours["reached"],
                                 "seeds": ours["seeds"], "clear": verdict == " (clear)"})
                    shown.append(f"{words} {format_spread(ours)} "
                                 f"[{ours['low']:.3g}–{ours['high']:.3g}]{verdict}")
                print(f"{model:28s} " + "; ".join(shown), flush=True)
            print(f"  ({seconds:.0f} s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / "variants.csv", index=False)
    print(f"\nwrote {out / 'variants.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
