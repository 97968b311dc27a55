"""Altair chart builders: pure functions of DataFrames, no Streamlit.

Every chart has tooltips on its marks; the learning curves have a legend you
can click to highlight one series (shift-click for several).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from bnviz.config import CNN, MLP_SIGMOID
from bnviz.data import CLASS_NAMES
from bnviz.snapshots import thin_features
from bnviz.summary import HEADLINE_STATISTICS, OUTCOMES

METRICS = ("accuracy", "loss")
# (train, test) per model: blue for the baseline, orange for the normalised model (a pair
# that stays apart under red-green colour blindness, `tests/test_a11y.py`), every shade at
# least 3:1 against white (WCAG's non-text contrast); dark for train, light for test.
SERIES_COLOURS = (("#1f4e8c", "#3d7cc9"), ("#b33c0b", "#e0661b"))
# And told apart by more than hue: each model its point shape, test dashed (`STROKE_DASHES`).
MODEL_SHAPES = ("circle", "square")
STROKE_DASHES = {"train": [1, 0], "test": [5, 3]}
# Marks drawn in one colour of their own (an interval, a reference line): 4.5:1 on white.
ACCENT_COLOUR = "#b33c0b"
REFERENCE_COLOUR = "#6b6b6b"
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


def curve_bands(history: pd.DataFrame) -> pd.DataFrame:
    """Per model, epoch, metric and subset: mean over seeds, min and max, and the seed count."""
    grouped = curves_frame(history).groupby(["model", "series", "subset", "metric", "epoch"],
                                            sort=False)["value"]
    bands = grouped.agg(mean="mean", low="min", high="max", seeds="count").reset_index()
    return bands


# Plot width (px) below which the curves' legend takes one entry a row: two entries need
# about 260 px, and the plot is about 50 px narrower than its chart.
TWO_LEGEND_COLUMNS_WIDTH = 210
# Fonts for a projector (`present=1` in the link): read from the back of a classroom.
LARGE_FONTS = {"axis": 16, "title": 20, "legend": 16}


# The scrubber's mark ("after epoch k"): a dark dashed rule, 10:1 against white.
MARKER_COLOUR = "#333333"


def epoch_marker(field: str, value: float, label: str) -> alt.Chart:
    """A vertical rule at ``value`` on the ``field`` axis, its tooltip ``label``: where the
    page's scrubber stands."""
    return alt.Chart(pd.DataFrame({field: [value], "marker": [label]})).mark_rule(
        color=MARKER_COLOUR, strokeDash=[4, 3], strokeWidth=1.5).encode(
        x=f"{field}:Q", tooltip=alt.Tooltip("marker:N", title="Shown"))


