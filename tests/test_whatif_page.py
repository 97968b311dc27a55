"""What-ifs at once, on the page (AppTest): links the gallery's runs hold open without a
training, marked as cut; the scrubber moves every tab to the models after an epoch."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from bnviz import charts
from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.job import GALLERY
from bnviz.page import Body
from tests.helpers import decided as _view
from tests.helpers import open_section as _open
from tests.helpers import page, run_until_results, wait_for
from ui.sections import SCRUBBER_KEY


def _trained_nothing() -> None:
    import ui.state

    manager = ui.state.shared_job_manager()
    assert manager.running_count() == 0 and not manager.results.jobs()


def _chart_data(at: AppTest, index: int = 0) -> list[dict]:
    """Every row of the ``index``-th chart's datasets."""
    chart = [e for e in at.main if getattr(e, "type", "") == "vega_lite_chart"][index]
    rows = []
    for dataset in chart.proto.datasets:
        rows += pa.ipc.open_stream(dataset.data.data).read_all().to_pylist()
    return rows + [row for values in json.loads(chart.proto.spec).get("datasets", {}).values()
                   for row in values]


def test_a_30_epoch_link_of_the_blogs_settings_opens_at_once_cut_from_its_stored_run(
        in_process_page):
    at = page(epochs="30")
    at.run()
    assert not at.exception
    view = _view(at)
    assert view.body == Body.RESULT and view.origin == GALLERY
    assert view.result.config == ExperimentConfig(epochs=30)
    assert view.result.history.epoch.max() == 30 and view.result.seeds_shown == 1
    assert any(m.value.startswith("**Precomputed** (from the 100-epoch, 5-seed run, cut at "
                                  "epoch 30 and its first seed") for m in at.markdown)
    _trained_nothing()
    # Train on these settings shows the answer at once too; its own button trains it.
    at.sidebar.form_submit_button[0].click().run()
    assert _view(at).origin == GALLERY
    _trained_nothing()
    assert [b for b in at.button if b.key == "train_precomputed"]


def test_a_link_without_seeds_reaches_the_gallerys_five_seed_run(in_process_page):
    at = page(epochs="100", batch_size="64")  # the blog's settings, one seed (the default)
    at.run()
    view = _view(at)
    assert view.origin == GALLERY and view.result.cut_from.seeds == 5
    assert any("5-seed run, its first seed" in m.value for m in at.markdown)
    _trained_nothing()


def test_the_scrubber_moves_every_tab_to_the_models_after_an_epoch(in_process_page):
    at = page()
    at.run()
    result = _view(at).result
    key = f"{SCRUBBER_KEY}_{result.config.config_hash()}_{result.final_epoch}"
    assert at.select_slider(key=key).value == 100
    at.select_slider(key=key).set_value(37).run()
    assert not at.exception
    # The curves mark epoch 37.
    assert {"marker": "after epoch 37", "epoch": 37} in [
        {k: row[k] for k in ("marker", "epoch")} for row in _chart_data(at) if "marker" in row]
    # Predictions: the confusion matrices and the per-class table are those after epoch 37.
    _open(at, "Predictions")
    assert any(c.value.startswith("After epoch 37: ") for c in at.caption)
    confusion = charts.confusion_frame(result.test_labels, result.answers_at(37))
    drawn = [row for row in _chart_data(at, 0) if "share" in row]
    baseline = confusion[confusion.model == result.baseline_model]
    assert sorted((r["true"], r["predicted"], r["count"]) for r in drawn) == sorted(
        baseline[["true", "predicted", "count"]].itertuples(index=False, name=None))
    assert (charts.confusion_frame(result.test_labels, result.answers_at(37))["count"]
            != charts.confusion_frame(result.test_labels, result.answers_at())["count"]).any()
    # Inside BN and the two modes: at the last checkpoint before 37, and said so.
    _open(at, "Inside BN")
    assert any(c.value.startswith("BN's values are shown as they were after epoch 20")
               for c in at.caption)
    _open(at, "Train vs inference")
    assert any(c.value.startswith("Both modes are compared after epoch 20") for c in at.caption)
    modes, measured = result.bn_modes_at(37)
    assert measured == 20
    assert at.dataframe[-1].value["accuracy"].tolist() == modes["accuracy"].tolist()
    _open(at, "Why BN helps")
    assert any(row.get("marker") == "after epoch 37" for row in _chart_data(at))
    _trained_nothing()


def test_the_cut_result_is_one_object_for_every_viewer_cut_from_the_smallest_run(
        in_process_page):
    first, second = page(epochs="20"), page(epochs="20")
    first.run()
    second.run()
    assert _view(first).result is _view(second).result
    assert _view(first).result.config == ComparisonRequest(ExperimentConfig(epochs=20)).config
    # Quick look (20 epochs) and the blog's run (100) both hold it: the smaller answers.
    assert _view(first).result.cut_note() == "from the 20-epoch, 5-seed run, its first seed"



@pytest.mark.slow
def test_a_stopped_training_trains_anew_on_train_though_a_longer_run_holds_its_settings(
        in_process_page):
    import ui.state

    longer = {"epochs": "20", "train_size": "256", "seeds": "2", "landscape_every": "0"}
    run_until_results(page(**longer, run="1"))  # trained here: it holds the one-seed run
    mine = page(epochs="20", train_size="256", landscape_every="0", run="1")  # trains it
    mine.run()
    manager = ui.state.shared_job_manager()
    job = manager.get(ComparisonRequest(ExperimentConfig(epochs=20, train_size=256,
                                                                landscape_every=0)))
    wait_for(lambda: len(job.rows) >= 2, timeout=60)
    mine.run()
    mine.button(key="stop_training").click().run()
    wait_for(lambda: job.status != "running", timeout=10)
    mine.run()
    assert _view(mine).result.partial  # its own partial result, not the cut
    mine.sidebar.form_submit_button[0].click().run()  # Train: trains these settings anew
    again = manager.get(job.request)
    assert again is not job and again.status in ("queued", "running", "done")
