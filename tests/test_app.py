"""The page, run by Streamlit's AppTest (in-process, real training on a tiny config)."""

import json
import re

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from bnviz import charts, explain
from bnviz.gallery import GALLERY_SEEDS
from bnviz.job import GALLERY, JOB
from bnviz.page import Body, Control
from bnviz.summary import STATISTIC_LABELS
from tests.helpers import (
    TINY_LINK,
    page,
    prediction_alt_texts,
    run_until_results,
    started_training,
    wait_for,
)
from tests.helpers import decided as _view
from tests.helpers import open_section as _open
from ui import sections


def _series(at: AppTest) -> set[str]:
    """The series drawn in the first chart (the learning curves' accuracy panel), read from
    its Arrow data."""
    chart = next(e for e in at.main if getattr(e, "type", "") == "vega_lite_chart")
    accuracy = json.loads(chart.proto.spec)
    assert accuracy.get("title", accuracy.get("layer", [{}])[0].get("title")) == "Accuracy"
    series: set[str] = set()
    for dataset in chart.proto.datasets:
        table = pa.ipc.open_stream(dataset.data.data).read_all()
        series.update(table.column("series").to_pylist())
    return series


def test_a_visit_without_a_link_opens_on_the_blogs_precomputed_result(in_process_page):
    import ui.state
    from bnviz.comparison import ComparisonRequest
    from bnviz.gallery import gallery_config
    from bnviz.presets import PRESETS

    at = page()
    at.run()
    assert not at.exception
    assert at.title[0].value == explain.TITLE
    assert _view(at).body == Body.RESULT and _view(at).origin == GALLERY
    assert any(m.value.startswith("**Precomputed**") for m in at.markdown)
    assert [b.label for b in at.button if b.label == "Train it yourself"]
    assert at.tabs and _series(at) == {
        "baseline · train", "baseline · test", "BN after · train", "BN after · test"}
    assert f"Paired over {GALLERY_SEEDS} seeds" in at.success[0].value
    assert at.sidebar.slider(key="setting_epochs").value == 100
    assert at.session_state["setting_seeds"] == GALLERY_SEEDS
    request = ComparisonRequest(gallery_config(PRESETS["The blog post"][0]))
    assert ui.state.shared_job_manager().get(request) is None  # nothing trains
    assert at.sidebar.form_submit_button[0].label == "Train"


