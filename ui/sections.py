"""The parts of the page that show a comparison: live progress and finished results."""

from __future__ import annotations

import base64
import html
from collections import Counter
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from bnviz import charts, describe, explain
from bnviz.comparison import ComparisonRequest, ComparisonResult, history_frame
from bnviz.config import MLP_SIGMOID, ExperimentConfig
from bnviz.data import CLASS_NAMES, TEST_SIZE, DataError, class_counts_text, make_split
from bnviz.inside import FIGURE_1_STEPS, percentiles_at_steps
from bnviz.jobs import ENDED, FAILED, GALLERY, QUEUED, Job, JobManager
from bnviz.link import markdown_code
from bnviz.page import NOT_WATCHING, Control, training_control
from bnviz.request import Request
from bnviz.snapshots import MAX_TICKS_PER_LAYER, feature_steps
from bnviz.summary import (
    HEADLINE_STATISTICS,
    brief,
    convergence_table,
    format_duration,
    headline,
    landscape_summary,
    landscape_verdict,
    paired_difference_frame,
    paired_difference_table,
    paired_verdict,
    sampling_error_note,
    seed_spread_table,
    sweep_verdict,
)
from bnviz.sweep import (
    DEFAULT_RATES,
    DEFAULT_SWEEP_EPOCHS,
    LEARNING_RATES,
    MAX_RATES,
    MAX_SWEEP_EPOCHS,
    SweepRequest,
)
from bnviz.variants import BATCH_NORM
from ui import views
from ui.state import session_id, stop_watching, submit_for_session, watch_again, write_url

GRID_SIZE = 32
# How long the page that pressed Stop waits for the training to end before drawing again
# (it ends at its next step and then hands back what it has: well under a second at the
# blog's settings); after that the progress's own refresh, every second, notices the end.
STOP_WAIT_SECONDS = 2.0
CURVE_HEIGHT = 160  # px of plot per learning-curve panel: with the header, in 1280×720
PRESENT_CURVE_HEIGHT = 300  # for a projector (present=1): as tall as a 720 px screen allows
# Facet panels cannot take a column's width: these fit a phone (358 px) and two columns of
# a 1280 px window.
RELU_PANEL_WIDTH = 220
BN_PANEL_WIDTH = 130

