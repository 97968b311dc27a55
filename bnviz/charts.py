"""Altair chart builders: pure functions of DataFrames, no Streamlit.

Every chart has tooltips on its marks; the learning curves have a legend you
can click to highlight one series (shift-click for several).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from bnviz.data import CLASS_NAMES

METRICS = ("accuracy", "loss")
SERIES_COLOURS = (("#1f4e8c", "#7fa7d9"), ("#d9480f", "#f4a261"))  # (train, test) per model
SUBSETS = ("train", "test")


def curves_frame(history: pd.DataFrame) -> pd.DataFrame:
    """History in long form: one row per model, epoch, metric and subset."""
    long = history.melt(
        id_vars=["model", "seed", "epoch"],
        value_vars=[f"{s}_{m}" for s in SUBSETS for m in METRICS],
        var_name="column", value_name="value",
    )
    long[["subset", "metric"]] = long["column"].str.split("_", n=1, expand=True)
    long["series"] = long["model"] + " · " + long["subset"]
    return long.drop(columns="column")


def learning_curves(history: pd.DataFrame, width: int = 330, height: int = 260) -> alt.HConcatChart:
    """Accuracy and loss per epoch, train and test, both models, side by side.

    Hue tells the model, dash tells train (solid) from test (dashed). Clicking
    a legend entry highlights that series in both panels.
    """
    frame = curves_frame(history)
    highlight = alt.selection_point(name="highlight", fields=["series"], bind="legend")
    models = list(frame["model"].unique())
    series_order = [f"{m} · {s}" for m in models for s in SUBSETS]
    # One hue per model, dark for train and light for test.
    palette = [shade for m in range(len(models)) for shade in SERIES_COLOURS[m % 2]]

    def panel(metric: str) -> alt.Chart:
        return (
            alt.Chart(frame[frame["metric"] == metric], title=metric.capitalize())
            .mark_line(point=alt.OverlayMarkDef(size=18, filled=True))
            .encode(
                x=alt.X("epoch:Q", title="Epoch", scale=alt.Scale(domainMin=1),
                        axis=alt.Axis(format="d", tickMinStep=1)),
                y=alt.Y("value:Q", title=metric,
                        scale=alt.Scale(zero=False, type="linear" if metric == "accuracy"
                                        else "log")),
                color=alt.Color("series:N", title="Series",
                                scale=alt.Scale(domain=series_order, range=palette)),
                strokeDash=alt.StrokeDash("subset:N", sort=list(SUBSETS), legend=None),
                opacity=alt.condition(highlight, alt.value(1.0), alt.value(0.15)),
                tooltip=[
                    alt.Tooltip("series:N", title="Series"),
                    alt.Tooltip("epoch:Q", title="Epoch"),
                    alt.Tooltip("value:Q", title=metric.capitalize(), format=".4f"),
                ],
            )
            .properties(width=width, height=height)
        )

    # The selection lives in one panel; Vega-Lite makes it visible to both.
    return alt.hconcat(panel("accuracy").add_params(highlight), panel("loss"))


def parameters_chart(layer_tables: dict[str, pd.DataFrame]) -> alt.Chart:
    """Trainable and non-trainable parameters per model, as stacked bars."""
    rows = []
    for model, table in layer_tables.items():
        rows.append({"model": model, "kind": "trainable", "count": int(table["trainable"].sum())})
        rows.append({"model": model, "kind": "non-trainable",
                     "count": int(table["non_trainable"].sum())})
    frame = pd.DataFrame(rows)
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("model:N", title=None, sort=list(layer_tables)),
            x=alt.X("count:Q", title="Parameters", stack="zero"),
            color=alt.Color("kind:N", title="Kind", sort=["trainable", "non-trainable"]),
            tooltip=["model:N", "kind:N", alt.Tooltip("count:Q", format=",")],
        )
        .properties(height=120)
    )


def predictions_frame(labels: np.ndarray, probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per test image: true class, and each model's predicted class and confidence."""
    frame = pd.DataFrame({"index": np.arange(len(labels)),
                          "true": [CLASS_NAMES[i] for i in labels]})
    for model, probs in probabilities.items():
        predicted = probs.argmax(axis=1)
        frame[f"{model} predicted"] = [CLASS_NAMES[i] for i in predicted]
        frame[f"{model} confidence"] = probs.max(axis=1)
        frame[f"{model} correct"] = predicted == labels
    return frame


PREDICTION_FILTERS = ("all", "both wrong", "models disagree")


def filter_predictions(frame: pd.DataFrame, models: list[str], which: str) -> pd.DataFrame:
    """Rows of `predictions_frame` that match one of `PREDICTION_FILTERS`."""
    if which == "all":
        return frame
    if which == "both wrong":
        wrong = np.logical_and.reduce([~frame[f"{m} correct"] for m in models])
        return frame[wrong]
    if which == "models disagree":
        first = frame[f"{models[0]} predicted"]
        return frame[np.logical_or.reduce([frame[f"{m} predicted"] != first for m in models])]
    raise ValueError(f"unknown filter {which!r}; choose from {PREDICTION_FILTERS}")


def confusion_frame(labels: np.ndarray, probabilities: dict[str, np.ndarray]) -> pd.DataFrame:
    """Counts of (true, predicted) class pairs per model, all 100 cells present."""
    rows = []
    for model, probs in probabilities.items():
        counts = np.zeros((len(CLASS_NAMES),) * 2, dtype=int)
        np.add.at(counts, (labels, probs.argmax(axis=1)), 1)
        for true_index, true_name in enumerate(CLASS_NAMES):
            total = counts[true_index].sum()
            for predicted_index, predicted_name in enumerate(CLASS_NAMES):
                count = int(counts[true_index, predicted_index])
                rows.append({"model": model, "true": true_name, "predicted": predicted_name,
                             "count": count, "share": count / total if total else 0.0})
    return pd.DataFrame(rows)


def confusion_chart(frame: pd.DataFrame, model: str, size: int = 300) -> alt.LayerChart:
    """One model's confusion matrix: rows true class, columns predicted, shaded by row share."""
    data = frame[frame["model"] == model]
    base = alt.Chart(data, title=model).encode(
        x=alt.X("predicted:N", sort=list(CLASS_NAMES), title="Predicted"),
        y=alt.Y("true:N", sort=list(CLASS_NAMES), title="True"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("share:Q", title="Share of row", scale=alt.Scale(scheme="blues",
                                                                         domain=[0, 1])),
        tooltip=["true:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".0%")],
    )
    text = base.mark_text(fontSize=9).encode(
        text=alt.condition(alt.datum.count > 0, "count:Q", alt.value("")),
        color=alt.condition(alt.datum.share > 0.5, alt.value("white"), alt.value("black")),
    )
    return (cells + text).properties(width=size, height=size)


def per_class_accuracy(confusion: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per true class and model, from a `confusion_frame`."""
    hits = confusion[confusion["true"] == confusion["predicted"]]
    table = hits.pivot(index="true", columns="model", values="share")
    return table.reindex(CLASS_NAMES)