def test_present_shows_the_landing_result_with_large_chart_fonts_and_keeps_its_link(
        in_process_page):
    at = page(present="1")
    at.run()
    assert not at.exception and not at.warning  # present is no unknown setting
    # the blog's precomputed result, as landing
    assert f"Paired over {GALLERY_SEEDS} seeds" in at.success[0].value
    chart = next(e for e in at.main if getattr(e, "type", "") == "vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["config"]["axis"]["labelFontSize"] == charts.LARGE_FONTS["axis"]
    assert spec["height"] == sections.PRESENT_CURVE_HEIGHT
    at.sidebar.pills(key="preset").set_value("Scaled pixels").run()  # from the gallery
    assert at.query_params["present"] == "1" and at.query_params["scale_pixels"] == "true"


def test_viewers_of_a_finished_result_share_its_charts_built_once(in_process_page, monkeypatch):
    from bnviz import charts

    built = []
    panel = charts.learning_curve_panel
    monkeypatch.setattr(charts, "learning_curve_panel", lambda history, metric, *args, **kw:
                        built.append(metric) or panel(history, metric, *args, **kw))
    viewers = [page() for _ in range(3)]
    for viewer in viewers:
        viewer.run()
        assert not viewer.exception
    expected = {"baseline · train", "baseline · test", "BN after · train", "BN after · test"}
    assert all(_series(viewer) == expected for viewer in viewers)
    assert built == ["accuracy", "loss"]  # by the first viewer; the others got the same


def test_a_preset_is_served_from_the_gallery_without_training(in_process_page):
    import ui.state

    at = page()
    at.run()
    at.sidebar.pills(key="preset").set_value("Scaled pixels").run()
    assert not at.exception
    assert at.query_params["scale_pixels"] == "true"
    assert at.query_params["seeds"] == str(GALLERY_SEEDS)
    assert _view(at).body == Body.RESULT and _view(at).origin == GALLERY
    assert any(m.value.startswith("**Precomputed**") for m in at.markdown)
    assert ui.state.shared_job_manager().pending_count() == 0  # submit() would start a job


@pytest.mark.slow
def test_training_through_the_form_shows_curves_and_predictions():
    at = page()
    at.run()
    at.sidebar.slider(key="setting_epochs").set_value(2)
    at.sidebar.number_input(key="setting_train_size").set_value(256)
    at.sidebar.number_input(key="setting_seeds").set_value(1)
    at.sidebar.form_submit_button[0].click()
    run_until_results(at)
    assert not at.exception
    assert at.query_params["epochs"] == "2" and at.query_params["train_size"] == "256"
    assert _series(at) == {
        "baseline · train", "baseline · test", "BN after · train", "BN after · test"}
    assert not prediction_alt_texts(at)  # only the open tab is drawn
    _open(at, "Predictions")
    alt_texts = prediction_alt_texts(at)
    assert len(alt_texts) == 32  # the predictions grid, each picture said in words
    assert all(re.fullmatch(r"Test image \d+, an? .+\. baseline: .+, \d+% sure, (right|wrong)\. "
                            r"BN after: .+, \d+% sure, (right|wrong)\.", text)
               for text in alt_texts), alt_texts[:2]
    _open(at, "Convergence")
    assert "difference (BN − baseline)" in at.table[0].value.columns


@pytest.mark.slow
def test_a_link_with_run_trains_and_a_second_visit_is_served_from_the_store():
    at = run_until_results(page(**TINY_LINK, placement="before", run="1"))
    assert not at.exception
    assert "BN before · test" in _series(at)
    again = page(**TINY_LINK, placement="before")
    again.run()
    assert len(again.tabs) == 9 and not again.exception
    assert (_view(again).body, _view(again).origin) == (Body.RESULT, JOB)  # not trained again
    assert _series(again) == _series(at)
    data_line = next(c.value for c in at.caption if c.value.startswith("Data: "))
    assert ", blog split. Training images per class: T-shirt/top " in data_line


@pytest.mark.slow
def test_seeds_and_the_new_sections_render():
    at = run_until_results(page(**TINY_LINK, seeds="2", run="1"))
    assert not at.exception
    assert [t.label for t in at.tabs] == [
        "Learning curves", "Convergence", "Parameters", "Predictions", "Inside BN",
        "Train vs inference", "Why BN helps", "Learning rates", "About batch norm"]
    assert "Paired over 2 seeds" in at.success[0].value
    # The raw-pixel note explains the curves' first-epoch loss: it sits under them.
    assert any("raw 0–255 pixels" in c.value and "Scaled pixels" in c.value for c in at.caption)

    def chart_text(at: AppTest) -> str:
        return json.dumps([json.loads(e.proto.spec) for e in at.main
                           if getattr(e, "type", "") == "vega_lite_chart"])

    assert "Input to the last ReLU" in chart_text(_open(at, "Inside BN"))
    modes = _open(at, "Train vs inference")
    assert "Evaluation batch size" in chart_text(modes)
    assert any("with one image per batch the BN after model scores" in c.value
               for c in modes.caption)
    assert "Run sweep" in [b.label for b in _open(at, "Learning rates").form_submit_button]
    why = _open(at, "Why BN helps")
    assert "Loss along the gradient" in chart_text(why)
    assert any("probes per model, first seed" in m.value for m in why.markdown)
    convergence = _open(at, "Convergence")
    assert "±" in convergence.table[0].value.loc[STATISTIC_LABELS["best_test_accuracy"]].iloc[0]
    # Two epochs of 256 images may leave 90 % unreached: then a caption says so.
    assert ("Difference in epochs to 90 % train accuracy" in chart_text(convergence)
            or any(c.value.startswith("Difference in epochs to 90 % train accuracy: no seed")
                   for c in convergence.caption))
    assert "Difference in test accuracy" in chart_text(convergence)
    assert any(m.value.startswith("Over 2 seeds, paired by seed (BN − baseline)")
               for m in convergence.markdown)
    assert any("on 1,000 test images an accuracy near" in c.value.lower()
               for c in convergence.caption)


def test_the_convergence_tab_shows_each_seeds_difference_and_what_the_seeds_settle(
        in_process_page):
    at = page()
    at.run()  # the blog's precomputed result, GALLERY_SEEDS seeds
    convergence = _open(at, "Convergence")
    charts_drawn = [json.loads(e.proto.spec) for e in convergence.main
                    if getattr(e, "type", "") == "vega_lite_chart"]
    assert len(charts_drawn) == 2  # epochs to 90 % and test accuracy, a dot per seed
    verdict = next(m.value for m in convergence.markdown
                   if m.value.startswith(f"Over {GALLERY_SEEDS} seeds, paired by seed "
                                         "(BN − baseline)"))
    assert "epochs to 90 % train accuracy" in verdict and "98 % interval" in verdict
    assert (f"{GALLERY_SEEDS} seeds cannot settle this" in verdict
            or verdict.count("a clear difference") == 2)
    table = convergence.table[0].value
    assert "optimistic" in STATISTIC_LABELS["best_test_accuracy"]
    assert STATISTIC_LABELS["late_test_accuracy"] in table.index
    assert any(c.value.startswith("On 1,000 test images an accuracy near")
               for c in convergence.caption)


def test_bad_link_parameters_are_named_and_defaults_used(in_process_page):
    at = page(epochs="-5", learning_rate="nan", placement="<script>alert(1)</script>",
              colour="red")
    at.run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    for name in ("epochs", "learning_rate", "placement", "colour"):
        assert f"**`{name}`**" in warnings  # link text is shown as literal code
    assert at.sidebar.slider(key="setting_epochs").value == 100


def test_train_it_yourself_is_followed_here_while_others_keep_the_precomputed_result(
        held_trainings):

    asked, release = held_trainings.asked, held_trainings.release
    try:
        mine = page()
        mine.run()
        next(b for b in mine.button if b.label == "Train it yourself").click().run()
        assert not mine.exception
        wait_for(lambda: len(asked) == 1)
        assert mine.query_params["seeds"] == str(GALLERY_SEEDS)  # the link names what trains
        assert not mine.tabs  # this session follows its training
        others = page()
        others.run()
        assert (_view(others).origin, _view(others).training) == (GALLERY, True)
        assert any("training these settings right now" in c.value for c in others.caption)
        assert not [b for b in others.button if b.label == "Train it yourself"]
    finally:
        release.set()


def test_a_session_with_a_training_in_progress_sees_it_instead_of_queuing_another(
        held_trainings):
    import ui.state

    asked, release = held_trainings.asked, held_trainings.release
    try:
        mine = page(**TINY_LINK, run="1")
        mine.run()
        wait_for(lambda: len(asked) == 1)
        mine.sidebar.slider(key="setting_epochs").set_value(3)
        mine.sidebar.form_submit_button[0].click().run()
        assert not mine.exception
        busy = _view(mine)
        assert busy.body == Body.BUSY and busy.busy.request.config.epochs == 2
        assert any("Training: `epochs=2, train_size=256`" in c.value for c in mine.caption)
        manager = ui.state.shared_job_manager()
        assert manager.pending_count() == 1 and len(asked) == 1  # nothing more queued
        other = page(epochs="3", train_size="256", run="1")  # another visitor may queue it
        other.run()
        assert manager.pending_count() == 2
    finally:
        release.set()


def test_the_groupnorm_preset_names_its_variant_and_says_there_are_no_two_modes(
        in_process_page):
    at = page()
    at.run()
    assert "group" in at.sidebar.selectbox(key="setting_normalization").options
    at.sidebar.pills(key="preset").set_value("Small batches: BN vs GroupNorm").run()
    assert not at.exception
    assert at.query_params["normalization"] == "group" and at.query_params["batch_size"] == "8"
    assert at.sidebar.selectbox(key="setting_normalization").value == "group"
    assert _view(at).origin == GALLERY  # the gallery's
    assert "GroupNorm after: 90 % train accuracy" in at.success[0].value
    assert "with GroupNorm," in at.success[0].value
    assert any(c.value == explain.NORMALIZATIONS["group"] for c in at.caption)
    # BN at the same settings is the Small batches preset, in the gallery: read against it.
    reference = next(c.value for c in at.caption if c.value.startswith("For comparison"))
    assert f"(BN after, {GALLERY_SEEDS} seeds): 90 % train accuracy after" in reference
    assert _series(at) == {"baseline · train", "baseline · test", "GroupNorm after · train",
                           "GroupNorm after · test"}
    modes = _open(at, "Train vs inference")
    assert any("GroupNorm after keeps no moving statistics" in i.value for i in modes.info)
    assert not [e for e in modes.main if getattr(e, "type", "") == "vega_lite_chart"]
    parameters = _open(at, "Parameters")
    assert any("normalising layer of the GroupNorm after model" in m.value
               for m in parameters.markdown)
    captions = [c.value for c in parameters.caption]
    # γ and β on 576 features, nothing non-trainable (31,626 + 2 × 576).
    assert "Total 32,778 · trainable 32,778 · non-trainable 0" in captions


def test_the_noisy_bn_preset_shows_its_mode_comparison_and_santurkars_question(
        in_process_page):
    at = page()
    at.run()
    at.sidebar.pills(key="preset").set_value("Noisy BN (Santurkar)").run()
    assert not at.exception
    assert at.query_params["normalization"] == "noisy-batch"
    assert at.query_params["placement"] == "before"  # BN before the ReLU, as Santurkar et al.
    assert "noisy BN before" in at.success[0].value
    assert any("Santurkar et al. 2018" in c.value for c in at.caption)
    modes = _open(at, "Train vs inference")
    assert [e for e in modes.main if getattr(e, "type", "") == "vega_lite_chart"]
    inside = _open(at, "Inside BN")  # noisy BN has every value BN has: none stands in
    assert not any(c.value == explain.BN_LAYERS_VARIANT for c in inside.caption)
    about = _open(at, "About batch norm")
    assert any(m.value.startswith("**What each variant asks.**") for m in about.markdown)


def test_the_noise_only_control_draws_every_tab_without_a_bn_layer(in_process_page):
    at = page()
    at.run()
    at.sidebar.pills(key="preset").set_value("Noise without BN (control)").run()
    assert not at.exception
    assert at.query_params["normalization"] == "noise-only"
    assert _view(at).origin == GALLERY
    assert "noise only before: 90 % train accuracy" in at.success[0].value
    assert any(c.value == explain.NORMALIZATIONS["noise-only"] for c in at.caption)
    # Read against BN before ReLU, the gallery's too.
    assert any(c.value.startswith("For comparison, batch norm in its place at the same "
                                  "settings (BN before") for c in at.caption)
    for section in ("Parameters", "Inside BN", "Train vs inference", "Why BN helps"):
        _open(at, section)  # no BN layer, no moving statistics: nothing fails to draw
    modes = _open(at, "Train vs inference")
    assert any("keeps no moving statistics" in i.value for i in modes.info)


def test_stop_ends_the_training_of_the_session_that_started_it_others_only_stop_watching(
        in_process_page):
    link = {**TINY_LINK, "epochs": "300"}
    mine, manager, job = started_training(link)
    wait_for(lambda: len(job.rows) >= 2, timeout=120)
    viewer = page(**link)  # the same link, without asking to train: a viewer
    viewer.run()
    assert not viewer.exception and not viewer.tabs
    assert not [b for b in viewer.button if b.key == "stop_training"]
    assert [b for b in viewer.button if b.key == "stop_watching"]
    mine.run()
    mine.button(key="stop_training").click().run()
    wait_for(lambda: job.status != "running", timeout=10)
    run_until_results(mine)
    note = next(w.value for w in mine.warning if w.value.startswith("**Stopped at epoch"))
    assert f"**Stopped at epoch {job.result.stopped_epoch} of 300**" in note
    assert len(job.result.history) == 2 * job.result.stopped_epoch
    modes = _open(mine, "Train vs inference")  # measured at the checkpoints it reached
    assert job.result.bn_modes_at()[1] is not None
    assert not any(i.value == explain.MODES_NOT_MEASURED for i in modes.info)
    _open(mine, "Learning curves")
    viewer.run()  # whoever opens the link sees the partial result, marked
    assert _view(viewer).body == Body.RESULT and _view(viewer).result.partial
    assert any(w.value.startswith("**Stopped at epoch") for w in viewer.warning)
    mine.sidebar.form_submit_button[0].click().run()  # Train again: trains it anew
    again = manager.get(job.request)
    assert again is not job and again.status in ("queued", "running")
    wait_for(lambda: again.status == "running", timeout=60)  # not left training: stop it
    manager.stop(again, again.owner)
    wait_for(again.ended.is_set, timeout=60)


def test_a_viewer_who_stops_watching_leaves_the_training_running(in_process_page):
    link = {**TINY_LINK, "epochs": "300"}
    _starter, manager, job = started_training(link)  # the session that trains it
    viewer = page(**link)
    viewer.run()
    viewer.button(key="stop_watching").click().run()
    assert _view(viewer).body == Body.NOT_WATCHING
    assert _view(viewer).controls == (Control.WATCH_AGAIN,)
    assert job.status in ("queued", "running") and not job.stop_requested.is_set()
    viewer.button(key="watch_again").click().run()
    assert [b for b in viewer.button if b.key == "stop_watching"]
    wait_for(lambda: job.status == "running", timeout=60)  # not left training: stop it
    manager.stop(job, job.owner)
    wait_for(job.ended.is_set, timeout=60)


def test_a_queued_training_can_be_withdrawn_by_the_session_that_queued_it(held_trainings):
    import ui.state

    asked, release = held_trainings.asked, held_trainings.release
    try:
        first = page(**TINY_LINK, run="1")  # takes the one trainer
        first.run()
        wait_for(lambda: len(asked) == 1)
        queued = page(epochs="3", train_size="256", run="1")
        queued.run()
        manager = ui.state.shared_job_manager()
        assert manager.pending_count() == 2
        assert any("place 1 in the queue" in i.value for i in queued.info)
        onlooker = page(epochs="3", train_size="256")  # sees the queued job, did not ask
        onlooker.run()
        assert not [b for b in onlooker.button if b.key == "withdraw_training"]
        queued.button(key="withdraw_training").click().run()
        assert not queued.exception and manager.pending_count() == 1
        assert _view(queued).body == Body.WELCOME  # nothing of it is left
    finally:
        release.set()


def _chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.main
            if getattr(e, "type", "") == "vega_lite_chart"]


