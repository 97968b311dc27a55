"""Charts said in words on the page (AppTest): every chart of every tab of the landing
result is labelled by its description, the same words are printed under it, and its data
opens as a table."""

from __future__ import annotations

import json

import pytest

from bnviz import describe
from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.gallery import Gallery, gallery_config
from bnviz.presets import PRESETS
from tests.a11y import TABS
from tests.helpers import open_section, page


def _charts(at) -> list[dict]:
    return [json.loads(element.proto.spec) for element in at.get("vega_lite_chart")]


SWEEP_PRESET = "BN and the learning rate (Bjorck)"  # the gallery holds its sweep


@pytest.mark.parametrize("tab", [tab for tab in TABS if tab != "About batch norm"])
def test_every_chart_of_a_tab_is_described_and_its_words_are_under_it(in_process_page, tab):
    link = {}
    if tab == "Learning rates":  # the blog's own settings come with no sweep
        link = {name: str(value) for name, value in
                gallery_config(PRESETS[SWEEP_PRESET][0]).to_mapping().items()}
    at = page(**link)
    at.run()
    open_section(at, tab)
    specs = _charts(at)
    assert specs, f"no chart on {tab}"
    captions = {caption.value for caption in at.caption}
    for spec in specs:
        assert spec.get("description"), spec.get("title")
        assert spec["description"] in captions
        assert spec["config"]["aria"] is False and spec["config"]["mark"]["aria"] is False


def test_the_curves_are_described_from_the_landing_result(in_process_page):
    at = page()
    at.run()
    gallery = Gallery()
    blog = gallery.load(ComparisonRequest(gallery.preset_config(ExperimentConfig())))
    assert [spec["description"] for spec in _charts(at)] == [
        describe.curves(blog.history, metric) for metric in ("accuracy", "loss")]


def test_a_charts_data_table_opens_with_one_click(in_process_page):
    at = page()
    at.run()
    assert not at.dataframe  # shut: the grid's script is not loaded on first sight
    at.session_state["curves_accuracy_data"] = True  # the expander, opened
    at.run()
    table = at.dataframe[0].value
    assert list(table.columns) == ["series", "epoch", "mean", "low", "high", "seeds"]
    assert set(table["series"]) == {"baseline · train", "baseline · test",
                                    "BN after · train", "BN after · test"}


def test_a_running_trainings_curves_are_described_and_their_data_opens(in_process_page):
    from tests.helpers import TINY_LINK, run_until_results, started_training, wait_for

    at, manager, job = started_training({**TINY_LINK, "epochs": "300"})
    try:
        wait_for(lambda: len(job.rows) >= 4, timeout=120)
        at.session_state["live_curves_loss_data"] = True  # the expander, opened
        at.run()
        specs = _charts(at)
        assert [spec["title"] for spec in specs] == ["Accuracy", "Loss"]
        captions = {caption.value for caption in at.caption}
        assert all(spec["description"] in captions for spec in specs)
        table = at.dataframe[0].value
        assert list(table.columns) == ["series", "epoch", "mean", "low", "high", "seeds"]
        assert table["epoch"].max() >= 2 and set(table["seeds"]) == {1}
        # Stopped, the page shows the partial result: the table being read stays open
        # (the result's own, of the same chart), the other stays shut.
        manager.stop(job, job.owner)
        wait_for(job.ended.is_set, timeout=60)
        run_until_results(at)
        assert at.session_state["curves_loss_data"] is True
        assert "curves_accuracy_data" not in at.session_state \
            or not at.session_state["curves_accuracy_data"]
        tables = [d.value for d in at.dataframe if "series" in d.value.columns]
        trained = max(row["epoch"] for row in job.rows)
        assert len(tables) == 1 and tables[0]["epoch"].max() == trained
    finally:
        manager.stop(job, job.owner)
        wait_for(job.ended.is_set, timeout=60)
