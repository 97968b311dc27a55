"""The real page in headless Debian chromium, driven by Playwright, against `streamlit run`."""

from __future__ import annotations

import time

import pytest

from bnviz import explain
from tests.server import ARTIFACTS, page_server


@pytest.mark.slow
@pytest.mark.browser
def test_a_run_link_trains_and_draws_the_charts(tmp_path):
    log_path = tmp_path / "streamlit.log"
    with page_server(tmp_path / "cache", log_path) as (url, browser):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.monotonic()
        page.goto(f"{url}/?epochs=2&train_size=256&placement=before&run=1")
        page.get_by_text(explain.TITLE).first.wait_for(timeout=30_000)
        first_paint = time.monotonic() - started
        page.get_by_role("tab", name="Learning curves").wait_for(timeout=180_000)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        chart.locator("canvas, svg").first.wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
        assert "BN before" in page.content()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "browser-run-link.png"
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"\nscreenshot: {screenshot} (first paint {first_paint:.1f} s)")

        # The new tab: Santurkar et al.'s measures, drawn, and the words about this run.
        page.get_by_role("tab", name="Why BN helps").click()
        page.get_by_text("probes per model, first seed").first.wait_for(timeout=30_000)
        landscape = page.locator("[data-testid='stVegaLiteChart']").first
        landscape.locator("canvas, svg").first.wait_for(timeout=30_000)
        assert "Gradient predictiveness" in page.content()
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser-why-bn-helps.png"), full_page=True)

        # No link at all: the blog post's precomputed result, drawn at once, nothing trains.
        landing = browser.new_page(viewport={"width": 1400, "height": 1000})
        landing.goto(url)
        landing.get_by_text("Precomputed").first.wait_for(timeout=30_000)
        landing.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        landing.get_by_role("button", name="Train it yourself").wait_for(timeout=10_000)
        landing.screenshot(path=str(ARTIFACTS / "browser-landing.png"), full_page=False)

        # The same link again, in a new page: served from the store, no second training.
        second = browser.new_page()
        started = time.monotonic()
        second.goto(f"{url}/?epochs=2&train_size=256&placement=before")
        drawn = second.locator("[data-testid='stVegaLiteChart']").first.locator("canvas, svg")
        drawn.first.wait_for(timeout=30_000)
        cached = time.monotonic() - started
        print(f"stored configuration: charts drawn {cached:.1f} s after opening the link")
    assert log_path.read_text().count("training started config=") == 1


# What Streamlit Community Cloud sets whatever the app's config.toml says.
CLOUD_SETTINGS = {
    "STREAMLIT_SERVER_RUN_ON_SAVE": "true",
    "STREAMLIT_RUNNER_FAST_RERUNS": "true",
    "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "false",
    "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "true",
}


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_works_with_the_settings_community_cloud_forces(tmp_path):
    log_path = tmp_path / "streamlit.log"
    with page_server(tmp_path / "cache", log_path, **CLOUD_SETTINGS) as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)  # the gallery's blog result
        page.get_by_text("Precomputed").first.wait_for(timeout=30_000)
        page.get_by_role("tab", name="Predictions").click()
        picture = page.locator(".bnviz-prediction img").first  # the grid, each with words
        picture.wait_for(timeout=30_000)
        assert picture.get_attribute("alt").startswith("Test image 1, a")
        page.get_by_text("Scaled pixels").first.click()  # a preset, served from the gallery
        page.wait_for_url("**scale_pixels=true**", timeout=30_000)
        page.get_by_text("Precomputed").first.wait_for(timeout=30_000)

        page.goto(f"{url}/?epochs=2&train_size=256&run=1")  # a training, followed live
        page.get_by_role("tab", name="Learning curves").wait_for(timeout=180_000)
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        with page.expect_download(timeout=30_000) as download:
            page.get_by_role("button", name="Download history (CSV)").click()
        assert download.value.suggested_filename.endswith("-history.csv")
        assert page.locator("[data-testid='stException']").count() == 0
        page.screenshot(path=str(ARTIFACTS / "browser-cloud-settings.png"), full_page=False)
    assert log_path.read_text().count("training started config=") == 1


# A classroom's projector and a student's phone (issue 16).
SCREENS = {"projector": (1280, 720), "phone": (390, 844)}


# True once the first chart is drawn at its final width: its SVG as wide as its element,
# its legend's labels there, and nothing of it moved for 5 animation frames in a row (Vega
# redraws a container-wide chart when its column settles, e.g. as the sidebar opens).
_SETTLED = """() => {
    const chart = document.querySelector("[data-testid='stVegaLiteChart']");
    const svg = chart && chart.querySelector("svg");
    const labels = svg ? [...svg.querySelectorAll(".role-legend-label text")] : [];
    if (!svg || !labels.length
        || Math.abs(svg.getBoundingClientRect().width - chart.getBoundingClientRect().width) > 1) {
        window.__bnvizLayout = null;
        return false;
    }
    const now = JSON.stringify([chart, svg, ...labels].map(e => {
        const box = e.getBoundingClientRect();
        return [box.x, box.y, box.width, box.height];
    }).concat([document.documentElement.scrollWidth]));
    const before = window.__bnvizLayout;
    window.__bnvizLayout = {layout: now, frames: before && before.layout === now
                                                ? before.frames + 1 : 0};
    return window.__bnvizLayout.frames >= 5;
}"""


