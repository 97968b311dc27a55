"""What the charts' descriptions (`bnviz.describe`) tell a student who cannot see the marks.

Two kinds of data: small frames built by hand, whose facts (who reached 90 % first, the
lowest loss, the rates a model broke at) are known by construction, and the gallery's stored
blog result, whose facts each test works out on its own with pandas and numpy from the
result's frames, never from a number `bnviz.describe` computed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bnviz import describe
from bnviz.charts import LANDSCAPE_PANELS, parameters_frame
from bnviz.comparison import ComparisonRequest, ComparisonResult
from bnviz.config import ExperimentConfig
from bnviz.data import CLASS_NAMES
from bnviz.gallery import Gallery
from bnviz.summary import OUTCOMES, paired_difference_frame
from bnviz.sweep import SWEEP_COLUMNS

BASELINE, BN = "baseline", "BN after"
HISTORY_METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def history(curves: dict[str, dict[str, list[list[float]]]]) -> pd.DataFrame:
    """A history frame: ``curves[model][column]`` holds one list of per-epoch values per
    seed; a metric left out is 0.5 throughout."""
    rows = []
    for model, columns in curves.items():
        runs = next(iter(columns.values()))
        for seed, run in enumerate(runs, start=1):
            for index in range(len(run)):
                row = {"model": model, "seed": seed, "epoch": index + 1, "seconds": 1.0}
                row.update({metric: columns[metric][seed - 1][index] if metric in columns
                            else 0.5 for metric in HISTORY_METRICS})
                rows.append(row)
    return pd.DataFrame(rows)


# Two seeds, six epochs. The seed means of train accuracy: BN after 0.45, 0.75, 0.91, …, 0.97
# (90 % first at epoch 3); baseline 0.25, 0.45, 0.65, 0.86, 0.91, 0.93 (at epoch 5, although
# its first seed alone gets there at epoch 4). Test loss means: the baseline's lowest is
# 0.500 at epoch 4, BN after's 0.400 at epoch 2. Last epoch means: test accuracy 0.800 and
# 0.850, test loss 0.900 and 0.800 (baseline, BN after).
TWO_SEEDS = history({
    BASELINE: {
        "train_accuracy": [[0.3, 0.5, 0.7, 0.92, 0.95, 0.96], [0.2, 0.4, 0.6, 0.8, 0.87, 0.90]],
        "test_accuracy": [[0.3, 0.5, 0.6, 0.7, 0.75, 0.82], [0.2, 0.4, 0.6, 0.7, 0.75, 0.78]],
        "test_loss": [[1.2, 1.0, 0.8, 0.4, 0.7, 0.9], [1.2, 1.0, 0.8, 0.6, 0.7, 0.9]],
    },
    BN: {
        "train_accuracy": [[0.5, 0.8, 0.92, 0.95, 0.97, 0.98], [0.4, 0.7, 0.9, 0.93, 0.96, 0.96]],
        "test_accuracy": [[0.5, 0.7, 0.8, 0.8, 0.8, 0.86], [0.4, 0.6, 0.8, 0.8, 0.8, 0.84]],
        "test_loss": [[0.9, 0.3, 0.6, 0.7, 0.8, 0.85], [0.9, 0.5, 0.6, 0.7, 0.8, 0.75]],
    },
})


def test_curves_say_when_each_model_first_reached_90_percent_on_the_seed_mean() -> None:
    said = describe.curves(TWO_SEEDS, "accuracy")
    assert "1 to 6" in said and "for baseline and BN after, mean of 2 seeds." in said
    assert "90 % training accuracy: baseline at epoch 5 and BN after at epoch 3." in said
    assert "After epoch 6: baseline 0.930 train, 0.800 test; BN after 0.970 train, 0.850 test." \
        in said


def test_curves_say_never_for_a_model_that_does_not_reach_90_percent() -> None:
    one_seed = history({BASELINE: {"train_accuracy": [[0.3, 0.6, 0.89]]},
                        BN: {"train_accuracy": [[0.5, 0.9, 0.95]]}})
    said = describe.curves(one_seed, "accuracy")
    assert "baseline never and BN after at epoch 2." in said
    assert "mean of" not in said  # one seed: no mean to speak of


def test_loss_curves_name_each_models_lowest_test_loss_and_its_epoch() -> None:
    said = describe.curves(TWO_SEEDS, "loss")
    assert "Lowest test loss: baseline 0.500 at epoch 4 and BN after 0.400 at epoch 2." in said
    assert "baseline 0.500 train, 0.900 test; BN after 0.500 train, 0.800 test." in said


@pytest.mark.parametrize("blown", [math.nan, math.inf])
def test_curves_say_a_diverged_value_is_not_a_number(blown: float) -> None:
    diverged = history({BASELINE: {"train_loss": [[2.0, 1.5, blown]],
                                   "test_loss": [[2.1, 1.6, blown]]},
                        BN: {"train_loss": [[1.0, 0.5, 0.3]], "test_loss": [[1.1, 0.7, 0.6]]}})
    said = describe.curves(diverged, "loss")
    assert ("After epoch 3: baseline not a number (the run diverged) train, not a number "
            "(the run diverged) test; BN after 0.300 train, 0.600 test.") in said
    assert "BN after 0.600 at epoch 3" in said
    assert "nan" not in said.lower().replace("not a number", "")
    assert "inf" not in said


def sweep_table(rows: list[tuple[str, float, float, str]]) -> pd.DataFrame:
    """A sweep's table (`SWEEP_COLUMNS`) from (model, rate, best test accuracy, outcome)."""
    assert all(outcome in OUTCOMES for *_, outcome in rows)
    return pd.DataFrame([{"model": model, "learning_rate": rate, "best_test_accuracy": best,
                          "diverged": outcome == "diverged", "outcome": outcome,
                          "epochs_run": 10} for model, rate, best, outcome in rows],
                        columns=list(SWEEP_COLUMNS))


