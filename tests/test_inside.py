"""Seeds, inside the network, BN's two modes, the learning-rate sweep, PNG export."""

import keras
import numpy as np
import pandas as pd
import pytest

from bnviz import charts
from bnviz.config import ConfigError, ExperimentConfig
from bnviz.data import make_split
from bnviz.inside import (
    MODE_BATCH_SIZES,
    PERCENTILES,
    PROBE_CHANNELS,
    PROBE_IMAGES,
    PROBE_MODES,
    ReluInputProbe,
    mode_accuracies,
)
from bnviz.landscape import MEASURES
from bnviz.link import read_link
from bnviz.models import build_model
from bnviz.snapshots import feature_steps
from bnviz.store import ResultsStore
from bnviz.summary import headline, seed_summary
from bnviz.sweep import SweepRequest
from bnviz.training import ModelTrainer, epoch_order, sweep_learning_rates, train_comparison
from tests.helpers import assert_identical


@pytest.fixture(scope="module")
def two_seeds() -> object:
    return train_comparison(ExperimentConfig(epochs=3, train_size=256, seeds=2, seed=7))


@pytest.mark.slow
def test_each_seed_gives_its_own_history(two_seeds):
    history = two_seeds.history
    assert sorted(history.seed.unique()) == [7, 8]
    curves = history.drop(columns="seconds").set_index(["model", "epoch"])
    first, second = curves[curves.seed == 7], curves[curves.seed == 8]
    assert not first["train_loss"].equals(second["train_loss"])


@pytest.mark.slow
def test_bands_hold_min_mean_max(two_seeds):
    bands = charts.curve_bands(two_seeds.history)
    assert (bands["seeds"] == 2).all()
    assert (bands["low"] <= bands["mean"]).all() and (bands["mean"] <= bands["high"]).all()
    assert (bands["low"] < bands["high"]).any()
    spec = charts.learning_curves(two_seeds.history).to_dict()
    assert spec["hconcat"][0]["layer"][0]["mark"]["type"] == "area"


@pytest.mark.slow
def test_seed_summary_and_headline_speak_of_spread(two_seeds):
    spread = seed_summary(two_seeds.summary())
    row = spread[(spread.model == "baseline") & (spread.statistic == "best_test_accuracy")]
    assert len(row) == 1 and row["seeds"].item() == 2
    best = two_seeds.summary().query("model == 'baseline'")["best_test_accuracy"]
    assert (row["low"].item(), row["high"].item()) == (best.min(), best.max())
    assert "Over 2 seeds" in headline(two_seeds.summary())


@pytest.mark.slow
def test_relu_input_percentiles_every_epoch_both_models_both_modes(two_seeds):
    relu = two_seeds.relu_inputs
    # epochs x models x seeds x probed channels x modes
    assert len(relu) == 3 * 2 * 2 * len(PROBE_CHANNELS) * len(PROBE_MODES)
    assert set(relu.model) == {"baseline", "BN after"} and set(relu["mode"]) == set(PROBE_MODES)
    columns = [f"p{q}" for q in PERCENTILES]
    assert (relu[columns[0]] <= relu[columns[1]]).all()
    assert (relu[columns[1]] <= relu[columns[2]]).all()
    # the baseline has no BN: both modes see the same values
    baseline = relu[relu.model == "baseline"].set_index(["seed", "epoch", "channel", "mode"])
    np.testing.assert_allclose(baseline.xs("training", level="mode")[columns],
                               baseline.xs("inference", level="mode")[columns], rtol=1e-5)
    spec = charts.relu_input_chart(relu, "training").to_dict()
    assert spec["facet"]["column"]["field"] == "model"
    assert spec["facet"]["row"]["field"] == "channel"
    assert spec["resolve"]["scale"]["y"] == "independent"
    assert "training mode" in spec["title"]
    # every layer takes the facet's data, so each panel shows only its own model and channel
    assert all("data" not in layer for layer in spec["spec"]["layer"])