def _curve_panel(frame: pd.DataFrame, metric: str, highlight: alt.Parameter,
                 width: int | str, height: int,
                 legend_columns: int | alt.ExprRef | None = None,
                 marker: int | None = None) -> alt.LayerChart | alt.Chart:
    """One panel (accuracy or loss) of the learning curves, from `curve_bands`' frame; the
    legend ``legend_columns`` entries a row (by default as many as the plot's width holds);
    ``marker``: an epoch to mark (`epoch_marker`)."""
    several = int(frame["seeds"].max()) > 1
    models = list(frame["model"].unique())
    series_order = [f"{m} · {s}" for m in models for s in SUBSETS]
    # One hue per model, dark for train and light for test.
    palette = [shade for m in range(len(models)) for shade in SERIES_COLOURS[m % 2]]
    # Below the chart, two entries a row (one where the plot is too narrow for two, as in
    # a column beside an open sidebar on a tablet): the legend never runs off the edge.
    colour = alt.Color("series:N", title=None,
                       scale=alt.Scale(domain=series_order, range=palette),
                       legend=alt.Legend(orient="bottom", columns=legend_columns or alt.ExprRef(
                           f"width < {TWO_LEGEND_COLUMNS_WIDTH} ? 1 : 2"), offset=6,
                           rowPadding=2, columnPadding=16, symbolOpacity=1,
                           symbolStrokeWidth=2))
    # Shape (the model) and dash (test) on the same field as the colour: Vega-Lite draws one
    # legend whose entries carry all three, so no entry is told apart by hue alone.
    shape = alt.Shape("series:N", legend=None, scale=alt.Scale(
        domain=series_order, range=[MODEL_SHAPES[m % 2] for m in range(len(models))
                                    for _ in SUBSETS]))
    dash = alt.StrokeDash("series:N", legend=None, scale=alt.Scale(
        domain=series_order, range=[STROKE_DASHES[s] for _ in models for s in SUBSETS]))
    log = metric == "loss"
    seeds = int(frame["seeds"].max())
    base = alt.Chart(frame[frame["metric"] == metric], title=metric.capitalize()).encode(
        x=alt.X("epoch:Q", title="Epoch", scale=alt.Scale(domainMin=1),
                axis=alt.Axis(format="d", tickMinStep=1)),
        color=colour,
    )
    y_scale = alt.Scale(zero=False, type="log" if log else "linear")
    tooltip = [alt.Tooltip("series:N", title="Series"), alt.Tooltip("epoch:Q", title="Epoch"),
               alt.Tooltip("mean:Q", title=metric.capitalize() + (" (mean)" if several else ""),
                           format=".4f")]
    if several:
        tooltip += [alt.Tooltip("low:Q", title="lowest seed", format=".4f"),
                    alt.Tooltip("high:Q", title="highest seed", format=".4f"),
                    alt.Tooltip("seeds:Q", title="seeds")]
    line = base.mark_line(point=alt.OverlayMarkDef(size=18, filled=True)).encode(
        y=alt.Y("mean:Q", title=metric + (f", mean of {seeds} seeds" if several else ""),
                scale=y_scale),
        shape=shape, strokeDash=dash,
        opacity=alt.condition(highlight, alt.value(1.0), alt.value(0.15)),
        tooltip=tooltip,
    )
    chart = line
    if several:
        band = base.mark_area(opacity=0.18).encode(
            y=alt.Y("low:Q", scale=y_scale), y2="high:Q",
            opacity=alt.condition(highlight, alt.value(0.18), alt.value(0.03)),
        )
        chart = band + line
    if marker is not None:
        chart = chart + epoch_marker("epoch", marker, f"after epoch {marker}")
    return chart.properties(width=width, height=height)


def _highlight() -> alt.Parameter:
    return alt.selection_point(name="highlight", fields=["series"], bind="legend")


def curve_table(history: pd.DataFrame, metric: str) -> pd.DataFrame:
    """What one learning-curve panel draws (`learning_curve_panel`): per series and epoch, the
    mean over seeds and the band from the lowest to the highest seed."""
    bands = curve_bands(history)
    return bands[bands["metric"] == metric][["series", "epoch", "mean", "low", "high", "seeds"]]


def learning_curves(history: pd.DataFrame, width: int = 330, height: int = 260) -> alt.HConcatChart:
    """Accuracy and loss per epoch, train and test, both models, side by side (for images:
    the page draws each panel on its own, `learning_curve_panel`).

    Hue tells the model, dash tells train (solid) from test (dashed). With several
    seeds the line is the mean over seeds and the shaded band runs from the lowest
    to the highest seed. Clicking a legend entry highlights that series in both panels.
    """
    frame = curve_bands(history)
    highlight = _highlight()
    # The selection lives in one panel; Vega-Lite makes it visible to both.
    # One legend for both panels, in one row (the concatenation has no single width to
    # choose the number of entries a row by).
    return alt.hconcat(_curve_panel(frame, "accuracy", highlight, width, height, 4)
                       .add_params(highlight),
                       _curve_panel(frame, "loss", highlight, width, height, 4))


def learning_curve_panel(history: pd.DataFrame, metric: str, height: int = 240,
                         large: bool = False, marker: int | None = None
                         ) -> alt.LayerChart | alt.Chart:
    """One panel of `learning_curves` (``metric``: accuracy or loss) as wide as the page's
    column, its legend below it; clicking a legend entry highlights that series. With
    ``large``, fonts for a projector (`LARGE_FONTS`); ``marker``: an epoch to mark."""
    highlight = _highlight()
    chart = _curve_panel(curve_bands(history), metric, highlight, "container", height,
                         marker=marker)
    # The column sets the width; the height is the plot's own (plain "fit" would squeeze the
    # plot to make room for the title, axes and legend inside ``height``).
    chart = chart.add_params(highlight).properties(
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))
    if large:
        chart = (chart.configure_axis(labelFontSize=LARGE_FONTS["axis"],
                                      titleFontSize=LARGE_FONTS["axis"])
                 .configure_legend(labelFontSize=LARGE_FONTS["legend"],
                                   titleFontSize=LARGE_FONTS["legend"], symbolSize=200)
                 .configure_title(fontSize=LARGE_FONTS["title"]))
    return chart


