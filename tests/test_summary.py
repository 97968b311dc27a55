"""Convergence statistics and how they are written: one formatter for the page and the CLI,
which imports no result and no trainer."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bnviz.comparison import HISTORY_COLUMNS
from bnviz.summary import (
    DIFFERENCE,
    FALSE_CLEAR_RATE,
    SD_FLOORS,
    STATISTIC_LABELS,
    convergence_summary,
    convergence_table,
    headline,
    is_clear,
    paired_interval,
    paired_summary,
    sampling_error,
    seed_spread_table,
    sweep_verdict,
    t_critical,
)

BEST = STATISTIC_LABELS["best_test_accuracy"]


def _history(accuracies: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """A history whose train accuracy per epoch is given; test accuracy is 0.1 below."""
    rows = []
    for (model, seed), values in accuracies.items():
        for epoch, accuracy in enumerate(values, start=1):
            rows.append([model, seed, epoch, accuracy, 1.0, accuracy - 0.1, 1.1, 0.5])
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def test_epochs_to_a_threshold_count_from_one_and_never_is_missing():
    summary = convergence_summary(_history({("baseline", 1): [0.5, 0.92, 0.95],
                                            ("BN after", 1): [0.91, 0.995, 0.999]}))
    by_model = summary.set_index("model")
    assert by_model.loc["baseline", "epochs_to_90_train"] == 2
    assert pd.isna(by_model.loc["baseline", "epochs_to_99_train"])
    assert by_model.loc["BN after", "epochs_to_99_train"] == 2
    assert by_model.loc["BN after", "best_test_epoch"] == 3
    assert by_model.loc["BN after", "seconds"] == 1.5


def test_one_seed_table_has_the_difference_and_a_dash_for_never():
    table = convergence_table(convergence_summary(_history({
        ("baseline", 1): [0.5, 0.92, 0.95], ("BN after", 1): [0.91, 0.995, 0.999]})))
    assert list(table.columns) == ["baseline", "BN after", DIFFERENCE.format(name="BN")]
    assert table.loc["Epochs to 90 % train accuracy"].tolist() == ["2", "1", "-1"]
    assert table.loc["Epochs to 99 % train accuracy"].tolist() == ["—", "2", "—"]
    assert table.loc[BEST].tolist() == ["0.850", "0.899", "+0.049"]
    assert "optimistic" in BEST


SEPARATE = {("baseline", 1): [0.5, 0.91], ("baseline", 2): [0.5, 0.6],
            ("BN after", 1): [0.95, 0.99], ("BN after", 2): [0.97, 0.99]}


def test_several_seeds_are_written_as_mean_and_sd_with_who_reached():
    table = seed_spread_table(convergence_summary(_history(SEPARATE)))
    # baseline reached 90 % in one of two seeds (epoch 2); BN at epoch 1 in both
    assert table.loc["Epochs to 90 % train accuracy", "baseline"] == "2 (1 of 2 seeds)"
    assert table.loc["Epochs to 90 % train accuracy", "BN after"] == "1 ± 0"
    assert table.loc["Epochs to 99 % train accuracy", "baseline"] == "never"
    assert table.loc[BEST, "BN after"] == "0.890 ± 0.000"


def _paired_history(epochs: dict[str, list[int]], late: dict[str, list[float]],
                    length: int = 30) -> pd.DataFrame:
    """Per model, one run per seed that first reaches 90 % train accuracy at the given epoch
    (never where it is None) and tests at the given accuracy in every epoch."""
    rows = []
    for model in epochs:
        for seed, (reach, accuracy) in enumerate(zip(epochs[model], late[model], strict=True)):
            for epoch in range(1, length + 1):
                train = 0.95 if reach is not None and epoch >= reach else 0.5
                rows.append([model, seed, epoch, train, 1.0, accuracy, 1.0, 0.5])
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def test_t_critical_values_are_students():
    assert t_critical(0.95, 2) == pytest.approx(4.3027, abs=1e-4)
    assert t_critical(0.975, 4) == pytest.approx(3.4954, abs=1e-4)
    assert t_critical(0.95, 1) == pytest.approx(12.7062, abs=1e-4)


def test_a_consistent_difference_smaller_than_the_spread_is_clear_when_paired():
    # Five seeds, each moving both models alike: the models' ranges overlap widely, but BN
    # is faster by 5 or 6 epochs and better by 0.02 at every seed.
    base = [10, 14, 18, 22, 26]
    history = _paired_history(
        {"baseline": base, "BN after": [b - 5 - (i % 2) for i, b in enumerate(base)]},
        {"baseline": [0.80, 0.82, 0.84, 0.86, 0.88],
         "BN after": [0.821, 0.839, 0.861, 0.879, 0.901]})
    words = headline(convergence_summary(history), test_images=1000)
    assert "Over 5 seeds, paired by seed (BN − baseline)" in words
    assert "epochs to 90 % train accuracy −5.4 (98 % interval" in words
    assert "test accuracy +0.020 (98 % interval" in words
    assert words.count("a clear difference") == 2 and "cannot settle" not in words


def test_the_pages_headline_says_the_verdict_briefly():
    history = _paired_history({"baseline": [16, 18, 15], "BN after": [6, 7, 6]},
                              {"baseline": [0.83, 0.82, 0.81], "BN after": [0.85, 0.80, 0.83]})
    words = headline(convergence_summary(history), brief=True)
    assert words.endswith("Paired over 3 seeds: speed differs clearly; accuracy: cannot tell.")
    assert "interval" not in words and "sampling error" not in words


def test_a_difference_the_seeds_cannot_settle_says_so_and_what_would_be():
    history = _paired_history({"baseline": [16, 18, 15], "BN after": [14, 20, 13]},
                              {"baseline": [0.83, 0.82, 0.81], "BN after": [0.85, 0.80, 0.83]})
    words = headline(convergence_summary(history))
    assert "3 seeds cannot settle this; with this spread only a mean difference beyond ±" in words
    assert "a clear difference" not in words


def test_only_seeds_where_both_models_reached_the_threshold_count_and_are_counted():
    history = _paired_history({"baseline": [None, 12, None, 13], "BN after": [5, 6, 6, 5]},
                              {"baseline": [0.8] * 4, "BN after": [0.8] * 4})
    paired = paired_summary(convergence_summary(history)).set_index("statistic")
    assert paired.loc["epochs_to_90_train", "pairs"] == 2
    assert paired.loc["epochs_to_90_train", "mean"] == -7.0
    assert "2 of 4 seeds with both models there" in headline(convergence_summary(history))
    # One pair has no spread to judge by: said so, never called clear.
    one = _paired_history({"baseline": [None, 12, None], "BN after": [5, 6, 6]},
                          {"baseline": [0.8] * 3, "BN after": [0.8] * 3})
    words = headline(convergence_summary(one))
    assert "both models reached it in only 1 of 3 seeds, too few to judge" in words
    assert paired_summary(convergence_summary(one))["clear"].iloc[0] is None


def test_the_headlines_test_accuracy_is_the_mean_of_the_last_epochs_and_says_when_fewer():
    rows = _history({("baseline", 1): [0.5 + 0.01 * e for e in range(12)],
                     ("BN after", 1): [0.6 + 0.01 * e for e in range(12)]})
    summary = convergence_summary(rows)
    assert summary.loc[0, "late_test_accuracy"] == pytest.approx(0.4 + 0.01 * 6.5)
    assert "Test accuracy over the last 10 epochs" in headline(summary)
    short = headline(convergence_summary(_history({("baseline", 1): [0.5, 0.6, 0.7],
                                                   ("BN after", 1): [0.6, 0.7, 0.9]})))
    assert "Test accuracy over all 3 epochs (the run is shorter than 10)" in short


def test_the_test_sets_sampling_error_comes_from_its_size():
    assert sampling_error(0.85, 1000) == pytest.approx(0.0113, abs=1e-4)
    history = _paired_history({"baseline": [10, 11], "BN after": [5, 6]},
                              {"baseline": [0.85, 0.85], "BN after": [0.85, 0.85]})
    summary = convergence_summary(history)
    assert "on 1,000 test images each carries ±0.011 of sampling error" in headline(summary, 1000)
    assert "on 250 test images each carries ±0.023 of sampling error" in headline(summary, 250)


# -- the false-"clear" rate, by simulation ---------------------------------------------
# Many synthetic paired runs with no real difference: per seed a shared effect moves both
# models alike, and each model's own noise comes from one distribution for both. Epochs to
# 90 % are counted whole (the first epoch at or past the threshold), accuracies as a
# model's mean over epochs, to four places. The verdict is `paired_interval` and `is_clear`,
# the very functions `paired_summary` (and so the headline) uses on each result;
# `test_the_simulated_verdicts_are_the_headlines` checks that they agree.

TRIALS = 40_000


def _null_epochs(rng: np.random.Generator, seeds: int, noise: float,
                 laplace: bool = False) -> np.ndarray:
    """Per trial and seed, the difference of two whole-epoch counts with no real difference."""
    shared = rng.normal(0, 3, (TRIALS, seeds, 1))
    own = (rng.laplace(0, noise / np.sqrt(2), (TRIALS, seeds, 2)) if laplace
           else rng.normal(0, noise, (TRIALS, seeds, 2)))
    epochs = np.ceil(np.maximum(14 + shared + own, 1))
    return epochs[..., 1] - epochs[..., 0]


def _null_accuracy(rng: np.random.Generator, seeds: int, laplace: bool = False) -> np.ndarray:
    """Per trial and seed, the difference of two test accuracies with no real difference."""
    shared = rng.normal(0, 0.01, (TRIALS, seeds, 1))
    own = (rng.laplace(0, 0.01 / np.sqrt(2), (TRIALS, seeds, 2)) if laplace
           else rng.normal(0, 0.01, (TRIALS, seeds, 2)))
    accuracy = np.round(0.83 + shared + own, 4)
    return accuracy[..., 1] - accuracy[..., 0]


def _clear(differences: np.ndarray, statistic: str) -> np.ndarray:
    _, low, high = paired_interval(differences, SD_FLOORS[statistic])
    return is_clear(low, high)


def _rate_message(rate: float, what: str, seeds: int) -> str:
    error = np.sqrt(rate * (1 - rate) / TRIALS)
    return f"{what}, {seeds} seeds: false 'clear' {rate:.2%} ± {error:.2%} of {TRIALS:,} trials"


# Simulated at numpy seed 24, 40,000 trials each (± about 0.1 point of Monte Carlo error).
# Epochs to 90 %, each model's own noise sd 0.5 / 1 / 3 epochs (normal) and 1 (Laplace):
# 3 seeds 0.00 / 0.31 / 1.82 / 0.18 %, 5 seeds 0.22 / 1.21 / 1.92 / 0.76 %. Test accuracy,
# normal / Laplace: 3 seeds 2.02 / 1.51 %, 5 seeds 2.02 / 1.47 %. The headline as a whole
# (either statistic clear), normal with the widest epochs noise / Laplace: 3 seeds 3.68 /
# 1.61 %, 5 seeds 4.12 / 2.23 %. Each statistic's 98 % interval allows 2 %; whole epochs
# stay under it, and the two together under the 4 % Bonferroni bound. The assertion
# messages print the rate with its trials.
@pytest.mark.parametrize("seeds", [3, 5])
def test_with_no_real_difference_each_statistic_is_called_clear_at_most_5_percent(seeds):
    rng = np.random.default_rng(24)
    for noise, laplace in ((0.5, False), (1.0, False), (3.0, False), (1.0, True)):
        rate = _clear(_null_epochs(rng, seeds, noise, laplace), "epochs_to_90_train").mean()
        what = f"epochs to 90 %, noise {noise}{' Laplace' if laplace else ''}"
        assert rate <= FALSE_CLEAR_RATE, _rate_message(rate, what, seeds)
    for laplace in (False, True):
        rate = _clear(_null_accuracy(rng, seeds, laplace), "late_test_accuracy").mean()
        what = f"test accuracy{' Laplace' if laplace else ''}"
        assert rate <= FALSE_CLEAR_RATE, _rate_message(rate, what, seeds)


@pytest.mark.parametrize("seeds", [3, 5])
def test_with_no_real_difference_the_headline_says_clear_at_most_5_percent(seeds):
    rng = np.random.default_rng(24)
    for noise, laplace in ((3.0, False), (1.0, True)):
        either = (_clear(_null_epochs(rng, seeds, noise, laplace), "epochs_to_90_train")
                  | _clear(_null_accuracy(rng, seeds, laplace), "late_test_accuracy"))
        rate = either.mean()
        assert rate <= FALSE_CLEAR_RATE, _rate_message(rate, "the headline", seeds)


def test_a_real_consistent_difference_at_5_seeds_is_called_clear_nearly_always():
    rng = np.random.default_rng(24)
    epochs = _null_epochs(rng, 5, 1.0) - 6  # BN 6 epochs faster at every seed, ± noise
    accuracy = _null_accuracy(rng, 5) + 0.04  # and 4 points better
    # Simulated: 99.9 % and 95.2 % of 40,000 trials called clear.
    assert _clear(epochs, "epochs_to_90_train").mean() > 0.99
    assert _clear(accuracy, "late_test_accuracy").mean() > 0.9


def test_the_simulated_verdicts_are_the_headlines():
    # The first 200 simulated runs, written as a comparison's summary: `paired_summary`
    # decides each exactly as the vectorised simulation did.
    rng = np.random.default_rng(24)
    epochs, accuracy = _null_epochs(rng, 3, 3.0)[:200] - 1, _null_accuracy(rng, 3)[:200]
    expected = _clear(epochs, "epochs_to_90_train") | _clear(accuracy, "late_test_accuracy")
    assert 0 < expected.sum() < 200
    for trial in range(200):
        summary = pd.DataFrame(
            [{"model": "baseline", "seed": s, "epochs_to_90_train": 20.0,
              "late_test_accuracy": 0.8} for s in range(3)]
            + [{"model": "BN after", "seed": s, "epochs_to_90_train": 20.0 + epochs[trial, s],
                "late_test_accuracy": 0.8 + accuracy[trial, s]} for s in range(3)])
        assert paired_summary(summary)["clear"].any() == expected[trial], trial


@pytest.mark.parametrize("seeds", [1, 3])
def test_headline_with_no_threshold_reached_says_try_more_epochs(seeds):
    history = _history({(model, seed): [0.3, 0.4] for model in ("baseline", "BN after")
                        for seed in range(seeds)})
    words = headline(convergence_summary(history))
    assert words.startswith("Neither model reached 90 % training accuracy")
    assert ("add seeds" in words) == (seeds == 1)


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "estimating…"), (0.2, "about 1 s"), (42.4, "about 42 s"), (150, "about 2 min"),
    (3900, "about 1 h 5 min")])
def test_durations_are_said_in_words(seconds, text):
    from bnviz.summary import format_duration

    assert format_duration(seconds) == text


def _reached(start: set[str]) -> set[str]:
    """The bnviz modules ``start`` imports, directly or through others, imports inside
    functions counted."""
    package = Path(__file__).resolve().parents[1] / "bnviz"
    graph = {}
    for path in package.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
        graph[path.stem] = {name.split(".")[1] for name in names
                            if name.startswith("bnviz.")}
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += sorted(graph.get(module, ()))
    return seen - start


def test_the_pages_tables_and_words_import_no_training_code_and_no_result():
    # The page draws results with these: none may reach a module that builds or trains a
    # model (nor Keras with it), and the tables sit below the results they are made of.
    page_reads = {"summary", "charts", "explain", "variants", "comparison", "sweep"}
    assert not _reached(page_reads) & {"models", "norms", "landscape", "inside", "training"}
    assert not _reached({"summary", "charts", "explain", "variants"}) & {"comparison", "sweep"}


def _sweep_table(rows):
    return pd.DataFrame([{"model": model, "learning_rate": rate, "best_test_accuracy": accuracy,
                          "diverged": outcome == "diverged", "outcome": outcome, "epochs_run": 20}
                         for model, rate, accuracy, outcome in rows])


def test_the_sweep_verdict_compares_matched_rates_and_says_how_far_each_model_trains():
    table = _sweep_table([
        ("baseline", 1e-4, 0.64, "trained"), ("BN after", 1e-4, 0.47, "trained"),
        ("baseline", 1e-3, 0.75, "trained"), ("BN after", 1e-3, 0.76, "trained"),
        ("baseline", 1e-2, float("nan"), "diverged"), ("BN after", 1e-2, 0.82, "trained"),
        ("baseline", 1e-1, float("nan"), "diverged"), ("BN after", 1e-1, 0.85, "trained"),
    ])
    words = sweep_verdict(table, test_images=1000)
    assert words.startswith("At the rates both models trained at (0.0001 to 0.001), BN after's "
                            "best test accuracy minus the baseline's ran from −0.170 to +0.010")
    # 0.01 of 0.76 is well inside two standard errors of a difference on 1000 images
    assert "behind at 1, level at 1 of 2 rates" in words
    assert "baseline trained up to 0.001 and did best at 0.001 (0.750)" in words
    assert "BN after trained up to 0.1 and did best at 0.1 (0.850)" in words


def test_the_sweep_verdict_says_when_no_rate_trains_both():
    table = _sweep_table([("baseline", 1.0, float("nan"), "diverged"),
                          ("BN after", 1.0, 0.5, "trained")])
    words = sweep_verdict(table, test_images=1000)
    assert words.startswith("No rate trained both models")
    assert "baseline trained at none of these rates" in words