def test_the_probe_sees_batch_statistics_in_training_mode_and_changes_nothing():
    model = build_model("before", seed=3)
    images = make_split("blog", 256, scale_pixels=False).x_test[:PROBE_IMAGES]
    state = [v.numpy().copy() for v in model.variables]
    rows = pd.DataFrame(ReluInputProbe(model).percentiles(images))
    for variable, value in zip(model.variables, state, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)  # moving averages put back
    training = rows[rows["mode"] == "training"]
    # BN before the ReLU, on the batch's own statistics, with gamma 1 and beta 0 at the
    # start: each channel is standardised, so its 15th/85th percentiles sit near ∓1.04
    # (a standard normal's), whatever the raw pixels' scale
    assert training["p15"].between(-1.3, -0.8).all() and training["p85"].between(0.8, 1.3).all()
    inference = rows[rows["mode"] == "inference"]
    assert (inference["p85"] - inference["p15"]).min() > 5  # moving averages still at 0 and 1


@pytest.mark.slow
def test_bn_layer_values_cover_every_feature(two_seeds):
    layers, epoch = two_seeds.bn_layers_at()
    assert epoch == two_seeds.config.epochs
    assert layers.groupby("layer").size().to_dict() == {"bn1": 32, "bn2": 32, "bn3": 512}
    assert (layers.moving_variance > 0).all()


@pytest.mark.slow
def test_inference_mode_matches_keras_evaluate_and_batch_of_one_collapses():
    config = ExperimentConfig(epochs=2, train_size=256)
    split = make_split(config.split, config.train_size, config.scale_pixels)
    trainer = ModelTrainer("after", config.batch_size, config.optimizer)
    trainer.start(3, config.learning_rate, split)
    for epoch in (1, 2):
        trainer.run_epoch(epoch_order(3, epoch, len(split.y_train)))
    model = trainer.model
    before = [v.numpy().copy() for v in model.non_trainable_variables]
    modes = mode_accuracies(model, split.x_test, split.y_test)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    _, evaluated = model.evaluate(split.x_test, keras.utils.to_categorical(split.y_test, 10),
                                  verbose=0)
    inference = modes[modes["mode"].str.startswith("inference")]["accuracy"].item()
    assert inference == pytest.approx(evaluated, abs=1e-6)
    by_batch = modes[modes["mode"].str.startswith("training")].set_index("batch_size")["accuracy"]
    assert list(by_batch.index) == list(MODE_BATCH_SIZES)
    # one image per batch: BN erases the information
    assert by_batch[1] < by_batch[max(MODE_BATCH_SIZES)]
    for variable, value in zip(model.non_trainable_variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)  # moving averages restored


@pytest.mark.slow
def test_huge_learning_rate_is_reported_as_diverged_not_raised(tmp_path):
    request = SweepRequest(ExperimentConfig(train_size=256), (1e-3, 1.0), epochs=2)
    result = sweep_learning_rates(request)
    table = result.table.set_index(["model", "learning_rate"])
    assert bool(table.loc[("baseline", 1.0), "diverged"])
    assert table.loc[("baseline", 1e-3), "outcome"] != "diverged"
    assert table.loc[("baseline", 1.0), "epochs_run"] <= 2
    assert len(result.table) == 4
    store = ResultsStore(tmp_path)
    store.save(request, result)
    pd.testing.assert_frame_equal(store.load(request).table, result.table, check_dtype=False)
    assert charts.sweep_chart(result.table).to_dict()["layer"]


def test_sweep_request_is_validated():
    with pytest.raises(ConfigError, match="learning_rates"):
        SweepRequest(ExperimentConfig(), (float("nan"),))
    with pytest.raises(ConfigError, match="epochs"):
        SweepRequest(ExperimentConfig(), (1e-3,), epochs=0)


@pytest.mark.slow
def test_png_export_is_a_real_png(two_seeds):
    png = charts.to_png(charts.learning_curves(two_seeds.history))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_work_cap_rejects_requests_that_are_too_large():
    with pytest.raises(ConfigError, match="cap"):
        ExperimentConfig(epochs=300, train_size=50_000)
    reading = read_link({"epochs": ["300"], "train_size": ["50000"], "seeds": ["10"]})
    assert reading.config.work <= 2_000_000
    assert reading.problems[0].name == "seeds"  # the first factor a link gives up


