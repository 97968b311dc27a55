import json
import subprocess
import sys

import pandas as pd
import pytest

from bnviz.variants import VARIANTS


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "bnviz", *args], capture_output=True,
                          text=True, timeout=600, **kwargs)


@pytest.mark.slow
def test_params_prints_the_blogs_totals():
    out = _cli("params")
    assert out.returncode == 0, out.stderr
    assert "Total params: 31,626" in out.stdout
    assert "Total params: 33,930" in out.stdout
    assert "Trainable params: 32,778" in out.stdout
    assert "Non-trainable params: 1,152" in out.stdout


@pytest.mark.slow
def test_params_prints_the_counts_of_the_normalization_asked_for():
    out = _cli("params", "--normalization", "group")
    assert out.returncode == 0, out.stderr
    assert ("Model: GroupNorm after (placement=after, normalization=group, "
            "architecture=cnn)") in out.stdout
    # γ and β on 576 features after, 96 channels before; no moving statistics.
    assert "Total params: 32,778" in out.stdout  # 31,626 + 2 × 576
    assert "Total params: 31,722" in out.stdout  # 31,530 + 2 × 96
    assert "Non-trainable params: 0" in out.stdout and "BatchNormalization" not in out.stdout


@pytest.mark.slow
def test_params_prints_ioffe_and_szegedys_mlp():
    out = _cli("params", "--architecture", "mlp-sigmoid")
    assert out.returncode == 0, out.stderr
    assert "Model: BN after (placement=after, normalization=batch, architecture=mlp-sigmoid)" \
        in out.stdout
    for total in ("99,710", "100,910", "100,610"):  # baseline, after, before (tests/test_mlp)
        assert f"Total params: {total}" in out.stdout


@pytest.mark.slow
@pytest.mark.parametrize("normalization", list(VARIANTS))
def test_run_trains_every_normalization(tmp_path, normalization):
    from bnviz.models import model_label

    # The PNGs too where a variant draws differently: no mode comparison without moving
    # statistics (layer), extra layers (noisy).
    png = ("--png",) if normalization in ("layer", "noisy-batch") else ()
    out = _cli("run", "--normalization", normalization, "--epochs", "2", "--train-size", "200",
               *png, "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    if png:
        assert (tmp_path / "bn_modes.png").exists() == (
            VARIANTS[normalization].keeps_moving_statistics)
        assert (tmp_path / "curves.png").stat().st_size > 0
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history.model.unique()) == ["baseline", model_label("after", normalization)]
    assert len(history) == 4 and history.test_accuracy.between(0, 1).all()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["normalization"] == normalization


@pytest.mark.slow
def test_run_writes_history_and_summary(tmp_path):
    out = _cli("run", "--epochs", "2", "--train-size", "200", "--seed", "3",
               "--placement", "before", "--out", str(tmp_path / "run"))
    assert out.returncode == 0, out.stderr
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert len(history) == 4 and set(history.model) == {"baseline", "BN before"}
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["config"]["placement"] == "before"
    assert {m["model"] for m in summary["models"]} == {"baseline", "BN before"}
    assert "final_test_accuracy" in out.stdout


def test_data_names_the_source_and_the_blogs_first_labels():
    out = _cli("data")
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert lines["source"] == "bundled sample" or lines["source"].startswith("IDX files in /")
    assert lines["split"] == "blog, 1000 training images, 1000 test images"
    assert lines["first ten training labels"] == "[2, 1, 8, 4, 1, 9, 2, 2, 0, 2]"
    counts = [int(part.rsplit(" ", 1)[1]) for part in
              lines["training images per class"].split(", ")]
    assert len(counts) == 10 and sum(counts) == 1000
    official = _cli("data", "--split", "official", "--train-size", "300")
    assert "split: official, 300 training images, 1000 test images" in official.stdout


def test_bad_argument_is_one_line_and_nonzero(tmp_path):
    out = _cli("run", "--epochs", "0", "--out", str(tmp_path))
    assert out.returncode != 0
    assert out.stderr.strip() == "error: epochs: must be between 1 and 1000, not 0"


@pytest.mark.slow
def test_run_with_seeds_and_png(tmp_path):
    out = _cli("run", "--epochs", "2", "--train-size", "200", "--seeds", "2", "--png",
               "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    history = pd.read_csv(tmp_path / "history.csv")
    assert sorted(history.seed.unique()) == [1, 2] and len(history) == 8
    assert "±" in out.stdout
    for name in ("curves.png", "parameters.png", "relu_inputs.png", "bn_modes.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_run_with_landscape_writes_its_measures(tmp_path):
    out = _cli("run", "--epochs", "2", "--train-size", "200", "--landscape",
               "--landscape-every", "2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    landscape = pd.read_csv(tmp_path / "landscape.csv")
    assert list(landscape.columns) == [
        "model", "seed", "step", "epoch", "direction", "loss_min", "loss_max",
        "grad_change_min", "grad_change_max", "beta_smoothness", "distance"]
    assert set(landscape.model) == {"baseline", "BN after"}
    assert set(landscape.direction) == {"update", "gradient"} and (landscape.distance > 0).all()
    assert sorted(set(landscape.step)) == [0, 2, 4, 6]  # 4 steps an epoch, 2 epochs
    assert "probes per model" in out.stdout


def test_landscape_without_probes_is_refused(tmp_path):
    out = _cli("run", "--landscape", "--landscape-every", "0", "--out", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: landscape_every: --landscape needs probes")


@pytest.mark.slow
def test_sweep_lr_writes_the_table(tmp_path):
    out = _cli("sweep-lr", "--learning-rates", "1e-3,1", "--epochs", "1", "--train-size", "200",
               "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    sweep = pd.read_csv(tmp_path / "sweep.csv")
    assert list(sweep.columns[:4]) == ["model", "learning_rate", "best_test_accuracy", "diverged"]
    assert len(sweep) == 4


def test_sweep_lr_rejects_bad_rates(tmp_path):
    out = _cli("sweep-lr", "--learning-rates", "fast", "--out", str(tmp_path))
    assert out.returncode == 2 and "learning_rates" in out.stderr


@pytest.mark.slow
def test_ctrl_c_stops_a_run_and_writes_the_epochs_done(tmp_path):
    import signal
    import threading

    from tests.helpers import wait_for

    process = subprocess.Popen(
        [sys.executable, "-m", "bnviz", "run", "--epochs", "100", "--train-size", "256",
         "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    printed: list[str] = []

    def read() -> None:  # Keras' progress bar rewrites one line: read by character
        while character := process.stdout.read(1):
            printed.append(character)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    def epochs_shown() -> int:  # the progress bar's "done/200", whichever it printed last
        import re

        return max((int(n) for n in re.findall(r"(\d+)/200", "".join(printed))), default=0)

    wait_for(lambda: epochs_shown() >= 4, timeout=120)  # two epochs of each model
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    reader.join(10)
    errors = process.stderr.read()
    assert "stopping; the whole epochs done will be written" in errors
    assert "Traceback" not in errors
    summary = json.loads((tmp_path / "summary.json").read_text())
    stopped = summary["stopped"]
    assert stopped["seed"] == 1 and 2 <= stopped["epoch"] < 100
    assert f"stopped at epoch {stopped['epoch']} of 100 (Ctrl-C)" in errors
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 2 * stopped["epoch"]