def test_sweep_names_each_models_best_rate_and_the_rates_it_broke_at() -> None:
    table = sweep_table([
        (BASELINE, 1e-4, 0.80, "trained"), (BN, 1e-4, 0.78, "trained"),
        (BASELINE, 1e-3, 0.85, "trained"), (BN, 1e-3, 0.86, "trained"),
        (BASELINE, 1e-2, 0.10, "stuck at chance"), (BN, 1e-2, 0.87, "trained"),
        (BASELINE, 1e-1, math.nan, "diverged"), (BN, 1e-1, 0.30, "still learning"),
    ])
    said = describe.sweep(table)
    assert "(log scale, 0.0001 to 0.1)" in said
    assert "baseline best 0.850 at 0.001, broke at 0.01, 0.1;" in said
    assert said.endswith("BN after best 0.870 at 0.01, broke at 0.1.")


def test_sweep_says_a_model_that_diverged_everywhere_trained_at_no_rate() -> None:
    table = sweep_table([(BASELINE, 0.1, math.nan, "diverged"), (BN, 0.1, 0.84, "trained"),
                         (BASELINE, 1.0, math.nan, "diverged"), (BN, 1.0, 0.81, "trained")])
    said = describe.sweep(table)
    assert "baseline trained at no rate, broke at 0.1, 1;" in said
    assert said.endswith("BN after best 0.840 at 0.1.")  # it broke nowhere


@pytest.fixture(scope="module")
def blog() -> ComparisonResult:
    """The gallery's stored blog result (five seeds, 100 epochs)."""
    gallery = Gallery()
    result = gallery.load(ComparisonRequest(gallery.preset_config(ExperimentConfig())))
    assert result is not None, "the gallery's blog result is missing"
    return result


def seed_means(blog: ComparisonResult, column: str) -> pd.DataFrame:
    """Per epoch (rows) and model (columns), ``column``'s mean over the seeds."""
    return blog.history.groupby(["epoch", "model"])[column].mean().unstack("model")


def test_blog_accuracy_curves(blog: ComparisonResult) -> None:
    said = describe.curves(blog.history, "accuracy")
    seeds = blog.history["seed"].nunique()
    last = int(blog.history["epoch"].max())
    assert f"1 to {last}" in said and f"mean of {seeds} seeds" in said
    train, test = seed_means(blog, "train_accuracy"), seed_means(blog, "test_accuracy")
    for model in blog.models:
        reached = train.index[train[model] >= 0.9]
        assert f"{model} at epoch {reached[0]}" in said
        assert f"{model} {train[model].loc[last]:.3f} train, {test[model].loc[last]:.3f} test" \
            in said