RELU_INPUT_MODES = {
    "training": "training mode: BN on the probe batch's own statistics, as while learning",
    "inference": "inference mode: BN on its moving averages, as at test time",
}


# What the Inside BN chart calls the probed nonlinearity and its features, per network.
PROBED_NONLINEARITY = {CNN: "ReLU", MLP_SIGMOID: "sigmoid"}
PROBED_FEATURE = {CNN: "Channel of the last convolution",
                  MLP_SIGMOID: "Unit of the last hidden layer"}


def relu_input_frame(relu_inputs: pd.DataFrame, mode: str, model: str | None = None
                     ) -> pd.DataFrame:
    """What `relu_input_chart` draws: the first seed's percentiles in ``mode``, of ``model``
    alone when one is named."""
    data = relu_inputs[(relu_inputs["seed"] == relu_inputs["seed"].min())
                       & (relu_inputs["mode"] == mode)]
    return data if model is None else data[data["model"] == model]


def relu_input_chart(relu_inputs: pd.DataFrame, mode: str = "training", width: int = 260,
                     height: int = 150, model: str | None = None, architecture: str = CNN,
                     steps_per_epoch: int | None = None, marker: int | None = None
                     ) -> alt.FacetChart:
    """Per model (columns) and probed channel or unit (rows): the 15th–85th percentile band
    and the median of what the last nonlinearity receives (the CNN's last ReLU, the MLP's last
    sigmoid), over epochs, in one BN mode; only ``model``'s column when one is named (the
    page draws one chart per model, side by side). With ``steps_per_epoch`` the x-axis counts
    training steps instead (the probe runs at the end of each epoch), as Ioffe & Szegedy's
    Fig. 1 does. ``marker``: an epoch to mark (the page's scrubber).

    Each panel has its own y-scale: the raw-pixel baseline's values are tens of times
    larger than a normalised model's and would flatten them on a shared one. With
    several seeds, the first seed's run is drawn (percentiles of different runs do not
    average meaningfully).
    """
    data = relu_input_frame(relu_inputs, mode, model)
    if steps_per_epoch is not None:
        data = data.assign(step=data["epoch"] * steps_per_epoch)
        x = alt.X("step:Q", title="Training step", axis=alt.Axis(format="~s"))
    else:
        x = alt.X("epoch:Q", title="Epoch", axis=alt.Axis(format="d", tickMinStep=1))
    when = "step:Q" if steps_per_epoch is not None else "epoch:Q"
    nonlinearity = PROBED_NONLINEARITY[architecture]
    # Layers carry no data of their own, so the facet splits them by model and channel.
    base = alt.Chart().encode(x=x)
    band = base.mark_area(opacity=0.3).encode(
        y=alt.Y("p15:Q", title=f"Input to the last {nonlinearity}",
                scale=alt.Scale(zero=False)),
        y2="p85:Q",
        tooltip=[when, "channel:N", alt.Tooltip("p15:Q", format=".3f"),
                 alt.Tooltip("p50:Q", format=".3f"), alt.Tooltip("p85:Q", format=".3f")],
    )
    # Thousands of epochs (the MLP's) would bury the line under its points.
    point = alt.OverlayMarkDef(size=14) if data["epoch"].nunique() <= 300 else False
    median = base.mark_line(point=point).encode(
        y="p50:Q", tooltip=[when, alt.Tooltip("p50:Q", title="median", format=".3f")])
    zero = alt.Chart().mark_rule(strokeDash=[3, 3], color=REFERENCE_COLOUR).encode(y=alt.datum(0))
    row = alt.Row("channel:N", title=PROBED_FEATURE[architecture])
    drawn = [band, median, zero]
    if marker is not None:  # inside a facet a layer takes the facet's data: a datum it is
        at = marker * steps_per_epoch if steps_per_epoch is not None else marker
        drawn.append(alt.Chart().mark_rule(color=MARKER_COLOUR, strokeDash=[4, 3],
                                           strokeWidth=1.5).encode(x=alt.datum(at)))
    layers = alt.layer(*drawn).properties(width=width, height=height)
    if model is not None:  # one model's column, named by its title (the page says the mode)
        return layers.facet(row=row, data=data, title=model).resolve_scale(y="independent")
    return layers.facet(
        column=alt.Column("model:N", title=None, sort=list(data["model"].unique())),
        row=row,
        data=data,
        title=f"Input to the last {nonlinearity}, {RELU_INPUT_MODES[mode]}",
    ).resolve_scale(y="independent")