@pytest.mark.slow
def test_layer_norm_probes_find_one_mode_and_its_features_and_a_sweep_names_it(tiny_config):
    config = tiny_config.replace(normalization="layer", landscape_every=3)
    result = train_comparison(config)
    assert result.models == ["baseline", "LayerNorm after"]
    # No batch statistics anywhere: both modes of the ReLU probe see the very same values.
    relu = result.relu_inputs[result.relu_inputs.model == "LayerNorm after"]
    by_mode = {mode: rows[["p15", "p50", "p85"]].to_numpy()
               for mode, rows in relu.groupby("mode")}
    np.testing.assert_array_equal(by_mode["training"], by_mode["inference"])
    assert result.bn_modes.empty  # nothing to compare: the page says so
    layers, _ = result.bn_layers_at()
    sizes = layers.groupby("layer", sort=False).size()
    # Kept thinned to at most 512 a layer: every 9th of ln1's 12 × 12 × 32, every 3rd of
    # ln2's 6 × 6 × 32, all of ln3's 512.
    assert dict(sizes) == {"ln1": -(-12 * 12 * 32 // 9), "ln2": 6 * 6 * 32 // 3, "ln3": 512}
    assert feature_steps(layers) == {"ln1": 9, "ln2": 3}
    assert (layers.moving_variance == 1).all()  # none kept: drawn at what it means
    assert np.isfinite(result.landscape[list(MEASURES)].to_numpy()).all()
    sweep = sweep_learning_rates(SweepRequest(config.replace(normalization="group"),
                                              (1e-3,), epochs=1))
    assert list(sweep.table.model) == ["baseline", "GroupNorm after"]


@pytest.mark.parametrize("normalization", ["noisy-batch", "noise-only"])
def test_the_probe_puts_back_the_noises_random_state_and_sees_it_in_training_mode_only(
        normalization):
    # The noise-only control has no batch statistics, but its noise's random state moves at
    # every training-mode call: the probe must put it back, and its two modes differ.
    model = build_model("before", seed=3, normalization=normalization)
    images = make_split("blog", 256, scale_pixels=False).x_test[:PROBE_IMAGES]
    state = [v.numpy().copy() for v in model.variables]
    rows = pd.DataFrame(ReluInputProbe(model).percentiles(images))
    for variable, value in zip(model.variables, state, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)
    training, inference = (rows[rows["mode"] == mode].p50.to_numpy() for mode in PROBE_MODES)
    assert not np.allclose(training, inference)


@pytest.mark.slow
@pytest.mark.parametrize(("normalization", "modes"), [
    ("noisy-batch", 5),  # it keeps moving statistics: the mode comparison is drawn
    ("noise-only", 0),   # no BN: nothing to compare
])
def test_the_noisy_models_train_the_same_with_or_without_the_probes(tiny_config,
                                                                    normalization, modes):
    config = tiny_config.replace(normalization=normalization, epochs=3)
    probed = train_comparison(config.replace(landscape_every=2))
    plain = train_comparison(config.replace(landscape_every=0))
    assert_identical(probed.history.drop(columns="seconds"),
                     plain.history.drop(columns="seconds"))
    assert_identical(probed.relu_inputs, plain.relu_inputs)
    # The noise is there in training and not at inference: the probe's two modes differ.
    relu = plain.relu_inputs[plain.relu_inputs.model == plain.normalized_model]
    assert not np.allclose(relu[relu["mode"] == "training"].p50.to_numpy(),
                           relu[relu["mode"] == "inference"].p50.to_numpy())
    assert len(plain.bn_modes_at()[0]) == modes
    # The control has no BN layer: no values, but a table with BN's columns to read.
    layers, _ = plain.bn_layers_at()
    assert layers.empty == (normalization == "noise-only")
    assert {"layer", "gamma", "beta", "moving_mean", "moving_variance"} <= set(layers.columns)