def test_blog_loss_curves_name_the_lowest_test_loss(blog: ComparisonResult) -> None:
    said = describe.curves(blog.history, "loss")
    test = seed_means(blog, "test_loss")
    for model in blog.models:
        assert f"{model} {test[model].min():.3f} at epoch {test[model].idxmin()}" in said


def test_blog_paired_differences(blog: ComparisonResult) -> None:
    frame = paired_difference_frame(blog.summary())
    for statistic, rows in frame.groupby("statistic"):
        said = describe.paired_difference(frame, statistic)
        places = 3 if "accuracy" in statistic else 1
        each = ", ".join(f"{value:+.{places}f}" for value in rows["difference"])
        assert f"per seed: {each}." in said
        assert f"over {len(rows)} seeds" in said
        low, high = rows["low"].iloc[0], rows["high"].iloc[0]
        clear = low > 0 or high < 0
        assert ("a clear difference" in said) == clear
        assert ("no clear difference" in said) == (not clear)


def test_blog_parameters_give_each_models_totals(blog: ComparisonResult) -> None:
    said = describe.parameters(blog.layer_tables)
    bars = parameters_frame(blog.layer_tables).pivot(index="model", columns="kind",
                                                     values="count")
    for model, table in blog.layer_tables.items():
        total = int(table["params"].sum())
        trainable, fixed = bars.loc[model, "trainable"], bars.loc[model, "non-trainable"]
        assert trainable + fixed == total  # the stacked bar is as long as the total said
        assert f"{model} {total:,} ({trainable:,} trainable, {fixed:,} non-trainable)" in said
    assert max(int(table["params"].sum()) for table in blog.layer_tables.values()) >= 1000


@pytest.mark.parametrize("model", [BASELINE, BN])
def test_blog_confusion_gives_the_diagonal_and_the_most_confused_pair(
        blog: ComparisonResult, model: str) -> None:
    from bnviz.charts import confusion_frame

    labels = np.asarray(blog.test_labels)
    predicted = np.asarray(blog.answers_at(blog.final_epoch)[model][0])
    said = describe.confusion(confusion_frame(labels, blog.answers_at(blog.final_epoch)), model)
    right = int((labels == predicted).sum())
    assert f"{right:,} of {len(labels):,} test images ({right / len(labels):.0%})" in said
    pairs = pd.crosstab(labels, predicted)
    wrong = pairs.where(pairs.index.to_numpy()[:, None] != pairs.columns.to_numpy()[None, :])
    most = int(wrong.max().max())
    worst = [f"{CLASS_NAMES[t]} taken for {CLASS_NAMES[p]}, {most} times."
             for t, p in zip(*np.nonzero(wrong.to_numpy() == most), strict=True)]
    assert any(pair in said for pair in worst), (worst, said)
    per_class = pd.Series(labels == predicted).groupby(labels).mean()
    weakest = [CLASS_NAMES[c] for c in per_class.index[per_class == per_class.min()]]
    assert any(f"Weakest class: {name} ({per_class.min():.0%} right)" in said
               for name in weakest)


def test_blog_bn_modes_give_accuracy_per_batch_size(blog: ComparisonResult) -> None:
    modes, _ = blog.bn_modes_at(blog.final_epoch)
    said = describe.bn_modes(modes)
    training = modes[modes["mode"].str.startswith("training")]
    sizes = sorted(training["batch_size"])
    assert len(sizes) > 1
    places = [said.index(f"batch {size} ") for size in sizes]
    assert places == sorted(places)  # smallest batch first, as the bars
    for row in training.itertuples():
        assert f"batch {row.batch_size} {row.accuracy:.1%}" in said
    inference = modes[modes["mode"].str.startswith("inference")]["accuracy"].iloc[0]
    assert f"(inference mode): {inference:.1%}." in said