def _layout(page) -> dict:
    """Where the first chart, its drawn legend and the legend's labels are, and how wide the
    page is, once the chart is drawn at its final width."""
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    legend = chart.locator("svg .role-legend").first
    legend.wait_for(timeout=30_000)
    page.wait_for_function(_SETTLED, polling="raf", timeout=30_000)
    labels = chart.locator("svg .role-legend-label text")
    return {
        "chart": chart.bounding_box(),
        "legend": legend.bounding_box(),
        "labels": [labels.nth(i).bounding_box() for i in range(labels.count())],
        "label_texts": labels.all_text_contents(),
        "scroll_width": page.evaluate("document.documentElement.scrollWidth"),
    }


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 0.5 and inner["y"] >= outer["y"] - 0.5
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 0.5)


@pytest.mark.slow
@pytest.mark.browser
def test_the_first_chart_and_its_legend_fit_a_projector_and_a_phone(tmp_path):
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for screen, (width, height) in SCREENS.items():
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(url)  # the landing: the blog's precomputed (stored) result
            page.get_by_text("Precomputed").first.wait_for(timeout=30_000)
            layout = _layout(page)
            shot = ARTIFACTS / f"browser-{screen}-{width}x{height}.png"
            page.screenshot(path=str(shot))
            chart, legend = layout["chart"], layout["legend"]
            print(f"\n{screen} {width}×{height}: first chart x {chart['x']:.0f}–"
                  f"{chart['x'] + chart['width']:.0f}, y {chart['y']:.0f}–"
                  f"{chart['y'] + chart['height']:.0f}; legend x {legend['x']:.0f}–"
                  f"{legend['x'] + legend['width']:.0f}, y {legend['y']:.0f}–"
                  f"{legend['y'] + legend['height']:.0f}; page scrollWidth "
                  f"{layout['scroll_width']}; screenshot {shot}")
            assert layout["label_texts"] == ["baseline · train", "baseline · test",
                                             "BN after · train", "BN after · test"]
            assert _inside(legend, chart), (screen, legend, chart)
            assert all(_inside(label, chart) for label in layout["labels"]), screen
            assert layout["scroll_width"] <= width, (screen, layout["scroll_width"])
            if screen == "projector":
                assert chart["y"] + chart["height"] <= height, chart  # on the first screen
            page.close()

        # Every width between: the sidebar opens from 800 px or so, which leaves the two
        # columns narrowest just above that.
        for width in (480, 600, 768, 820, 900, 1024, 1440, 1920):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            layout = _layout(page)
            assert _inside(layout["legend"], layout["chart"]), width
            assert all(_inside(label, layout["chart"]) for label in layout["labels"]), width
            assert layout["scroll_width"] <= width, width
            page.close()

        # Every tab on a phone: each chart as wide as its container at most, the page no
        # wider than the screen.
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(url)
        _layout(page)
        for tab in ("Convergence", "Parameters", "Predictions", "Inside BN",
                    "Train vs inference", "Why BN helps"):
            page.get_by_role("tab", name=tab).click()
            page.locator("[data-testid='stVegaLiteChart'] svg").first.wait_for(timeout=30_000) \
                if tab != "Convergence" else page.locator("[data-testid='stTable']").first \
                .wait_for(timeout=30_000)
            widths = page.evaluate("""() => [...document.querySelectorAll(
                "[data-testid='stVegaLiteChart'] svg")].map(svg => [
                svg.getBoundingClientRect().width,
                svg.closest("[data-testid='stVegaLiteChart']").getBoundingClientRect().width])""")
            assert all(drawn <= room + 0.5 for drawn, room in widths), (tab, widths)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, tab
        page.screenshot(path=str(ARTIFACTS / "browser-phone-why-bn-helps.png"), full_page=True)
        page.close()

        # present=1: the projector's view, the sidebar tucked away, the chart taller.
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{url}/?present=1")
        layout = _layout(page)
        page.screenshot(path=str(ARTIFACTS / "browser-present-1280x720.png"))
        assert page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") \
            == "true"
        assert layout["chart"]["height"] > 400 and _inside(layout["legend"], layout["chart"])
        print(f"present=1 1280×720: first chart {layout['chart']}")


