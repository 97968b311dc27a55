"""What each chart shows, in words written from its data: the chart's accessible label (its
Vega-Lite ``description``, which Vega gives the chart as its ``aria-label``) and the caption
the page prints under it, for a student who cannot see the marks.

Pure functions of the frames the charts (`bnviz.charts`) draw; no Streamlit. Each says what
is plotted and the one or two facts a sighted reader takes from it first: where the lines
end, who got somewhere first, the largest and smallest values.
"""

from __future__ import annotations

import math

import pandas as pd

from bnviz.charts import (
    LANDSCAPE_PANELS,
    RELU_INPUT_MODES,
    curve_bands,
    landscape_frame,
    relu_input_frame,
)
from bnviz.summary import HEADLINE_STATISTICS, epochs_to_reach

TRAIN_THRESHOLD = 0.90  # the headline's "90 % training accuracy"


def _number(value: float, places: int = 3) -> str:
    """A value as the charts' tooltips write it; "not a number" for a diverged run's."""
    if value is None or not math.isfinite(value):
        return "not a number (the run diverged)"
    return f"{value:.{places}f}"


def _general(value: float) -> str:
    """A value of any size in three significant digits; a blown-up probe's in words."""
    return f"{value:.3g}" if math.isfinite(value) else _number(value)


def _models(frame: pd.DataFrame) -> list[str]:
    return list(frame["model"].unique())


