"""The parts of the page that show a comparison: live progress and finished results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from bnviz import charts, explain
from bnviz.config import ExperimentConfig
from bnviz.data import CLASS_NAMES, DataError, make_split
from bnviz.jobs import DONE, FAILED, QUEUED, JobManager
from bnviz.results import ComparisonResult, headline

GRID_SIZE = 32


def learning_curves(history: pd.DataFrame, key: str) -> None:
    """The curves chart (accuracy and loss, both models, train and test)."""
    st.altair_chart(charts.learning_curves(history), key=key, theme="streamlit")


# Why two refresh rates: drawing the curves costs the server about 0.1 s of CPU per viewer
# (building and serialising the Altair chart), the progress bar almost nothing. Redrawn every
# second, thirty viewers of one training kept two cores busy and new page loads timed out;
# the bar still moves every second, the curves follow every few seconds.
LIVE_CURVES_SECONDS = 5.0


def live_training(manager: JobManager, config: ExperimentConfig) -> None:
    """Progress of the job training ``config``: the bar every second, the curves less often."""
    _live_progress(manager, config)
    _live_curves(manager, config)


@st.fragment(run_every=1.0)
def _live_progress(manager: JobManager, config: ExperimentConfig) -> None:
    job = manager.get(config)
    if job is None or job.status in (DONE, FAILED):
        st.rerun()
    if job.status == QUEUED:
        position = manager.queue_position(job)
        st.info(f"Waiting for a free trainer: place {position} in the queue. "
                f"{manager.running_count()} training(s) running now. This page updates by itself.")
        return
    done = job.epochs_done
    st.progress(done / config.epochs,
                text=f"Training both models: epoch {done} of {config.epochs} · "
                     f"{job.elapsed:.0f} s elapsed")
    if not job.rows:
        st.caption("Preparing data and compiling the models…")


@st.fragment(run_every=LIVE_CURVES_SECONDS)
def _live_curves(manager: JobManager, config: ExperimentConfig) -> None:
    job = manager.get(config)
    if job is not None and job.rows:
        learning_curves(job.history(), key="live_curves")


def convergence_table(result: ComparisonResult) -> pd.DataFrame:
    """Figures per model in columns, with the BN − baseline difference."""
    summary = result.summary().set_index("model")
    figures = {
        "Epochs to 90 % train accuracy": "epochs_to_90_train",
        "Epochs to 99 % train accuracy": "epochs_to_99_train",
        "Best test accuracy": "best_test_accuracy",
        "Final test accuracy": "final_test_accuracy",
        "Training seconds": "seconds",
    }
    table = pd.DataFrame({label: summary[column] for label, column in figures.items()}).T
    baseline, bn = result.models
    table["difference (BN − baseline)"] = table[bn] - table[baseline]
    return table


def _show_convergence(result: ComparisonResult) -> None:
    st.markdown(explain.CONVERGENCE)
    table = convergence_table(result)
    accuracy_rows = [i for i in table.index if "accuracy" in i and "Epochs" not in i]
    formatted = table.astype(object)
    for label in table.index:
        fmt = "{:+.3f}" if label in accuracy_rows else "{:+.1f}"
        plain = "{:.3f}" if label in accuracy_rows else "{:.1f}" if "seconds" in label else "{:.0f}"
        for column in table.columns:
            value = table.loc[label, column]
            style = fmt if column.startswith("difference") else plain
            formatted.loc[label, column] = "—" if pd.isna(value) else style.format(value)
    st.table(formatted)


def _show_parameters(result: ComparisonResult) -> None:
    st.markdown(explain.PARAMETERS)
    st.altair_chart(charts.parameters_chart(result.layer_tables), theme="streamlit")
    columns = st.columns(len(result.layer_tables))
    for column, (model, table) in zip(columns, result.layer_tables.items(), strict=True):
        with column:
            st.subheader(model)
            st.dataframe(table, hide_index=True)
            st.caption(f"Total {table.params.sum():,} · trainable {table.trainable.sum():,} · "
                       f"non-trainable {table.non_trainable.sum():,}")


@st.cache_data(max_entries=8, show_spinner=False)
def _test_images(split: str, train_size: int) -> np.ndarray:
    return make_split(split, train_size, scale_pixels=False).x_test[..., 0].astype(np.uint8)


def _show_predictions(result: ComparisonResult) -> None:
    st.markdown(explain.PREDICTIONS)
    frame = charts.predictions_frame(result.test_labels, result.probabilities)
    which = st.radio("Show", charts.PREDICTION_FILTERS, horizontal=True, key="prediction_filter")
    shown = charts.filter_predictions(frame, result.models, which)
    st.caption(f"{len(shown)} of {len(frame)} test images match; the first {GRID_SIZE} are shown.")
    try:
        images = _test_images(result.config.split, result.config.train_size)
    except DataError as error:
        st.warning(f"Test images unavailable: {error}")
        images = None
    if images is not None and len(shown):
        rows = shown.head(GRID_SIZE)
        captions = []
        for _, row in rows.iterrows():
            parts = [f"true: {row['true']}"]
            for model in result.models:
                mark = "✓" if row[f"{model} correct"] else "✗"
                parts.append(f"{mark} {model}: {row[f'{model} predicted']} "
                             f"({row[f'{model} confidence']:.0%})")
            captions.append(" · ".join(parts))
        st.image([images[i] for i in rows["index"]], caption=captions, width=150)
    confusion = charts.confusion_frame(result.test_labels, result.probabilities)
    columns = st.columns(len(result.models))
    for column, model in zip(columns, result.models, strict=True):
        with column:
            st.altair_chart(charts.confusion_chart(confusion, model), theme="streamlit")
    st.markdown("**Accuracy per class**")
    st.dataframe(charts.per_class_accuracy(confusion).style.format("{:.0%}"))


def results(result: ComparisonResult) -> None:
    """Everything the page shows about a finished comparison, in tabs."""
    for warning in result.warnings:
        st.warning(f"Data: {warning}")
    st.success(headline(result.summary()))
    tabs = st.tabs(["Learning curves", "Convergence", "Parameters", "Predictions",
                    "About batch norm"])
    with tabs[0]:
        st.markdown(explain.CURVES)
        learning_curves(result.history, key="curves")
        st.download_button("Download history (CSV)", result.history.to_csv(index=False),
                           file_name=f"bnviz-{result.config.config_hash()}-history.csv",
                           mime="text/csv")
    with tabs[1]:
        _show_convergence(result)
    with tabs[2]:
        _show_parameters(result)
    with tabs[3]:
        _show_predictions(result)
    with tabs[4]:
        about()
    st.caption(f"Data: {result.data_source}. Configuration {result.config.config_hash()}.")


def about() -> None:
    """What BN is, what the blog found, and the placement debate."""
    st.markdown(explain.WHAT_IS_BN)
    st.markdown(explain.PLACEMENT)


def class_names_caption() -> str:
    """The ten classes, for the intro."""
    return "Classes: " + ", ".join(CLASS_NAMES) + "."
