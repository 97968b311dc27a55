"""Convergence statistics and how they are written: one formatter for the page and the CLI,
which imports no result and no trainer."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from bnviz.comparison import HISTORY_COLUMNS
from bnviz.summary import (
    DIFFERENCE,
    convergence_summary,
    convergence_table,
    headline,
    seed_spread_table,
)


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
    assert table.loc["Best test accuracy"].tolist() == ["0.850", "0.899", "+0.049"]


SEPARATE = {("baseline", 1): [0.5, 0.91], ("baseline", 2): [0.5, 0.6],
            ("BN after", 1): [0.95, 0.99], ("BN after", 2): [0.97, 0.99]}


def test_several_seeds_are_written_as_mean_and_sd_with_who_reached():
    table = seed_spread_table(convergence_summary(_history(SEPARATE)))
    # baseline reached 90 % in one of two seeds (epoch 2); BN at epoch 1 in both
    assert table.loc["Epochs to 90 % train accuracy", "baseline"] == "2 (1 of 2 seeds)"
    assert table.loc["Epochs to 90 % train accuracy", "BN after"] == "1 ± 0"
    assert table.loc["Epochs to 99 % train accuracy", "baseline"] == "never"
    assert table.loc["Best test accuracy", "BN after"] == "0.890 ± 0.000"


def test_headline_says_clear_only_when_the_seed_ranges_do_not_overlap():
    apart = headline(convergence_summary(_history({
        ("baseline", 1): [0.5, 0.6], ("baseline", 2): [0.5, 0.62],
        ("BN after", 1): [0.95, 0.99], ("BN after", 2): [0.97, 0.99]})))
    assert "best test accuracy: a clear difference" in apart
    overlapping = headline(convergence_summary(_history({
        ("baseline", 1): [0.5, 0.98], ("baseline", 2): [0.5, 0.6],
        ("BN after", 1): [0.95, 0.96], ("BN after", 2): [0.97, 0.7]})))
    assert "best test accuracy: no clear difference" in overlapping
    assert "Over 2 seeds" in apart and "Over 2 seeds" in overlapping
    both = headline(convergence_summary(_history({
        ("baseline", 1): [0.5, 0.91], ("baseline", 2): [0.5, 0.92],
        ("BN after", 1): [0.95, 0.99], ("BN after", 2): [0.97, 0.99]})))
    assert "Over 2 seeds, both differences are clear" in both


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
