"""Ioffe & Szegedy's own network (`architecture="mlp-sigmoid"`): its layers, its inputs, what
the Inside BN view probes in it, its work cap, and the CLI that trains it."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bnviz.config import CNN, MAX_WORK, MLP_SIGMOID, ConfigError, ExperimentConfig
from bnviz.data import make_split
from bnviz.inside import PERCENTILES, ReluInputProbe, percentiles_at_steps
from bnviz.models import build_model, param_counts
from bnviz.presets import PRESETS


@pytest.mark.parametrize(("placement", "total", "trainable", "frozen"), [
    # 784·100 + 100, 2 × (100·100 + 100), 100·10 + 10
    ("none", 99_710, 99_710, 0),
    # the hidden layers' biases dropped (3 × 100), three BN layers of 100 units (γ, β learned;
    # moving mean and variance kept)
    ("before", 100_610, 100_010, 600),
    # biases kept, BN after each sigmoid
    ("after", 100_910, 100_310, 600),
])
def test_parameter_counts_are_exact(placement, total, trainable, frozen):
    table = param_counts(placement, architecture=MLP_SIGMOID)
    assert table.params.sum() == total
    assert table.trainable.sum() == trainable
    assert table.non_trainable.sum() == frozen


def test_bn_stands_between_each_hidden_layer_and_its_sigmoid():
    names = [layer.name for layer in build_model("before", seed=0, architecture=MLP_SIGMOID).layers]
    assert names == ["flatten", "fc1", "bn1", "sigmoid1", "fc2", "bn2", "sigmoid2",
                     "fc3", "bn3", "sigmoid3", "dense", "softmax"]


def test_group_norm_splits_100_units_into_groups_that_divide_them():
    table = param_counts("before", "group", architecture=MLP_SIGMOID)
    assert list(table[table.type == "GroupNormalization"].params) == [200, 200, 200]


def test_the_same_seed_starts_both_models_from_the_same_weights():
    baseline = build_model("none", seed=4, architecture=MLP_SIGMOID)
    normalized = build_model("before", seed=4, architecture=MLP_SIGMOID)
    for name in ("fc1", "fc2", "fc3", "dense"):
        np.testing.assert_array_equal(baseline.get_layer(name).kernel.numpy(),
                                      normalized.get_layer(name).kernel.numpy())


def test_the_mlp_reads_binarised_pixels():
    raw = make_split("blog", 100, scale_pixels=False)
    binary = make_split("blog", 100, scale_pixels=True, binarize=True)
    assert set(np.unique(binary.x_train)) == {0.0, 1.0}
    np.testing.assert_array_equal(binary.x_train, (raw.x_train >= 128).astype(np.float32))
    np.testing.assert_array_equal(binary.y_test, raw.y_test)
    assert ExperimentConfig(architecture=MLP_SIGMOID).binarize
    assert not ExperimentConfig(architecture=MLP_SIGMOID).raw_pixels
    assert ExperimentConfig().raw_pixels


def test_the_probe_reads_what_the_last_sigmoid_receives():
    model = build_model("before", seed=1, architecture=MLP_SIGMOID)
    probe = ReluInputProbe(model)
    assert probe.nonlinearity == "sigmoid"
    assert probe.description == "bn3 output entering the last sigmoid"
    images = make_split("blog", 100, False, binarize=True).x_test[:64]
    rows = probe.percentiles(images)
    # In training mode BN standardises each unit over the batch (then γ = 1, β = 0): its
    # median sits near 0 and its 15th/85th percentiles near ∓1 (a normal's ±1.04).
    training = [row for row in rows if row["mode"] == "training"]
    for row in training:
        assert -0.5 < row["p50"] < 0.5 and -1.6 < row["p15"] < -0.5 < 0.5 < row["p85"] < 1.6
    assert ReluInputProbe(build_model("none", 1, architecture=MLP_SIGMOID)).description == (
        "fc3 output entering the last sigmoid")


def test_percentiles_at_steps_are_the_first_seeds_at_the_epoch_each_step_ends_in():
    rows = [{"model": model, "seed": seed, "epoch": epoch, "mode": mode, "channel": channel,
             **{f"p{q}": seed * 1000 + epoch + q / 100 for q in PERCENTILES}}
            for model in ("baseline", "BN before") for seed in (1, 2) for epoch in range(1, 41)
            for mode in ("training", "inference") for channel in (0, 11)]
    table = percentiles_at_steps(pd.DataFrame(rows), steps_per_epoch=50, steps=(1_000, 1_025,
                                                                                  9_999))
    # step 1,000 ends epoch 20; 1,025 falls in epoch 21; 9,999 is past the 40 epochs: left out
    assert sorted(table.step.unique()) == [1_000, 1_050]
    assert len(table) == 2 * 2 * 2  # models × channels × steps
    assert (table.p50[table.step == 1_000] == 1000 + 20 + 0.5).all()  # seed 1, epoch 20


def test_the_work_cap_counts_an_mlp_image_at_its_cost():
    preset = PRESETS["Ioffe & Szegedy's MLP"][0]
    assert preset.steps_per_epoch * preset.epochs == 50_000 and preset.batch_size == 60
    five_seeds = preset.replace(seeds=5)
    assert five_seeds.work <= MAX_WORK < five_seeds.epochs * five_seeds.train_size * 5
    with pytest.raises(ConfigError, match="an image's cost, mlp-sigmoid"):
        preset.replace(seeds=5, train_size=10_000)


def test_the_default_network_keeps_every_earlier_hash():
    assert ExperimentConfig().architecture == CNN
    assert ExperimentConfig().config_hash() == ExperimentConfig(architecture=CNN).config_hash()
    assert ExperimentConfig().config_hash() != ExperimentConfig(
        architecture=MLP_SIGMOID).config_hash()
    assert "architecture" not in ExperimentConfig().describe()


@pytest.mark.slow
def test_the_cli_trains_the_mlp(tmp_path):
    out = subprocess.run([sys.executable, "-m", "bnviz", "run", "--architecture", "mlp-sigmoid",
                          "--epochs", "2", "--landscape", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.model.unique()) == ["baseline", "BN after"] and len(history) == 4
    landscape = pd.read_csv(tmp_path / "landscape.csv")
    assert {"direction", "distance"} <= set(landscape.columns)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["architecture"] == "mlp-sigmoid"