def test_ioffe_and_szegedys_mlp_shows_their_figure_1_over_training_steps(in_process_page):
    at = page()
    at.run()
    at.sidebar.pills(key="preset").set_value("Ioffe & Szegedy's MLP").run()
    assert not at.exception
    assert at.query_params["architecture"] == "mlp-sigmoid"
    assert _view(at).origin == GALLERY
    assert at.sidebar.segmented_control(key="setting_architecture").value == "mlp-sigmoid"
    parameters = _open(at, "Parameters")
    captions = [c.value for c in parameters.caption]
    assert "Total 99,710 · trainable 99,710 · non-trainable 0" in captions
    assert "Total 100,610 · trainable 100,010 · non-trainable 600" in captions
    assert any("600 trainable and 600 non-trainable parameters" in m.value
               and "drops those 300" in m.value for m in parameters.markdown)
    inside = _open(at, "Inside BN")
    assert any(m.value.startswith("Ioffe & Szegedy's own test (2015, §4.1, Fig. 1 b, c)")
               and "(50 training steps each)" in m.value for m in inside.markdown)
    spec = json.dumps(_chart_specs(inside))
    assert "Training step" in spec and "Input to the last sigmoid" in spec
    assert "Unit of the last hidden layer" in spec
    table = inside.dataframe[0].value
    assert sorted(table.step.unique()) == [1_000, 10_000, 50_000]
    assert set(table.model) == {"baseline", "BN before"}
    for section in ("Predictions", "Train vs inference", "Why BN helps", "Convergence"):
        _open(at, section)  # every tab draws for the MLP


def test_the_bjorck_preset_opens_its_learning_rate_sweep_at_once(held_trainings):
    at = page()
    at.run()
    at.sidebar.pills(key="preset").set_value("BN and the learning rate (Bjorck)").run()
    assert not at.exception
    assert at.query_params["optimizer"] == "sgd"
    sweep = _open(at, "Learning rates")
    assert sweep.multiselect[0].value == [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    assert any("Best test accuracy" in json.dumps(s) for s in _chart_specs(sweep))
    assert any(m.value.startswith("At the rates both models trained at (0.0001 to ")
               for m in sweep.markdown)
    assert any(c.value.startswith("Broke: baseline at ") for c in sweep.caption)
    assert held_trainings.asked == []  # served from the gallery: nothing trained