def bn_layers_chart(bn_layers: pd.DataFrame, width: int = 200,
                    columns: int = 4) -> alt.FacetChart:
    """Each normalising layer's gamma, beta, moving mean and moving variance, one tick per
    feature (at most `MAX_TICKS_PER_LAYER` a layer), in ``columns`` panels a row."""
    long = thin_features(bn_layers).melt(id_vars=["model", "layer", "feature"],
                          value_vars=["gamma", "beta", "moving_mean", "moving_variance"],
                          var_name="quantity", value_name="value")
    return (
        alt.Chart(long)
        .mark_tick(thickness=1.5, opacity=0.6)
        .encode(
            x=alt.X("value:Q", title=None, scale=alt.Scale(zero=False)),
            y=alt.Y("layer:N", title=None),
            color=alt.Color("layer:N", legend=None),
            tooltip=["layer:N", "feature:Q", "quantity:N", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(width=width, height=90)
        .facet(facet=alt.Facet("quantity:N", title=None,
                               sort=["gamma", "beta", "moving_mean", "moving_variance"]),
               columns=columns)
        .resolve_scale(x="independent")
    )


def bn_modes_chart(bn_modes: pd.DataFrame) -> alt.LayerChart:
    """Test accuracy with batch statistics per evaluation batch size, against moving averages."""
    training = bn_modes[bn_modes["mode"].str.startswith("training")].copy()
    training["batch"] = training["batch_size"].astype(str)
    inference = bn_modes[bn_modes["mode"].str.startswith("inference")]
    bars = alt.Chart(training).mark_bar().encode(
        x=alt.X("batch:N", title="Evaluation batch size (batch statistics)",
                sort=list(training["batch"])),
        y=alt.Y("accuracy:Q", title="Test accuracy", scale=alt.Scale(domain=[0, 1])),
        tooltip=["mode:N", "batch_size:Q", alt.Tooltip("accuracy:Q", format=".3f")],
    )
    rule = alt.Chart(inference).mark_rule(color=ACCENT_COLOUR, strokeWidth=2).encode(
        y="accuracy:Q", tooltip=["mode:N", alt.Tooltip("accuracy:Q", format=".3f")])
    label = rule.mark_text(align="left", dx=4, dy=-6, color=ACCENT_COLOUR).encode(
        text=alt.value("moving averages (inference)"), x=alt.value(0))
    return (bars + rule + label).properties(height=240, width=380)


def sweep_chart(sweep: pd.DataFrame) -> alt.LayerChart:
    """Best test accuracy against learning rate, one line per model; diverged runs marked."""
    data = sweep.assign(shown=sweep["best_test_accuracy"].fillna(0.0))
    models = list(sweep["model"].unique())
    base = alt.Chart(data).encode(
        x=alt.X("learning_rate:Q", title="Learning rate", scale=alt.Scale(type="log")),
        y=alt.Y("shown:Q", title="Best test accuracy", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model:N", title="Model", sort=models,
                        scale=alt.Scale(domain=models, range=[
                            SERIES_COLOURS[i % 2][0] for i in range(len(models))])),
        tooltip=["model:N", alt.Tooltip("learning_rate:Q", format="g"), "outcome:N",
                 alt.Tooltip("best_test_accuracy:Q", format=".3f"), "epochs_run:Q"],
    )
    # The models' lines told apart by dash as well as hue (shape tells the outcome here).
    lines = base.mark_line().encode(strokeDash=alt.StrokeDash(
        "model:N", title="Model", sort=models,
        scale=alt.Scale(domain=models, range=[list(STROKE_DASHES.values())[i % 2]
                                              for i in range(len(models))])))
    points = base.mark_point(size=90, filled=True).encode(
        shape=alt.Shape("outcome:N", title="Outcome",
                        scale=alt.Scale(domain=list(OUTCOMES),
                                        range=["circle", "triangle-up", "square", "cross"])))
    return (lines + points).properties(width=460, height=260)


LANDSCAPE_PANELS = (
    ("loss_min", "loss_max", "Loss along the gradient, L(w − ηg)", "Loss (min–max over η)"),
    ("grad_change_min", "grad_change_max", "Gradient predictiveness, ‖∇L(w − ηg) − g‖",
     "Change of the gradient (min–max over η)"),
    ("beta_smoothness", None, "Effective β-smoothness", "max over η of change / ‖ηg‖"),
)


def landscape_chart(landscape: pd.DataFrame, width: int = 240,
                    height: int = 220) -> alt.HConcatChart:
    """Santurkar et al.'s Fig. 4, for this run: per probed training step and model, the range
    of the loss and of the gradient's change over the step sizes (bands), and the effective
    β-smoothness (lines). Log scales: a raw-pixel baseline's values are orders of magnitude
    above a BN model's. With several seeds, the first seed's run is drawn."""
    return alt.hconcat(*landscape_panels(landscape, width, height)).configure_legend(
        orient="bottom")


def landscape_frame(landscape: pd.DataFrame, panel: int | None = None) -> pd.DataFrame:
    """What `landscape_panels` draws: the first seed's probes along the step taken, with
    infinities (a step that blew the loss up) as missing values, which Vega-Lite leaves out;
    only the columns of one panel (`LANDSCAPE_PANELS`) when ``panel`` is given."""
    first = landscape[(landscape["seed"] == landscape["seed"].min())
                      & (landscape["direction"] == "update")]
    data = first.replace([np.inf, -np.inf], np.nan)
    if panel is None:
        return data
    low, high, _, _ = LANDSCAPE_PANELS[panel]
    return data[["model", "epoch", "step", low] + ([high] if high else [])]


def landscape_panels(landscape: pd.DataFrame, width: int | str = 240,
                     height: int = 220, marker: tuple[int, int] | None = None
                     ) -> list[alt.LayerChart | alt.Chart]:
    """The three panels of `landscape_chart`, each a chart of its own (the page puts them in
    columns that stack on a phone): the first seed's probes along the step the optimizer
    took (``direction`` ``update``). ``marker``: (epoch, its last step) to mark."""
    data = landscape_frame(landscape)
    models = list(data["model"].unique())
    colour = alt.Color("model:N", title="Model", sort=models,
                       scale=alt.Scale(domain=models,
                                       range=[SERIES_COLOURS[i % 2][0]
                                              for i in range(len(models))]),
                       legend=alt.Legend(symbolOpacity=1))
    # Each probe a point in its model's shape: the legend (colour and shape on one field)
    # then tells the models apart by more than hue.
    shape = alt.Shape("model:N", title="Model", sort=models, scale=alt.Scale(
        domain=models, range=[MODEL_SHAPES[i % 2] for i in range(len(models))]))
    panels = []
    for low, high, title, axis in LANDSCAPE_PANELS:
        base = alt.Chart(data).encode(x=alt.X("step:Q", title="Training step"), color=colour)
        y = alt.Y(f"{low}:Q", title=axis, scale=alt.Scale(type="log"))
        tooltip = ["model:N", "step:Q", "epoch:Q", alt.Tooltip(f"{low}:Q", format=".4g"),
                   alt.Tooltip("distance:Q", title="step length", format=".3g")]
        points = base.mark_point(size=14, filled=True).encode(y=y, shape=shape, tooltip=tooltip)
        if high is None:
            panel = base.mark_line().encode(y=y, tooltip=tooltip) + points
        else:
            tooltip.append(alt.Tooltip(f"{high}:Q", format=".4g"))
            band = base.mark_area(opacity=0.35).encode(y=y, y2=f"{high}:Q", tooltip=tooltip)
            # each probe's own min–max as a tick, so a run with few probes still shows them
            ticks = base.mark_rule(opacity=0.8).encode(y=y, y2=f"{high}:Q", tooltip=tooltip)
            panel = band + ticks + points
        if marker is not None:
            panel = panel + epoch_marker("step", marker[1], f"after epoch {marker[0]}")
        panels.append(panel.properties(title=title, width=width, height=height))
    return panels


def fit_width(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """``chart`` (one view or layers) as wide as the page's column that holds it, its legends
    below it: a fixed width runs off a phone's screen, a legend on the right off a narrow
    column's edge. Only for the page: an image needs a width of its own."""
    return chart.properties(
        width="container", autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    ).configure_legend(orient="bottom")


def vega_lite_spec(chart: alt.TopLevelMixin) -> dict:
    """``chart`` as a validated Vega-Lite specification whose datasets are DataFrames.

    Why: building and validating an Altair chart costs about a tenth of a second, the
    most expensive part of showing a finished result; the specification is built once
    per result and handed to every viewer (`st.vega_lite_chart` takes it as it is).
    """
    spec = chart.to_dict()
    # Altair's default theme sizes every view at 300 px; the page (like Streamlit's own
    # Altair conversion, which switches that theme off) leaves the sizing to the layout.
    if alt.theme.active == "default":
        view = spec.get("config", {}).get("view", {})
        for setting in ("continuousWidth", "continuousHeight"):
            view.pop(setting, None)
        if not view:
            spec.get("config", {}).pop("view", None)
        if not spec.get("config", True):
            del spec["config"]
    spec["datasets"] = {name: pd.DataFrame.from_records(rows)
                        for name, rows in spec.get("datasets", {}).items()}
    return spec


def described_spec(chart: alt.TopLevelMixin, description: str) -> dict:
    """`vega_lite_spec` of ``chart`` labelled by ``description`` (`bnviz.describe`) for
    assistive technology: Vega makes it the chart's ``aria-label``, and the marks and axes
    are left out of the accessibility tree (Vega-Lite's ``aria`` off, for the config and
    every mark), where a facet's panels would be images without names and each mark a
    node without meaning. (Set on the dict: Altair's ``configure`` would drop the chart's
    other configuration.)"""
    spec = vega_lite_spec(chart)
    spec["description"] = description
    config = spec.setdefault("config", {})
    config["aria"] = False
    config["mark"] = {**config.get("mark", {}), "aria": False}
    # Streamlit's chart theme greys axis and legend text to #808495 (3.8:1 on white): AA
    # asks 4.5:1 of text, so the chart's own words are set darker, over the theme.
    for part, keys in CHART_TEXT.items():
        config[part] = {**{key: CHART_TEXT_COLOUR for key in keys}, **config.get(part, {})}
    return spec


CHART_TEXT_COLOUR = "#595959"  # 7.0:1 on white
CHART_TEXT = {"axis": ("labelColor", "titleColor"), "legend": ("labelColor", "titleColor"),
              "header": ("labelColor", "titleColor")}


def png_image(pixels: np.ndarray) -> bytes:
    """A greyscale image (height × width, uint8) as PNG bytes."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """The chart as PNG bytes (rendered by vl-convert, no browser needed)."""
    import vl_convert

    return vl_convert.vegalite_to_png(chart.to_json(), scale=scale)


def parameters_frame(layer_tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per model, its trainable and non-trainable parameter counts: `parameters_chart`'s data."""
    rows = []
    for model, table in layer_tables.items():
        rows.append({"model": model, "kind": "trainable", "count": int(table["trainable"].sum())})
        rows.append({"model": model, "kind": "non-trainable",
                     "count": int(table["non_trainable"].sum())})
    return pd.DataFrame(rows)


def parameters_chart(layer_tables: dict[str, pd.DataFrame]) -> alt.Chart:
    """Trainable and non-trainable parameters per model, as stacked bars."""
    frame = parameters_frame(layer_tables)
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


# Per model: each test image's predicted class and its confidence in [0, 1]
# (`bnviz.comparison.ComparisonResult.answers_at`).
Answers = dict[str, tuple[np.ndarray, np.ndarray]]


def predictions_frame(labels: np.ndarray, answers: Answers) -> pd.DataFrame:
    """Per test image: true class, and each model's predicted class and confidence."""
    frame = pd.DataFrame({"index": np.arange(len(labels)),
                          "true": [CLASS_NAMES[i] for i in labels]})
    for model, (predicted, confidence) in answers.items():
        frame[f"{model} predicted"] = [CLASS_NAMES[i] for i in predicted]
        frame[f"{model} confidence"] = confidence
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


def confusion_frame(labels: np.ndarray, answers: Answers) -> pd.DataFrame:
    """Counts of (true, predicted) class pairs per model, all 100 cells present."""
    rows = []
    for model, (predicted, _) in answers.items():
        counts = np.zeros((len(CLASS_NAMES),) * 2, dtype=int)
        np.add.at(counts, (labels, predicted), 1)
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


def confusion_table(frame: pd.DataFrame, model: str) -> pd.DataFrame:
    """One model's confusion counts as a table: a row per true class, a column per
    predicted class (`confusion_chart`'s cells)."""
    data = frame[frame["model"] == model]
    table = data.pivot(index="true", columns="predicted", values="count")
    return table.reindex(index=CLASS_NAMES, columns=CLASS_NAMES).rename_axis(
        index="true class", columns=None).reset_index()


def per_class_accuracy(confusion: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per true class and model, from a `confusion_frame`."""
    hits = confusion[confusion["true"] == confusion["predicted"]]
    table = hits.pivot(index="true", columns="model", values="share")
    return table.reindex(CLASS_NAMES)


def paired_difference_chart(frame: pd.DataFrame, statistic: str,
                            width: int | str = 300) -> alt.LayerChart:
    """One headline statistic of a `bnviz.summary.paired_difference_frame`: each seed's
    difference (normalised model − baseline) as a dot, and below them the mean difference
    with its interval; a dashed line at zero (no difference). Every mark has a tooltip."""
    data = frame[frame["statistic"] == statistic]
    accuracy = "accuracy" in statistic
    number = ".3f" if accuracy else ".1f"
    title = f"Difference in {HEADLINE_STATISTICS.get(statistic, statistic)}"
    rows = ["each seed", "mean, interval"]
    y = alt.Y("row:N", title=None, sort=rows, scale=alt.Scale(domain=rows))
    x = alt.X("difference:Q", title=title, scale=alt.Scale(zero=True, nice=True))
    seeds = alt.Chart(data.assign(row="each seed")).mark_circle(size=90, opacity=0.8).encode(
        x=x, y=y, tooltip=[alt.Tooltip("seed:O", title="seed"),
                           alt.Tooltip("baseline:Q", title="baseline", format=number),
                           alt.Tooltip("normalized:Q", title="normalised model", format=number),
                           alt.Tooltip("difference:Q", title="difference", format="+" + number)])
    summary = data.drop_duplicates("statistic").assign(row="mean, interval",
                                                       difference=lambda f: f["mean"])
    interval_tooltip = [alt.Tooltip("mean:Q", title="mean difference", format="+" + number),
                        alt.Tooltip("low:Q", title="interval from", format="+" + number),
                        alt.Tooltip("high:Q", title="interval to", format="+" + number),
                        alt.Tooltip("pairs:Q", title="seeds counted"),
                        alt.Tooltip("clear:N", title="clear")]
    interval = alt.Chart(summary).mark_rule(strokeWidth=3, color=ACCENT_COLOUR).encode(
        x=alt.X("low:Q", title=title), x2="high:Q", y=y, tooltip=interval_tooltip)
    mean = alt.Chart(summary).mark_point(size=120, filled=True, shape="diamond",
                                         color=ACCENT_COLOUR).encode(x=x, y=y,
                                                                 tooltip=interval_tooltip)
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(
        strokeDash=[4, 3], color=REFERENCE_COLOUR).encode(
        x="zero:Q", tooltip=[alt.Tooltip("zero:Q", title="no difference")])
    return (zero + interval + seeds + mean).properties(width=width, height=90)
