import numpy as np
import pandas as pd

from bnviz import charts
from bnviz.comparison import HISTORY_COLUMNS


def _history():
    rows = []
    for model, gain in (("baseline", 0.1), ("BN after", 0.2)):
        for epoch in (1, 2, 3):
            rows.append([model, 1, epoch, 0.5 + gain * epoch / 3, 1 / epoch, 0.4 + gain * epoch / 4,
                         1.2 / epoch, 0.1])
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def test_learning_curves_have_four_series_with_tooltips_and_legend_highlight():
    spec = charts.learning_curves(_history()).to_dict()
    accuracy, loss = spec["hconcat"]
    assert accuracy["title"] == "Accuracy" and loss["title"] == "Loss"
    frame = charts.curves_frame(_history())
    assert sorted(frame.series.unique()) == [
        "BN after · test", "BN after · train", "baseline · test", "baseline · train"]
    assert len(frame) == 2 * 3 * 4  # models x epochs x (accuracy, loss) x (train, test)
    assert {t["field"] for t in accuracy["encoding"]["tooltip"]} == {"series", "epoch", "mean"}
    assert spec["params"][0]["bind"] == "legend"


def test_parameters_chart_counts():
    tables = {"baseline": pd.DataFrame({"trainable": [10, 5], "non_trainable": [0, 0]}),
              "BN after": pd.DataFrame({"trainable": [10, 7], "non_trainable": [0, 2]})}
    spec = charts.parameters_chart(tables).to_dict()
    data = spec["datasets"][spec["data"]["name"]]
    assert {(d["model"], d["kind"]): d["count"] for d in data}[("BN after", "non-trainable")] == 2


def _answers(predicted):
    return np.array(predicted, np.uint8), np.full(len(predicted), 0.91)


def test_prediction_filters():
    labels = np.array([0, 1, 2, 3])
    probs = {"baseline": _answers([0, 5, 5, 3]), "BN after": _answers([0, 1, 6, 3])}
    frame = charts.predictions_frame(labels, probs)
    models = list(probs)
    assert list(charts.filter_predictions(frame, models, "both wrong")["index"]) == [2]
    assert list(charts.filter_predictions(frame, models, "models disagree")["index"]) == [1, 2]
    assert len(charts.filter_predictions(frame, models, "all")) == 4
    assert frame["baseline confidence"].iloc[0] == 0.91


def test_confusion_counts_and_per_class_accuracy():
    labels = np.array([0, 0, 1, 1])
    probs = {"baseline": _answers([0, 1, 1, 1])}
    confusion = charts.confusion_frame(labels, probs)
    assert len(confusion) == 100
    cell = confusion[(confusion.true == "T-shirt/top") & (confusion.predicted == "Trouser")]
    assert cell["count"].item() == 1
    accuracy = charts.per_class_accuracy(confusion)
    assert accuracy.loc["T-shirt/top", "baseline"] == 0.5
    assert accuracy.loc["Trouser", "baseline"] == 1.0
    spec = charts.confusion_chart(confusion, "baseline").to_dict()
    cells, numbers = spec["layer"]
    assert (cells["mark"]["type"], numbers["mark"]["type"]) == ("rect", "text")
    assert {cells["encoding"][axis]["field"] for axis in ("x", "y")} == {"predicted", "true"}
    assert cells["encoding"]["color"]["field"] == "share" and cells["title"] == "baseline"
    drawn = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert set(drawn["model"]) == {"baseline"} and len(drawn) == 100  # the model's 10 × 10


def test_paired_difference_chart_has_a_dot_per_seed_the_interval_and_tooltips_everywhere():
    from bnviz.summary import convergence_summary, paired_difference_frame

    rows = []
    for seed, (base, bn) in enumerate(((12, 5), (14, 6), (16, 9))):
        for model, reach in (("baseline", base), ("BN after", bn)):
            for epoch in range(1, 21):
                rows.append([model, seed, epoch, 0.95 if epoch >= reach else 0.5, 1.0,
                             0.8 + 0.01 * seed + (0.01 if model != "baseline" else 0), 1.0, 0.1])
    frame = paired_difference_frame(convergence_summary(pd.DataFrame(
        rows, columns=list(HISTORY_COLUMNS))))
    spec = charts.paired_difference_chart(frame, "epochs_to_90_train").to_dict()
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert marks == ["rule", "rule", "circle", "point"]  # zero, interval, seeds, mean
    assert all("tooltip" in layer["encoding"] for layer in spec["layer"])
    seeds = spec["datasets"][spec["layer"][2]["data"]["name"]]
    assert sorted(d["difference"] for d in seeds) == [-8.0, -7.0, -7.0]
    interval = spec["datasets"][spec["layer"][1]["data"]["name"]]
    assert len(interval) == 1 and interval[0]["low"] < interval[0]["mean"] < interval[0]["high"]
    assert interval[0]["pairs"] == 3