@pytest.mark.slow
@pytest.mark.browser
def test_stop_shows_the_partial_result_and_viewers_watch_until_then(tmp_path):
    log_path = tmp_path / "streamlit.log"
    link = "?epochs=300&train_size=256"
    with page_server(tmp_path / "cache", log_path) as (url, browser):
        # Two contexts: two visitors, two sessions (the second never asked to train).
        starter = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        viewer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        starter.goto(f"{url}/{link}&run=1")
        progress = "Training both models: epoch"

        def epoch_shown(page) -> int:
            text = page.get_by_text(progress).first.inner_text(timeout=30_000)
            return int(text.split("epoch ", 1)[1].split(" ", 1)[0])

        starter.get_by_text(progress).first.wait_for(timeout=120_000)
        viewer.goto(f"{url}/{link}")
        viewer.get_by_text(progress).first.wait_for(timeout=60_000)
        # The progress line is drawn before the controls under it: wait for them.
        viewer.get_by_role("button", name="Stop watching").first.wait_for(timeout=30_000)
        assert viewer.get_by_role("button", name="Stop", exact=True).count() == 0
        seen = epoch_shown(viewer)
        deadline = time.monotonic() + 30
        while epoch_shown(viewer) <= seen:  # the viewer's progress moves on its own
            assert time.monotonic() < deadline, "the viewer's progress did not move"
            viewer.wait_for_timeout(200)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        starter.screenshot(path=str(ARTIFACTS / "browser-stop-before.png"))

        stop = starter.get_by_role("button", name="Stop", exact=True)
        stop.wait_for(timeout=30_000)
        clicked = time.monotonic()
        stop.click()
        partial = starter.get_by_text("Stopped at epoch").first
        partial.wait_for(timeout=10_000)
        seconds = time.monotonic() - clicked
        starter.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=10_000)
        starter.screenshot(path=str(ARTIFACTS / "browser-stop-partial.png"))
        # How fast is measured where a slow moment cannot fail a build: `bench/soak.py`
        # times each of its Stops.
        print(f"\nStop → partial result on the page: {seconds:.2f} s")
        # The viewer kept watching until the stop, and then sees the same partial result.
        viewer.get_by_text("Stopped at epoch").first.wait_for(timeout=10_000)
        assert viewer.get_by_text(progress).count() == 0
        for page in (starter, viewer):
            assert page.locator("[data-testid='stException']").count() == 0
    log = log_path.read_text()
    assert log.count("training started config=") == 1
    assert "status=stopped" in log


@pytest.mark.slow
@pytest.mark.browser
def test_the_normalisation_setting_and_its_presets_in_the_sidebar(tmp_path):
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_text("Normalisation").first.wait_for(timeout=30_000)
        for preset in ("Noisy BN (Santurkar)", "Small batches: BN vs GroupNorm"):
            sidebar.get_by_role("radio", name=preset).wait_for(timeout=10_000)  # one pill each
        sidebar.get_by_role("radio", name="Small batches: BN vs GroupNorm").click()
        page.get_by_text("GroupNorm after: 90 % train accuracy").first.wait_for(timeout=30_000)
        assert "normalization=group" in page.url and "batch_size=8" in page.url
        page.get_by_text("Group norm").first.wait_for(timeout=10_000)  # its two sentences
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        # The setting itself: the select shows the preset's value, and lists all eight.
        select = sidebar.get_by_role("combobox", name="Normalisation")
        assert select.input_value() == "group"
        sidebar.get_by_role("button", name="Open").click()
        options = page.locator("[role='option']")
        options.first.wait_for(timeout=10_000)
        assert [o.inner_text() for o in options.all()] == [
            "batch", "noisy-batch", "noise-only", "mean-only", "variance-only",
            "frozen-affine", "layer", "group"]
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Train vs inference").click()
        page.get_by_text("keeps no moving statistics").first.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-groupnorm-preset.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.slow
@pytest.mark.browser
def test_the_papers_own_experiments_open_from_their_presets(tmp_path):
    """Ioffe & Szegedy's MLP with its Fig. 1 view, and Bjorck et al.'s learning-rate sweep,
    both from the gallery: drawn at once, nothing trains."""
    log_path = tmp_path / "streamlit.log"
    with page_server(tmp_path / "cache", log_path) as (url, browser):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        sidebar = page.locator("[data-testid='stSidebar']")
        sidebar.get_by_role("radio", name="Ioffe & Szegedy's MLP").click()
        # The landing result is precomputed too: wait for the preset's own link, then its text.
        page.wait_for_url("**architecture=mlp-sigmoid**", timeout=30_000)
        page.get_by_text("BN before: 90 % train accuracy").first.wait_for(timeout=30_000)
        page.get_by_role("tab", name="Inside BN").click()
        page.get_by_text("Ioffe & Szegedy's own test").first.wait_for(timeout=30_000)
        page.get_by_text("Percentiles at steps 1,000, 10,000, 50,000").first.wait_for(
            timeout=30_000)
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-mlp-figure-1.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0

        sidebar.get_by_role("radio", name="BN and the learning rate (Bjorck)").click()
        page.wait_for_url("**optimizer=sgd**", timeout=30_000)
        page.get_by_role("tab", name="Learning rates").click()
        page.get_by_text("At the rates both models trained at").first.wait_for(timeout=30_000)
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "browser-bjorck-sweep.png"), full_page=True)
        assert page.locator("[data-testid='stException']").count() == 0
    assert "training started" not in log_path.read_text()