@pytest.mark.parametrize("panel", range(len(LANDSCAPE_PANELS)))
def test_blog_landscape_counts_the_probes(blog: ComparisonResult, panel: int) -> None:
    low, _, title, _ = LANDSCAPE_PANELS[panel]
    said = describe.landscape(blog.landscape, panel)
    probes = blog.landscape[(blog.landscape["seed"] == blog.landscape["seed"].min())
                            & (blog.landscape["direction"] == "update")]
    steps = probes["step"]
    assert said.startswith(f"{title}, log scale, {steps.nunique()} probes from step "
                           f"{steps.min()} to {steps.max()}")
    for model in blog.models:
        runs = probes[probes["model"] == model].sort_values("step")
        assert (f"{model} from {runs[low].iloc[0]:.3g} at step {runs['step'].iloc[0]} to "
                f"{runs[low].iloc[-1]:.3g} at step {runs['step'].iloc[-1]}") in said
    assert "Median over the probes" in said


def test_blog_bn_layers_give_features_and_ranges_per_layer(blog: ComparisonResult) -> None:
    layers, _ = blog.bn_layers_at(blog.final_epoch)
    said = describe.bn_layers(layers)
    counts = layers["layer"].value_counts()
    for layer, count in counts.items():
        assert f"{layer} {count}" in said
    for column, name in (("gamma", "γ"), ("moving_variance", "moving variance")):
        ranges = layers.groupby("layer", sort=False)[column].agg(["min", "max"])
        spans = ", ".join(f"{layer} {row['min']:.2f} to {row['max']:.2f}"
                          for layer, row in ranges.iterrows())
        assert f"{name}: {spans}" in said


def test_blog_relu_inputs_describe_the_first_seed(blog: ComparisonResult) -> None:
    inputs = blog.relu_inputs
    first = inputs[(inputs["seed"] == inputs["seed"].min()) & (inputs["mode"] == "training")
                   & (inputs["model"] == BN)]
    said = describe.relu_inputs(inputs, "training", BN, "ReLU")
    start, end = first["epoch"].min(), first["epoch"].max()
    assert said.startswith(f"Input to the last ReLU of {BN} (first seed), training mode, "
                           f"{first['channel'].nunique()} channels, epochs {start} to {end}")
    at_end = first[first["epoch"] == end]
    assert (f"epoch {end}: medians {at_end['p50'].min():.2f} to {at_end['p50'].max():.2f}, "
            f"bands from {at_end['p15'].min():.2f} to {at_end['p85'].max():.2f}.") in said
    unprobed = inputs[inputs["mode"] != "training"]
    assert describe.relu_inputs(unprobed, "training", BN, "ReLU") == \
        f"Inside {BN}: nothing was probed in training mode."


def test_sweep_takes_the_best_rate_among_trained_runs_not_a_broken_one() -> None:
    # A run that diverged at 0.1 after a good start keeps its best epoch: not the best rate.
    table = sweep_table([(BASELINE, 1e-3, 0.83, "trained"), (BASELINE, 1e-1, 0.86, "diverged"),
                         (BN, 1e-3, 0.84, "trained"), (BN, 1e-1, 0.85, "trained")])
    assert "baseline best 0.830 at 0.001, broke at 0.1;" in describe.sweep(table)


def test_a_difference_of_one_pair_says_it_has_too_few_seeds_for_an_interval(
        blog: ComparisonResult) -> None:
    summary = blog.summary()
    lost = (summary["model"] == BASELINE) & (summary["seed"] != summary["seed"].min())
    summary.loc[lost, "epochs_to_90_train"] = math.nan  # only the first seed's pair counts
    frame = paired_difference_frame(summary)
    said = describe.paired_difference(frame, "epochs_to_90_train")
    assert "from 1 seed: too few for an interval." in said
    assert "nan" not in said


def test_a_probe_that_blew_up_is_said_in_words(blog: ComparisonResult) -> None:
    landscape = blog.landscape.copy()
    first = landscape["step"] == landscape["step"].min()
    landscape.loc[first, "loss_min"] = math.inf
    said = describe.landscape(landscape, 0)
    assert "from not a number (the run diverged) at step" in said
    assert "nan" not in said.replace("not a number", "")