def _join(parts: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def curves(history: pd.DataFrame, metric: str) -> str:
    """The learning-curve panel of ``metric`` (accuracy or loss): when each model's training
    accuracy first reached 90 % (accuracy) or its lowest test loss (loss), and where train and
    test end, per model; means over the seeds when there are several."""
    bands = curve_bands(history)
    bands = bands[bands["metric"] == metric]
    seeds = int(bands["seeds"].max())
    last = int(bands["epoch"].max())
    over = f", mean of {seeds} seeds" if seeds > 1 else ""
    models = _models(bands)

    def series(model: str, subset: str) -> pd.DataFrame:
        return bands[(bands["model"] == model) & (bands["subset"] == subset)].sort_values("epoch")

    said = [f"{metric.capitalize()} per epoch, 1 to {last}, train (solid) and test (dashed) "
            f"for {_join(models)}{over}."]
    if metric == "accuracy":
        reached = []
        for model in models:
            train = series(model, "train")
            epoch = epochs_to_reach(train["mean"], train["epoch"], TRAIN_THRESHOLD)
            reached.append(f"{model} at epoch {epoch:.0f}" if math.isfinite(epoch)
                           else f"{model} never")
        said.append(f"{TRAIN_THRESHOLD * 100:.0f} % training accuracy: {_join(reached)}.")
    else:
        lowest = []
        for model in models:
            test = series(model, "test").dropna(subset=["mean"])
            if len(test):
                row = test.loc[test["mean"].idxmin()]
                lowest.append(f"{model} {_number(row['mean'])} at epoch {int(row['epoch'])}")
        if lowest:
            said.append(f"Lowest test loss: {_join(lowest)}.")
    ends = [f"{model} {_number(series(model, 'train')['mean'].iloc[-1])} train, "
            f"{_number(series(model, 'test')['mean'].iloc[-1])} test" for model in models]
    said.append(f"After epoch {last}: {'; '.join(ends)}.")
    return " ".join(said)


def paired_difference(frame: pd.DataFrame, statistic: str) -> str:
    """One statistic of `bnviz.summary.paired_difference_frame`: each seed's difference and
    the mean with its interval, and whether the interval leaves zero out."""
    data = frame[frame["statistic"] == statistic]
    words = HEADLINE_STATISTICS.get(statistic, statistic)
    places = 3 if "accuracy" in statistic else 1
    first = data.iloc[0]
    each = ", ".join(f"{value:+.{places}f}" for value in data["difference"])
    said = f"Difference in {words} (normalised model minus baseline), per seed: {each}."
    pairs = int(first["pairs"])
    if pairs < 2 or not math.isfinite(first["low"]):
        return (f"{said} Mean {first['mean']:+.{places}f} from {pairs} "
                f"seed{'s' if pairs != 1 else ''}: too few for an interval.")
    clear = "leaves zero out: a clear difference" if bool(first["clear"]) else \
        "includes zero: no clear difference"
    return (f"{said} Mean {first['mean']:+.{places}f}, interval {first['low']:+.{places}f} "
            f"to {first['high']:+.{places}f} over {pairs} seeds; it {clear}.")


def parameters(layer_tables: dict[str, pd.DataFrame]) -> str:
    """The parameters chart: each model's total, trainable and non-trainable counts."""
    parts = [f"{model} {int(table['params'].sum()):,} ({int(table['trainable'].sum()):,} "
             f"trainable, {int(table['non_trainable'].sum()):,} non-trainable)"
             for model, table in layer_tables.items()]
    return f"Parameters per model, as stacked bars: {'; '.join(parts)}."


def confusion(frame: pd.DataFrame, model: str) -> str:
    """One model's confusion matrix: its accuracy, and the class pair it confuses most."""
    data = frame[frame["model"] == model]
    total = int(data["count"].sum())
    right = int(data[data["true"] == data["predicted"]]["count"].sum())
    wrong = data[data["true"] != data["predicted"]]
    said = (f"Confusion matrix of {model}: rows the true class, columns the predicted one, "
            f"shaded by the share of the row. {right:,} of {total:,} test images "
            f"({right / total:.0%}) are on the diagonal.")
    if len(wrong) and int(wrong["count"].max()) > 0:
        worst = wrong.loc[wrong["count"].idxmax()]
        said += (f" Most often confused: {worst['true']} taken for {worst['predicted']}, "
                 f"{int(worst['count'])} times.")
    best = data[data["true"] == data["predicted"]].sort_values("share")
    if len(best):
        said += (f" Weakest class: {best.iloc[0]['true']} ({best.iloc[0]['share']:.0%} right); "
                 f"strongest: {best.iloc[-1]['true']} ({best.iloc[-1]['share']:.0%}).")
    return said


def relu_inputs(relu_inputs: pd.DataFrame, mode: str, model: str, nonlinearity: str,
                features: str = "channels") -> str:
    """One model's Inside BN chart: per probed channel (or unit: ``features`` names them),
    the median and 15th–85th percentile band of what the last nonlinearity receives, at the
    first and the last epoch probed."""
    data = relu_input_frame(relu_inputs, mode, model)
    if data.empty:
        return f"Inside {model}: nothing was probed in {mode} mode."
    first, last = int(data["epoch"].min()), int(data["epoch"].max())

    def spread(epoch: int) -> str:
        at = data[data["epoch"] == epoch]
        return (f"medians {_number(at['p50'].min(), 2)} to {_number(at['p50'].max(), 2)}, "
                f"bands from {_number(at['p15'].min(), 2)} to {_number(at['p85'].max(), 2)}")

    channels = data["channel"].nunique()
    seed = " (first seed)" if relu_inputs["seed"].nunique() > 1 else ""
    return (f"Input to the last {nonlinearity} of {model}{seed}, "
            f"{RELU_INPUT_MODES[mode].split(':')[0]}, {channels} {features}, epochs {first} to "
            f"{last}: median and 15th–85th percentile band per {features[:-1]}. Epoch {first}: "
            f"{spread(first)}; epoch {last}: {spread(last)}.")


BN_QUANTITIES = {"gamma": "γ", "beta": "β", "moving_mean": "moving mean",
                 "moving_variance": "moving variance"}


def bn_layers(layers: pd.DataFrame) -> str:
    """The BN-layer chart: per quantity, its range over each layer's features."""
    parts = []
    for quantity, name in BN_QUANTITIES.items():
        ranges = [f"{layer} {_number(values.min(), 2)} to {_number(values.max(), 2)}"
                  for layer, values in layers.groupby("layer", sort=False)[quantity]]
        parts.append(f"{name}: {', '.join(ranges)}")
    features = layers.groupby("layer", sort=False).size()
    counts = ", ".join(f"{layer} {count}" for layer, count in features.items())
    return (f"One tick per feature for each normalising layer ({counts} features), four "
            f"panels. {'; '.join(parts)}.")


def bn_modes(modes: pd.DataFrame) -> str:
    """The two-modes chart: test accuracy per evaluation batch size with batch statistics,
    against the moving averages' line."""
    training = modes[modes["mode"].str.startswith("training")].sort_values("batch_size")
    inference = modes[modes["mode"].str.startswith("inference")]
    bars = ", ".join(f"batch {int(row.batch_size)} {row.accuracy:.1%}"
                     for row in training.itertuples())
    said = f"Test accuracy with batch statistics, per evaluation batch size: {bars}."
    if len(inference):
        said += f" With the moving averages (inference mode): {inference['accuracy'].iloc[0]:.1%}."
    return said


def landscape(landscape: pd.DataFrame, panel: int) -> str:
    """One panel of the loss-landscape chart: per model, its value at the first and last
    probed step, and the ratio of the models' medians."""
    low, high, title, _ = LANDSCAPE_PANELS[panel]
    data = landscape_frame(landscape)
    steps = sorted(data["step"].unique())
    if not steps:
        return f"{title}: no probe."
    what = "the lowest value over the step sizes" if high is not None else "its value"
    parts = []
    medians = {}
    for model, runs in data.groupby("model", sort=False):
        runs = runs.sort_values("step")
        medians[model] = float(runs[low].median())
        parts.append(f"{model} from {_general(runs[low].iloc[0])} at step "
                     f"{int(runs['step'].iloc[0])} to {_general(runs[low].iloc[-1])} at step "
                     f"{int(runs['step'].iloc[-1])}")
    said = (f"{title}, log scale, {len(steps)} probes from step {int(steps[0])} to "
            f"{int(steps[-1])}, {what}: {'; '.join(parts)}.")
    if len(medians) == 2:
        (a, va), (b, vb) = medians.items()
        if va > 0 and vb > 0 and math.isfinite(va / vb):
            said += f" Median over the probes: {a} {va:.3g}, {b} {vb:.3g}."
    return said


def sweep(table: pd.DataFrame) -> str:
    """The learning-rate sweep: each model's best rate and accuracy, and the rates it broke at."""
    parts = []
    for model, runs in table.groupby("model", sort=False):
        # A broken run's best is from before it broke: the best rate is a trained one's.
        trained = runs[runs["outcome"] == "trained"].dropna(subset=["best_test_accuracy"])
        if len(trained):
            best = trained.loc[trained["best_test_accuracy"].idxmax()]
            part = (f"{model} best {best['best_test_accuracy']:.3f} at "
                    f"{best['learning_rate']:g}")
        else:
            part = f"{model} trained at no rate"
        broke = runs[runs["outcome"] != "trained"]
        if len(broke):
            part += ", broke at " + ", ".join(f"{rate:g}" for rate in broke["learning_rate"])
        parts.append(part)
    rates = sorted(table["learning_rate"].unique())
    return (f"Best test accuracy against learning rate (log scale, {rates[0]:g} to "
            f"{rates[-1]:g}), one line per model: {'; '.join(parts)}.")