# Streamlit leaves 6rem above the page's first line and draws titles at 2.75rem: a
# projector's 720 px cannot spare that, and a phone would break the title over lines. The
# second level (a lesson step's title, a model's name) is an h2, so no heading is skipped for
# a screen reader, drawn no larger than a subheader.
COMPACT_PAGE_CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.5rem; }
[data-testid="stMainBlockContainer"] h1 { font-size: 1.75rem; padding-top: 0; }
[data-testid="stMainBlockContainer"] h2 { font-size: 1.35rem; }
@media (max-width: 640px) {
  [data-testid="stMainBlockContainer"] h1 { font-size: 1.5rem; }
}
</style>
"""


def compact_page() -> None:
    """Less empty space above the title, so the first chart starts inside the first screen."""
    st.html(COMPACT_PAGE_CSS)


def show_chart(result: object, build: Callable[[], charts.alt.TopLevelMixin], key: str,
               described: Callable[[], str], table: Callable[[], pd.DataFrame] | None = None,
               png_name: str | None = None, fit: bool = False,
               table_open_if: str | None = None) -> None:
    """The chart ``build`` makes of a finished ``result``, in Streamlit's theme, said in words
    (``described``, from `bnviz.describe`: the chart's accessible label and a caption under
    it), with its data as a table one click away (``table``; None where the page shows the
    table beside the chart anyway) and an optional PNG download made on click; with ``fit``,
    as wide as its column with its legends below (`charts.fit_width`; the PNG keeps the
    chart's own width). What it shows is built once per result and chart (``key``) and
    shared by every viewer (`ui.views`). ``table_open_if``: see `show_data_table`."""
    said = views.once(result, ("description", key), described)
    shown = (lambda: charts.fit_width(build())) if fit else build
    st.vega_lite_chart(views.chart_spec(result, key, shown, said), key=key, theme="streamlit")
    st.caption(said)
    if table is not None:
        show_data_table(f"{key}_data", lambda: views.once(result, ("table", key), table),
                        open_if=table_open_if)
    if png_name:
        st.download_button("Download chart (PNG)", data=lambda: charts.to_png(build()),
                           file_name=png_name, mime="image/png", on_click="ignore",
                           key=f"{key}_png")


def show_data_table(key: str, table: Callable[[], pd.DataFrame],
                    open_if: str | None = None) -> None:
    """A chart's data as a table (a screen reader reads it cell by cell), drawn only while
    its expander is open: a table on every chart would load the grid's script on first
    sight. ``open_if``: the key of another data table (the same chart while it trained)
    that, left open, opens this one too."""
    if open_if is not None and key not in st.session_state and st.session_state.get(open_if):
        st.session_state[key] = True  # the table being read does not close under the reader
    data = st.expander("Data table", key=key, on_change="rerun")
    if data.open:
        with data:
            st.dataframe(table(), hide_index=True)


def _show_queue_place_or_rerun(manager: JobManager, request: Request, what: str) -> Job | None:
    """The job of ``request`` while it trains; the page reruns once it has ended, and while
    it waits its place in the queue is shown (and None returned)."""
    job = manager.get(request)
    if job is None or job.status in ENDED:
        st.rerun()
    if job.status == QUEUED:
        st.info(f"{what} is waiting for a free trainer: place {manager.queue_position(job)} in "
                f"the queue, {manager.running_count()} training(s) running now; it starts in "
                f"{format_duration(manager.seconds_to_start(job))}. This page updates by "
                "itself.")
        _show_stop_controls(manager, job)
        return None
    return job


def _show_stop_controls(manager: JobManager, job: Job) -> None:
    """The control this session has over a training it sees (`bnviz.page.training_control`):
    Stop, Withdraw or Stop watching."""
    session = session_id()
    control = training_control(job, session, manager.stoppable(job))
    if control is None:
        return
    if control == Control.STOPPING:
        st.caption("Stopping…")
    elif control == Control.STOP:
        if st.button("Stop", key="stop_training", icon=":material/stop:",
                       help="End this training now: the epochs done are kept and shown as a "
                       "partial result, and the trainer is free for the next in the queue."):
            manager.stop(job, session)
            # Wait here for the end rather than for the next timed refresh: the partial
            # result then shows as soon as it exists.
            job.ended.wait(STOP_WAIT_SECONDS)  # the timed refresh takes over after that
            st.rerun()
    elif control == Control.WITHDRAW:
        if st.button("Withdraw", key="withdraw_training", icon=":material/close:",
                     help="Take your request out of the queue (others who asked for these "
                     "settings keep their place)."):
            if manager.leave(job, session):  # it may have started meanwhile: then nothing
                stop_watching(job.request)
            st.rerun()
    elif st.button("Stop watching", key="stop_watching", icon=":material/visibility_off:",
                 help="Stop following this training on this page; it goes on for whoever "
                 "started it."):
        manager.leave(job, session)  # no longer this session's training, if it had asked
        stop_watching(job.request)
        st.rerun()


# Why two refresh rates: drawing the curves costs the server about 0.1 s of CPU per viewer
# (building and serialising the Altair chart), the progress bar almost nothing. Redrawn every
# second, thirty viewers of one training kept two cores busy and new page loads timed out;
# the bar still moves every second, the curves follow every few seconds.
LIVE_CURVES_SECONDS = 5.0


def show_live_training(manager: JobManager, request: ComparisonRequest,
                       large: bool = False) -> None:
    """Progress of the job training ``request``: the bar every second, the curves less often
    (``large``: for a projector)."""
    _show_live_progress(manager, request)
    _show_live_curves(manager, request, large)


@st.fragment(run_every=1.0)
def _show_live_progress(manager: JobManager, request: ComparisonRequest) -> None:
    job = _show_queue_place_or_rerun(manager, request, "This comparison")
    if job is None:
        return
    config = request.config
    # Epochs both models (baseline and BN) have finished, per seed: one row each per epoch.
    # Seeds train one after another here, or side by side on a cluster (bnviz.cluster).
    rows_per_seed = Counter(row["seed"] for row in job.rows)
    if config.seeds == 1:
        where = f"epoch {len(job.rows) // request.model_count} of {config.epochs}"
    else:
        where = ", ".join(f"seed {seed}: epoch {rows_per_seed[seed] // request.model_count} of "
                          f"{config.epochs}"
                          for seed in config.seed_list)
    st.progress(min(len(job.rows) / request.progress_rows(), 1.0),
                text=f"Training both models: {where} · {job.elapsed:.0f} s elapsed · "
                     f"{format_duration(job.seconds_left())} left")
    announce(progress_announcement(len(job.rows) // request.model_count, config.epochs
                                   * config.seeds))
    if not job.rows:
        st.caption("Preparing data and compiling the models…")
    _show_stop_controls(manager, job)


# Read out by a screen reader when it changes (politely: after what it is saying), so not
# every second: about ten times in a training.
ANNOUNCEMENTS_PER_TRAINING = 10
SCREEN_READER_ONLY = ("position:absolute;width:1px;height:1px;margin:-1px;padding:0;"
                      "overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0")


def progress_announcement(epochs_done: int, epochs: int) -> str:
    """What the live region says of a training ``epochs_done`` epochs (of all seeds) into
    ``epochs``: it changes about `ANNOUNCEMENTS_PER_TRAINING` times in a training."""
    if epochs_done == 0:
        return "Training started: preparing the data and the models."
    every = max(1, -(-epochs // ANNOUNCEMENTS_PER_TRAINING))  # ceiling
    said = min(epochs, epochs_done // every * every)
    return (f"Training: {said} of {epochs} epochs done." if said else
            "Training: the first epochs are running.")


def announce(text: str) -> None:
    """``text`` in a polite ARIA live region, heard by a screen reader and not seen."""
    st.html(f'<div role="status" aria-live="polite" style="{SCREEN_READER_ONLY}">'
            f"{html.escape(text)}</div>")


def _live_table_key(metric: str) -> str:
    # The result's curves open their table when this one was open as the training ended.
    return f"live_curves_{metric}_data"


@st.fragment(run_every=LIVE_CURVES_SECONDS)
def _show_live_curves(manager: JobManager, request: ComparisonRequest, large: bool) -> None:
    job = manager.get(request)
    if job is not None and job.rows:
        # Rows arrive every epoch, so the live chart is built for each redraw.
        history = history_frame(job.rows)
        for column, metric in zip(st.columns(2), charts.METRICS, strict=True):
            with column:
                said = describe.curves(history, metric)
                st.vega_lite_chart(charts.described_spec(charts.learning_curve_panel(
                    history, metric, PRESENT_CURVE_HEIGHT if large else CURVE_HEIGHT, large),
                    said), key=f"live_curves_{metric}", theme="streamlit")
                st.caption(said)
                show_data_table(_live_table_key(metric),
                                lambda metric=metric: charts.curve_table(history, metric))


def show_busy(manager: JobManager, busy: Job, asked_for: ExperimentConfig,
              large: bool = False) -> None:
    """This session's training of other settings, still queued or running: it trains one
    thing at a time, so that one visitor cannot fill the queue."""
    st.info("Your earlier training is still in progress, shown below. One training at a "
            "time per visitor, so that everyone's turn comes: press **Train** again for "
            f"these settings ({markdown_code(asked_for.describe(), 120)}) once it has "
            "finished.")
    if isinstance(busy.request, ComparisonRequest):
        st.caption(f"Training: {markdown_code(busy.request.config.describe(), 120)}")
        show_live_training(manager, busy.request, large)
    else:
        st.caption("Training: a learning-rate sweep.")
        _show_sweep_progress(manager, busy.request)


def _show_convergence(result: ComparisonResult) -> None:
    summary = _summary(result)
    error = views.once(result, "sampling error",
                       lambda: sampling_error_note(summary, len(result.test_labels)))
    if result.seeds_shown == 1:
        st.table(views.once(result, "convergence", lambda: convergence_table(summary)))
        st.caption(error)
        st.markdown(explain.CONVERGENCE)
        return
    st.table(views.once(result, "seed spread", lambda: seed_spread_table(summary)))
    st.caption(error)
    st.markdown(explain.CONVERGENCE)
    # Seeds are pairs (same start, same batches): each seed's difference, and what they settle.
    frame = views.once(result, "paired differences", lambda: paired_difference_frame(summary))
    columns = st.columns(len(HEADLINE_STATISTICS))
    for column, (statistic, words) in zip(columns, HEADLINE_STATISTICS.items(), strict=True):
        with column:
            if statistic not in set(frame["statistic"]):
                st.caption(f"Difference in {words}: no seed where both models reached it.")
                continue
            show_chart(result, lambda statistic=statistic: charts.paired_difference_chart(
                frame, statistic), key=f"paired_{statistic}",
                described=lambda statistic=statistic: describe.paired_difference(
                    frame, statistic),
                table=lambda statistic=statistic: frame[frame["statistic"] == statistic],
                png_name=f"bnviz-paired-{statistic}.png", fit=True)
    st.markdown(views.once(result, "paired verdict", lambda: paired_verdict(summary)))
    st.markdown(explain.SEEDS)
    with st.expander("Each seed"):
        st.dataframe(summary, hide_index=True)
        st.dataframe(views.once(result, "paired table", lambda: paired_difference_table(summary)))


def _show_parameters(result: ComparisonResult) -> None:
    show_chart(result, lambda: charts.parameters_chart(result.layer_tables), key="parameters",
               described=lambda: describe.parameters(result.layer_tables),
               table=lambda: charts.parameters_frame(result.layer_tables), fit=True)
    variant = result.config.variant
    if variant.is_batch_norm and result.config.architecture == MLP_SIGMOID:
        table = result.layer_tables[result.normalized_model]
        norm = table[table["type"] == "BatchNormalization"]

        def hidden(model: str) -> int:
            layers = result.layer_tables[model]
            return int(layers[layers["layer"].str.startswith("fc")]["params"].sum())

        biases = hidden(result.baseline_model) - hidden(result.normalized_model)
        st.markdown(explain.PARAMETERS_MLP.format(
            learned=int(norm["trainable"].sum()), moving=int(norm["non_trainable"].sum()),
            bias=explain.PARAMETERS_MLP_BIAS.format(biases=biases) if biases else ""))
    elif variant.is_batch_norm:
        st.markdown(explain.PARAMETERS)
    else:
        st.markdown(explain.PARAMETERS_VARIANT.format(name=result.normalized_model))
        if variant.learns_per_position:
            table = result.layer_tables[result.normalized_model]
            norm = table[table["layer"].str.startswith(variant.layer_prefix)]
            st.markdown(explain.LAYER_NORM_PARAMETERS.format(
                features=int(norm["params"].sum()) // 2,  # a gain and a bias per feature
                extra=int(table["params"].sum()
                          - result.layer_tables[result.baseline_model]["params"].sum())))
    columns = st.columns(len(result.layer_tables))
    for column, (model, table) in zip(columns, result.layer_tables.items(), strict=True):
        with column:
            st.header(model)  # h2 under the page's h1 (no heading is skipped)
            st.dataframe(table, hide_index=True)
            st.caption(f"Total {table.params.sum():,} · trainable {table.trainable.sum():,} · "
                       f"non-trainable {table.non_trainable.sum():,}")


def _summary(result: ComparisonResult) -> pd.DataFrame:
    return views.once(result, "summary", result.summary)


@st.cache_resource(max_entries=8, show_spinner=False)
def _test_images(split: str, train_size: int) -> np.ndarray:
    # Shared, not copied per call (st.cache_data would unpickle 1000 images each time):
    # nothing writes to it.
    return make_split(split, train_size, scale_pixels=False).x_test[..., 0].astype(np.uint8)


def _prediction_grid(result: ComparisonResult, shown: pd.DataFrame) -> str:
    """The first `GRID_SIZE` rows of ``shown`` as a grid of pictures, each with alt text
    (its true class and each model's answer and confidence: st.image takes none) and the
    same under it in short for the eye, which a screen reader skips so it hears it once."""
    images = _test_images(result.config.split, result.config.train_size)
    figures = []
    for _, row in shown.head(GRID_SIZE).iterrows():
        article = "an" if row["true"][0] in "AEIOU" else "a"
        said = [f"Test image {row['index'] + 1}, {article} {row['true']}."]
        marks = [f"true: {row['true']}"]
        for model in result.models:
            right = bool(row[f"{model} correct"])
            confidence = f"{row[f'{model} confidence']:.0%}"
            said.append(f"{model}: {row[f'{model} predicted']}, {confidence} sure, "
                        f"{'right' if right else 'wrong'}.")
            marks.append(f"{'✓' if right else '✗'} {model}: {row[f'{model} predicted']} "
                         f"({confidence})")
        picture = base64.b64encode(charts.png_image(images[row["index"]])).decode()
        figures.append(
            f'<figure class="bnviz-prediction"><img src="data:image/png;base64,{picture}" '
            f'width="{GRID_PICTURE_PX}" height="{GRID_PICTURE_PX}" '
            f'alt="{html.escape(" ".join(said))}"><figcaption aria-hidden="true">'
            f'{"<br>".join(html.escape(mark) for mark in marks)}</figcaption></figure>')
    return f'<div class="bnviz-predictions">{"".join(figures)}</div>{PREDICTION_GRID_CSS}'


GRID_PICTURE_PX = 150
# 28 × 28 pixels drawn large: each pixel a square, not a blur.
PREDICTION_GRID_CSS = f"""<style>
.bnviz-predictions {{ display: flex; flex-wrap: wrap; gap: 0.75rem; }}
.bnviz-prediction {{ width: {GRID_PICTURE_PX}px; margin: 0; }}
.bnviz-prediction img {{ image-rendering: pixelated; display: block; }}
.bnviz-prediction figcaption {{ font-size: 0.8rem; line-height: 1.3; }}
</style>"""


def _show_predictions(result: ComparisonResult, epoch: int) -> None:
    frame = views.once(result, ("predictions", epoch), lambda: charts.predictions_frame(
        result.test_labels, result.answers_at(epoch)))
    which = st.radio("Show", charts.PREDICTION_FILTERS, horizontal=True, key="prediction_filter")
    shown = views.once(result, ("predictions", which, epoch),
                       lambda: charts.filter_predictions(frame, result.models, which))
    st.caption(f"After epoch {epoch}: {len(shown)} of {len(frame)} test images match; the "
               f"first {GRID_SIZE} are shown.")
    if len(shown):
        try:
            st.html(views.once(result, ("prediction grid", which, epoch),
                               lambda: _prediction_grid(result, shown)))
        except DataError as error:  # not kept: the images may be readable next time
            st.warning(f"Test images unavailable: {error}")
    st.markdown(explain.PREDICTIONS)
    confusion = views.once(result, ("confusion", epoch), lambda: charts.confusion_frame(
        result.test_labels, result.answers_at(epoch)))
    columns = st.columns(len(result.models))
    for column, model in zip(columns, result.models, strict=True):
        with column:
            show_chart(result, lambda model=model: charts.confusion_chart(confusion, model),
                       key=f"confusion_{model}_{epoch}",
                       described=lambda model=model: describe.confusion(confusion, model),
                       table=lambda model=model: charts.confusion_table(confusion, model))
    st.markdown(f"**Accuracy per class** (after epoch {epoch})")
    st.dataframe(views.once(result, ("per class", epoch),
                            lambda: charts.per_class_accuracy(confusion))
                 .style.format("{:.0%}"))


def _inside_text(result: ComparisonResult) -> str:
    """The Inside BN text, saying what the chart compares at this result's network and
    placement."""
    config = result.config
    if config.architecture == MLP_SIGMOID:
        return explain.INSIDE_MLP.format(
            steps_per_epoch=config.steps_per_epoch,
            compared=explain.INSIDE_MLP_COMPARED[config.placement])
    return explain.INSIDE.format(compared=explain.INSIDE_COMPARED[config.placement])


def _relu_input_chart(result: ComparisonResult, mode: str, **options: object
                      ) -> charts.alt.FacetChart:
    """The Inside BN chart of this result's network: epochs for the CNN, training steps for
    Ioffe & Szegedy's MLP, as their Fig. 1."""
    config = result.config
    steps = config.steps_per_epoch if config.architecture == MLP_SIGMOID else None
    return charts.relu_input_chart(result.relu_inputs, mode, architecture=config.architecture,
                                   steps_per_epoch=steps, **options)


def _marker(result: ComparisonResult, epoch: int) -> int | None:
    """The epoch the charts mark: the scrubber's, unless it stands at the end."""
    return None if epoch == result.final_epoch else epoch


def _checkpoint_note(what: str, measured: int | None, epoch: int) -> None:
    """Say so when ``what`` was measured at an earlier checkpoint than the epoch shown."""
    if measured is not None and measured != epoch:
        st.caption(f"{what} after epoch {measured}: the run measured them after epochs 1, 2, "
                   f"5, 10, 20, 50, … and after its last, and {measured} is the last of those "
                   f"before {epoch}.")


def _show_inside(result: ComparisonResult, epoch: int) -> None:
    if result.relu_inputs.empty:
        st.markdown(_inside_text(result))
        st.info("This result was stored before bnviz recorded inside the networks; train again.")
        return
    mode = st.radio("BN mode", list(charts.RELU_INPUT_MODES), horizontal=True,
                    key="relu_input_mode", format_func=charts.RELU_INPUT_MODES.get,
                    help="Training mode is what the network sees while it learns.")
    # One chart per model, side by side (stacked on a phone): one chart of both ran off a
    # phone's screen.
    marker = _marker(result, epoch)
    for column, model in zip(st.columns(len(result.models)), result.models, strict=True):
        with column:
            show_chart(result, lambda model=model: _relu_input_chart(
                result, mode, width=RELU_PANEL_WIDTH, model=model, marker=marker),
                key=f"relu_inputs_{mode}_{model}_{marker}",
                described=lambda model=model: describe.relu_inputs(
                    result.relu_inputs, mode, model,
                    charts.PROBED_NONLINEARITY[result.config.architecture],
                    "units" if result.config.architecture == MLP_SIGMOID else "channels"),
                table=lambda model=model: charts.relu_input_frame(
                    result.relu_inputs, mode, model))
    st.download_button("Download chart (PNG)", data=lambda: charts.to_png(
        _relu_input_chart(result, mode)),
        file_name=f"bnviz-relu-inputs-{mode}.png", mime="image/png", on_click="ignore",
        key=f"relu_inputs_{mode}_png")
    st.markdown(_inside_text(result))
    if result.config.architecture == MLP_SIGMOID:
        table = views.once(result, ("figure 1", mode), lambda: percentiles_at_steps(
            result.relu_inputs, result.config.steps_per_epoch, FIGURE_1_STEPS, mode))
        st.markdown(f"**Percentiles at steps {', '.join(f'{s:,}' for s in FIGURE_1_STEPS)}** "
                    f"({mode} mode, first seed)")
        st.dataframe(table, hide_index=True)
    if not result.config.variant.normalizes:  # the noise-only control: no layer to show
        st.info(f"The {result.normalized_model} model has no normalising layer (only noise "
                "where BN would be), so it has no γ, β or moving statistics to show.")
        return
    layers, measured = result.bn_layers_at(epoch)
    show_chart(result, lambda: charts.bn_layers_chart(layers, width=BN_PANEL_WIDTH,
                                                      columns=2), key=f"bn_layers_{measured}",
               described=lambda: describe.bn_layers(layers), table=lambda: layers,
               png_name="bnviz-bn-layers.png")
    _checkpoint_note("BN's values are shown as they were", measured, epoch)
    st.markdown(explain.BN_LAYERS)
    if not result.config.variant.has_every_bn_value:  # some values stand in
        st.caption(explain.BN_LAYERS_VARIANT)
    thinned = feature_steps(layers)
    if thinned:
        st.caption(f"Layers of more than {MAX_TICKS_PER_LAYER} features are kept and drawn at "
                   "evenly spaced features: " + ", ".join(
                       f"{layer} one in {step}" for layer, step in thinned.items()) + ".")


def _show_landscape(result: ComparisonResult, epoch: int) -> None:
    if result.landscape.empty:
        st.markdown(explain.LANDSCAPE)
        st.info("This run measured no loss landscape: set **Loss-landscape probe every "
                "(steps)** above 0 in the sidebar and train again.")
        return
    panels = len(charts.LANDSCAPE_PANELS)
    marker = _marker(result, epoch)
    # Steps count from 0: epoch k ends with step k × steps an epoch − 1.
    at = None if marker is None else (marker, marker * result.config.steps_per_epoch - 1)
    for index, column in enumerate(st.columns(panels)):
        with column:
            show_chart(result, lambda index=index: charts.landscape_panels(
                result.landscape, height=200, marker=at)[index],
                key=f"landscape_{index}_{marker}", fit=True,
                described=lambda index=index: describe.landscape(result.landscape, index),
                table=lambda index=index: charts.landscape_frame(result.landscape, index))
    st.download_button("Download chart (PNG)", data=lambda: charts.to_png(
        charts.landscape_chart(result.landscape)), file_name="bnviz-landscape.png",
        mime="image/png", on_click="ignore", key="landscape_png")
    st.markdown(explain.LANDSCAPE)
    st.markdown(views.once(result, "landscape verdict", lambda: landscape_verdict(
        landscape_summary(result.landscape), raw_pixels=result.config.raw_pixels,
        optimizer=result.config.optimizer)))
    st.download_button("Download landscape (CSV)", lambda: result.landscape.to_csv(index=False),
                       file_name=f"bnviz-{result.config.config_hash()}-landscape.csv",
                       mime="text/csv", on_click="ignore")


def _show_modes(result: ComparisonResult, epoch: int) -> None:
    if not result.config.variant.keeps_moving_statistics:
        st.info(explain.NO_MOVING_STATISTICS.format(name=result.normalized_model))
        return
    modes, measured = result.bn_modes_at(epoch)
    if modes.empty:
        st.info(explain.MODES_NOT_MEASURED)
        return
    # The table of both modes is under the chart already.
    show_chart(result, lambda: charts.bn_modes_chart(modes), key=f"bn_modes_{measured}",
               described=lambda: describe.bn_modes(modes),
               png_name="bnviz-bn-modes.png", fit=True)
    _checkpoint_note("Both modes are compared", measured, epoch)
    # The one-image story was measured for batch norm; the partial variants normalise
    # differently, so for them only what holds for every batch-statistics layer is said.
    st.markdown(explain.MODES + (explain.MODES_ONE_IMAGE if result.config.variant.is_batch_norm
                                 else "") + explain.MODES_AFTER)
    accuracy = modes[modes["mode"].str.startswith("training")].set_index("batch_size")["accuracy"]
    inference = modes[modes["mode"].str.startswith("inference")]
    if 1 in accuracy.index and len(inference):
        st.caption(f"In this run, after epoch {measured}, with one image per batch the "
                   f"{result.normalized_model} model "
                   "scores "
                   f"{accuracy.loc[1]:.1%} on the test set (chance: 10 %), against "
                   f"{inference['accuracy'].iloc[0]:.1%} with its moving averages.")
    st.dataframe(modes, hide_index=True)


@st.fragment(run_every=1.0)
def _show_sweep_progress(manager: JobManager, request: SweepRequest) -> None:
    job = _show_queue_place_or_rerun(manager, request, "This sweep")
    if job is None:
        return
    runs = request.progress_rows()
    st.progress(len(job.rows) / runs, text=f"Sweep: {len(job.rows)} of {runs} runs done · "
                                           f"{job.elapsed:.0f} s elapsed · "
                                           f"{format_duration(job.seconds_left())} left")
    if job.rows:
        rows = pd.DataFrame(job.rows)
        said = describe.sweep(rows)
        st.vega_lite_chart(charts.described_spec(charts.fit_width(charts.sweep_chart(rows)),
                                                 said),
                           key="sweep_live", theme="streamlit")
        st.caption(said)
        show_data_table("sweep_live_data", lambda: rows)


def show_learning_rate_sweep(manager: JobManager, config: ExperimentConfig) -> None:
    """The sweep tab: choose rates and epochs, run (shared, cached), see the chart."""
    st.markdown(explain.SWEEP)
    # A preset that comes with a sweep (the gallery's) opens on it, shown at once.
    precomputed = manager.gallery.sweep_for(config) if manager.gallery is not None else None
    with st.form("sweep"):
        rates = st.multiselect("Learning rates", LEARNING_RATES,
                               default=list(precomputed.learning_rates if precomputed
                                            else DEFAULT_RATES),
                               format_func=lambda v: f"{v:g}", max_selections=MAX_RATES,
                               help="A log grid; every rate trains both models.")
        epochs = st.slider("Epochs per run", 1, MAX_SWEEP_EPOCHS,
                           precomputed.epochs if precomputed else DEFAULT_SWEEP_EPOCHS,
                           help="Short runs are enough to see which rates break a model.")
        pressed = st.form_submit_button("Run sweep", disabled=manager.cannot_train() is not None)
    if not rates:
        st.warning("Choose at least one learning rate.")
        return
    request = SweepRequest(config, tuple(sorted(rates)), epochs)
    if pressed:
        job = submit_for_session(manager, request)  # None: refused, and it said why
        if job is not None and job.request != request:
            st.warning("Your earlier training is still in progress: one training at a time "
                       "per visitor. Run the sweep once it has finished.")
    job = manager.get(request)
    result = manager.result_for(request)
    if result is not None:
        show_chart(result, lambda: charts.sweep_chart(result.table), key="sweep",
                   described=lambda: describe.sweep(result.table), table=lambda: result.table,
                   png_name="bnviz-sweep.png", fit=True)
        broke = result.table[result.table["outcome"] != "trained"]
        if broke.empty:
            st.caption("No run diverged at these rates.")
        else:
            st.caption("Broke: " + "; ".join(
                f"{row.model} at {row.learning_rate:g} ({row.outcome})"
                for row in broke.itertuples()) + ".")
        st.markdown(views.once(result, "sweep verdict", lambda: sweep_verdict(
            result.table, TEST_SIZE)))
        st.download_button("Download sweep (CSV)", lambda: result.table.to_csv(index=False),
                           file_name=f"bnviz-{request.config_hash()}.csv", mime="text/csv",
                           on_click="ignore")
    elif job is not None and job.status == FAILED:
        st.error(job.message or f"Sweep failed: {job.error}")
    elif job is not None:
        _show_sweep_progress(manager, request)
    else:
        st.caption("Press **Run sweep**: both models, each learning rate, "
                   f"{epochs} epochs per run, on this page's other settings.")


def _show_curves(result: ComparisonResult, epoch: int, large: bool = False) -> None:
    # Two charts in two columns rather than one chart of two panels: columns stack on a
    # narrow screen and each chart takes its column's width, so nothing runs off the edge.
    height = PRESENT_CURVE_HEIGHT if large else CURVE_HEIGHT
    marker = _marker(result, epoch)
    for column, metric in zip(st.columns(2), charts.METRICS, strict=True):
        with column:
            show_chart(result, lambda metric=metric: charts.learning_curve_panel(
                result.history, metric, height, large, marker=marker),
                described=lambda metric=metric: describe.curves(result.history, metric),
                table=lambda metric=metric: charts.curve_table(result.history, metric),
                key=f"curves_{metric}" + ("_large" if large else "")
                + ("" if marker is None else f"_{marker}"),
                table_open_if=_live_table_key(metric))
    if result.seeds_shown > 1:
        st.caption(f"Lines: the mean of {result.seeds_shown} seeds; shaded bands: from the "
                   "lowest to the highest seed.")
    st.markdown(explain.CURVES)
    if result.config.raw_pixels:
        st.caption(views.once(result, "raw pixels", lambda: _raw_pixels_note(result)))
    # A stopped training's files say so in their names: nothing inside them does.
    name = f"bnviz-{result.config.config_hash()}" + ("-stopped" if result.partial else "")
    with st.container(horizontal=True):
        st.download_button("Download chart (PNG)", data=lambda: charts.to_png(
            charts.learning_curves(result.history)), file_name=f"{name}-curves.png",
            mime="image/png", on_click="ignore", key="curves_png")
        st.download_button("Download history (CSV)", lambda: result.history.to_csv(index=False),
                           file_name=f"{name}-history.csv", mime="text/csv", on_click="ignore")


def show_origin(manager: JobManager, request: ComparisonRequest, result: ComparisonResult,
                origin: str, training: bool) -> None:
    """Say when the result shown is the gallery's precomputed one, or cut from a longer run,
    with the button that trains it here (or that it is training now for someone else); and,
    after such a training, that the gallery's result is not what is shown."""
    cut_from = result.cut_from
    if cut_from is not None and origin != GALLERY:  # cut from a run trained on this server
        said, button = st.columns([5, 3], vertical_alignment="center")
        said.markdown(f"**Trained on this server before**, {result.cut_note()}: nothing "
                      "trained for these settings themselves.")
        _show_train_here(manager, request, training, button.container(horizontal=True),
                         "the run it was cut from")
        return
    source = ComparisonRequest(cut_from) if cut_from is not None else request
    entry = manager.gallery.entry(source) if manager.gallery is not None else None
    if entry is None:
        return
    if origin == GALLERY:
        versions = ", ".join(f"{name} {version}" for name, version in entry.versions.items())
        said, button = st.columns([5, 3], vertical_alignment="center")
        # One line above the chart; where, how and with what it was trained, a click away.
        what = (f"{result.cut_note()}, {entry.trained_at[:10]}" if cut_from is not None
                else f"{entry.trained_at[:10]}, {entry.config.seeds} seeds")
        said.markdown(f"**Precomputed** ({what}): nothing trained on this server.")
        button = button.container(horizontal=True)
        with button.popover("How it was trained"):
            st.markdown(f"Trained on {entry.trained_at[:16].replace('T', ' at ')} UTC by "
                        f"bnviz's own trainer, {entry.config.seeds} seeds, on "
                        f"{entry.data_source} ({versions}; {entry.cpu}).")
        _show_train_here(manager, request, training, button, "the precomputed result")
    else:
        st.caption("Trained on this server. The gallery's precomputed result of these settings "
                   f"(trained {entry.trained_at[:10]}) is not what is shown here.")


def _show_train_here(manager: JobManager, request: ComparisonRequest, training: bool,
                     place: DeltaGenerator, shown: str) -> None:
    """Under a result that was not trained for ``request`` itself: that someone trains it
    now, or the button that trains it here (``place``: where the button goes)."""
    job = manager.get(request)
    if training and job is not None:
        left = (f"it starts in {format_duration(manager.seconds_to_start(job))}"
                if job.status == QUEUED else f"{format_duration(job.seconds_left())} left")
        st.caption(f"Someone on this server is training these settings right now ({left}); "
                   f"this page keeps showing {shown}.")
    elif manager.cannot_train() is None and place.button(
            "Train it yourself", key="train_precomputed",
            help="Train these settings on this server now; the page then shows that run "
            "instead, and says so."):
        job = submit_for_session(manager, request)  # None: refused, and it said why
        if job is not None and job.request == request:
            write_url(request.config)
            st.rerun()
        if job is not None:
            st.warning("Your earlier training is still in progress: one training at a time "
                       "per visitor. Train these settings once it has finished.")


SECTION_KEY = "section"


def show_results(result: ComparisonResult, manager: JobManager, large: bool = False) -> None:
    """Everything the page shows about a finished comparison, one tab at a time; ``large``:
    the learning curves for a projector.

    Only the open tab is computed and sent (a click on another tab reruns the page),
    so a stored configuration draws one section's charts, not eight.
    """
    for warning in result.warnings:
        st.warning(f"Data: {warning}")
    if result.partial:  # never shown as if finished
        st.warning(f"**{result.stop_note().capitalize()}**: a partial result, the epochs done "
                   "before **Stop** was pressed (the curves); the other tabs show the models as "
                   "they were after the last whole epoch. Press **Train** to train these "
                   "settings anew.")
    # Two lines at most above the chart (a projector's 720 px): the intervals and the test
    # set's sampling error are on the Convergence tab.
    st.success(views.once(result, "headline", lambda: headline(_summary(result), brief=True)))
    if not result.config.variant.is_batch_norm:  # what this variant changes, and asks
        st.caption(explain.NORMALIZATIONS[result.config.normalization])
        _show_batch_norm_reference(result, manager)
    # The scrubber is drawn below the open tab (the first chart stays within the first screen)
    # and read here, as the previous run left it; not on a projector (present=1).
    epoch = result.final_epoch if large else scrubbed_epoch(result)
    sections = {
        "Learning curves": lambda: _show_curves(result, epoch, large),
        "Convergence": lambda: _show_convergence(result),
        "Parameters": lambda: _show_parameters(result),
        "Predictions": lambda: _show_predictions(result, epoch),
        "Inside BN": lambda: _show_inside(result, epoch),
        "Train vs inference": lambda: _show_modes(result, epoch),
        "Why BN helps": lambda: _show_landscape(result, epoch),
        "Learning rates": lambda: show_learning_rate_sweep(manager, result.config),
        "About batch norm": show_about,
    }
    tabs = st.tabs(list(sections), key=SECTION_KEY, on_change="rerun")
    for tab, show in zip(tabs, sections.values(), strict=True):
        with tab:
            if tab.open:
                show()
    if not large:
        show_scrubber(result)
    st.caption(data_line(result))


SCRUBBER_KEY = "after_epoch"


def _scrubber_key(result: ComparisonResult) -> str:
    # One slider per result: another result starts again at its end.
    return f"{SCRUBBER_KEY}_{result.config.config_hash()}_{result.final_epoch}"


def scrubbed_epoch(result: ComparisonResult) -> int:
    """The epoch the scrubber (`show_scrubber`) stands at for ``result``: the last unless the
    visitor moved it."""
    chosen = st.session_state.get(_scrubber_key(result), result.final_epoch)
    return int(chosen) if chosen in result.predictions.epochs else result.final_epoch


def show_scrubber(result: ComparisonResult) -> int:
    """A slider through the finished training, when the result kept its models after each
    epoch: every tab then shows the models after the epoch chosen (the curves and the
    landscape mark it). The epoch chosen; the last by default."""
    kept = list(result.predictions.epochs)
    if len(kept) < 2:
        return result.final_epoch
    key = _scrubber_key(result)
    return int(st.select_slider(
        "Show the models after epoch", options=kept, value=result.final_epoch, key=key,
        help="Moves every tab to both models as they were after this epoch: predictions, "
        "confusion matrices, inside BN, BN's two modes; the curves and the landscape mark it. "
        "Nothing is trained: the run kept them as it went (the convergence statistics are "
        "the whole run's)."))


def _show_batch_norm_reference(result: ComparisonResult, manager: JobManager) -> None:
    """For a variant: batch norm itself at the same settings, when this server has that
    result (the gallery's, or one trained here), so the variant is read against BN too."""
    config = result.config.replace(normalization=BATCH_NORM)
    reference = manager.lookup(ComparisonRequest(config)).result
    if reference is None or reference.partial:
        return
    bn = reference.normalized_model
    said = views.once(reference, ("brief", bn), lambda: brief(_summary(reference), bn))
    st.caption(f"For comparison, batch norm in its place at the same settings ({bn}, "
               f"{config.seeds} seed{'s' if config.seeds > 1 else ''}): {said}.")


def _raw_pixels_note(result: ComparisonResult) -> str:
    first = result.history[result.history["epoch"] == 1].groupby(
        "model", sort=False)["train_loss"].mean()
    return explain.RAW_PIXELS.format(baseline_loss=first[result.baseline_model],
                                     bn_loss=first[result.normalized_model])


def data_line(result: ComparisonResult) -> str:
    """Where the images came from, and how many of each class the models learned from."""
    counts = (f" Training images per class: {class_counts_text(list(result.train_class_counts))}."
              if result.train_class_counts else "")
    return (f"Data: {result.data_source}, {result.config.split} split.{counts} "
            f"Configuration {result.config.config_hash()}.")


def show_about() -> None:
    """What the page compares, what BN is, what the blog found, and the placement debate."""
    st.markdown(explain.INTRO)
    st.markdown(explain.WHAT_IS_BN)
    st.markdown(explain.PLACEMENT)
    st.markdown(explain.VARIANTS_INTRO)
    st.markdown("\n".join(f"- `{name}`: {text}" for name, text in
                           explain.NORMALIZATIONS.items()))


def show_not_watching(request: Request) -> None:
    """This viewer stopped watching a training that goes on for others: Watch again."""
    st.info(NOT_WATCHING)
    if st.button("Watch again", key="watch_again"):
        watch_again(request)
        st.rerun()


def show_welcome() -> None:
    """Nothing trained for these settings yet: what to do, and what the page is about."""
    st.info("Choose a preset, or set the experiment in the sidebar and press **Train**. "
            "The blog's full run (100 epochs, both models) takes about a minute.")
    st.caption(class_names_caption())
    show_about()


def class_names_caption() -> str:
    """The ten classes, for the intro."""
    return "Classes: " + ", ".join(CLASS_NAMES) + "."
