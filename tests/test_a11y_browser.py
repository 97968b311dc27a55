"""Every student can use it, checked in headless Debian chromium against a real server:
axe-core on every page a lesson and an exploration reach, each chart labelled by what its
caption says, a lesson walked from the keyboard alone, 200 % zoom without sideways
scrolling, and the two models still apart under emulated red-green colour blindness."""

from __future__ import annotations

import io

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bnviz import charts
from bnviz.lessons import lesson
from tests.a11y import (
    FIRST_CHART,
    TABS,
    describe,
    focus_owned_by_streamlit,
    open_tab,
    ours,
    run_axe,
    tour,
)
from tests.server import ARTIFACTS, page_server
from tests.test_a11y import contrast

LESSON = lesson("batch-norm")
TAB_LIMIT = 400  # Tab presses to reach any control: the sidebar's come first


@pytest.mark.slow
@pytest.mark.browser
def test_axe_finds_no_serious_or_critical_violation_of_ours_on_any_page(tmp_path):
    found = {}
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        for name, page in tour(browser, url):
            mine = ours(page, run_axe(page))
            if mine:
                found[name] = describe(mine)
            assert page.locator("[data-testid='stException']").count() == 0, name
    assert not found, "\n".join(f"{name}:\n{said}" for name, said in found.items())


@pytest.mark.slow
@pytest.mark.browser
def test_each_chart_is_labelled_by_the_words_under_it(tmp_path):
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator(FIRST_CHART).first.wait_for(timeout=60_000)
        labelled = page.evaluate("""() => [...document.querySelectorAll(
            "[data-testid='stVegaLiteChart']")].map(chart => [chart.getAttribute('aria-label'),
            chart.closest('[data-testid="stVerticalBlock"]').innerText])""")
        assert len(labelled) == 2  # accuracy and loss
        for label, around in labelled:
            assert label.startswith(("Accuracy per epoch", "Loss per epoch")), label
            assert label in around  # the same words, printed under the chart
        # Every word drawn in the charts (axes, legends, titles) reads as text: 4.5:1.
        fills = set(page.evaluate("""() => [...document.querySelectorAll(
            "[data-testid='stVegaLiteChart'] svg text")].map(text => text.getAttribute('fill'))"""))
        assert fills and all(contrast(fill) >= 4.5 for fill in fills), fills
        # The data, one click away: a table of the chart's series.
        page.get_by_text("Data table").first.click()
        page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0


def _focused(locator) -> bool:
    return locator.evaluate(
        "e => e === document.activeElement || e.contains(document.activeElement)")


_RING_SHOWN = """() => {
    if (document.activeElement === document.body) return true;  // nothing focused
    for (let e = document.activeElement, up = 0; e && up < 6; e = e.parentElement, up++) {
        const style = getComputedStyle(e);
        if ((style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
            || style.boxShadow !== 'none') return true;
    }
    return false; }"""
# A ring some controls draw only once React has redrawn them as focused (the settings'
# select boxes): on a busy machine that comes a moment after the Tab press.
RING_SECONDS = 2


def _focus_visible(page) -> bool:
    """Whether the focused element, or the control drawn around it, shows a focus ring
    (within `RING_SECONDS` of getting the focus)."""
    if page.evaluate(_RING_SHOWN):
        return True
    try:
        page.wait_for_function(_RING_SHOWN, timeout=RING_SECONDS * 1000, polling=50)
    except PlaywrightTimeout:
        return False
    return True


def tab_to(page, locator, unseen: list[str]) -> int:
    """Press Tab until ``locator`` has the focus (failing after `TAB_LIMIT` presses: out of
    reach, or focus trapped); returns the presses. Where a stop shows no focus ring, its
    element goes into ``unseen``."""
    for presses in range(TAB_LIMIT):
        if presses and not _focus_visible(page) and focus_owned_by_streamlit(page) is None:
            unseen.append(page.evaluate("document.activeElement.outerHTML.slice(0, 120)"))
        if _focused(locator):
            return presses
        page.keyboard.press("Tab")
    raise AssertionError(f"{locator} not reached with {TAB_LIMIT} Tab presses")


@pytest.mark.slow
@pytest.mark.browser
def test_a_lesson_walked_with_the_keyboard_alone(tmp_path):
    assert all(step.question is not None for step in LESSON.steps)  # the walk answers each
    steps = []
    unseen: list[str] = []
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/?lesson=batch-norm")
        for number, step in enumerate(LESSON.steps, start=1):
            page.get_by_text(f"step {number} of {len(LESSON.steps)}").first.wait_for(
                timeout=60_000)
            choice = step.question.choices[0].text
            # Tab to the first answer, Space chooses it, Tab to Answer, Enter sends it.
            presses = tab_to(page, page.get_by_role("radio", name=choice), unseen)
            page.keyboard.press("Space")
            page.get_by_role("radio", name=choice).and_(
                page.locator(":checked")).wait_for(timeout=10_000)
            presses += tab_to(page, page.get_by_role("button", name="Answer"), unseen)
            page.keyboard.press("Enter")
            page.get_by_text(f"Your answer, “{choice}”").first.wait_for(timeout=60_000)
            if number == 1:  # the result's tabs, from the keyboard: arrows move between them
                presses += tab_to(page, page.get_by_role("tab", name=TABS[0]), unseen)
                page.keyboard.press("ArrowRight")
                page.get_by_role("tab", name=TABS[1], selected=True).wait_for(timeout=30_000)
            if number < len(LESSON.steps):
                presses += tab_to(page, page.get_by_role("button", name="Next"), unseen)
                page.keyboard.press("Enter")
            steps.append(f"step {number} ({step.title}): {presses} Tab presses")
            assert page.locator("[data-testid='stException']").count() == 0
        # And back, from the last step.
        tab_to(page, page.get_by_role("button", name="Back"), unseen)
        page.keyboard.press("Enter")
        page.get_by_text(f"step {len(LESSON.steps) - 1} of").first.wait_for(timeout=60_000)
    print("\n" + "\n".join(steps))
    assert not unseen, f"focus without a visible ring: {sorted(set(unseen))[:5]}"


@pytest.mark.slow
@pytest.mark.browser
def test_every_tab_at_200_percent_zoom_needs_no_sideways_scrolling(tmp_path):
    # 200 % zoom of a 1280 px window: a 640 CSS px wide page at two device pixels each.
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        context = browser.new_context(viewport={"width": 640, "height": 450},
                                      device_scale_factor=2)
        page = context.new_page()
        page.goto(url)
        page.locator(FIRST_CHART).first.wait_for(timeout=60_000)
        wide = {}
        for tab in TABS:
            open_tab(page, tab)
            scroll, client = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            if scroll > client:
                wide[tab] = scroll - client
        page.screenshot(path=str(ARTIFACTS / "a11y-zoom-200.png"), full_page=False)
        assert not wide, f"pixels to scroll sideways, per tab: {wide}"


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("deficiency", ["deuteranopia", "protanopia"])
def test_the_two_models_stay_apart_in_chromiums_colour_blindness_emulation(tmp_path,
                                                                          deficiency):
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        chart.locator("svg, canvas").first.wait_for(timeout=60_000)
        page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)
        seen = _pixels(chart.screenshot())
        session = page.context.new_cdp_session(page)
        session.send("Emulation.setEmulatedVisionDeficiency", {"type": deficiency})
        emulated = _pixels(chart.screenshot())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"a11y-curves-{deficiency}.png").write_bytes(chart.screenshot())
    assert seen.shape == emulated.shape and not np.array_equal(seen, emulated)
    # The pixels drawn in each model's training colour, and what the emulation makes of them.
    apart = []
    for model in (0, 1):
        colour = np.array([int(charts.SERIES_COLOURS[model][0][i:i + 2], 16)
                           for i in (1, 3, 5)])
        where = np.abs(seen - colour).sum(axis=2) <= 12
        assert where.sum() >= 50, f"model {model}'s colour not found in the chart"
        apart.append(np.median(emulated[where], axis=0))
    distance = float(np.linalg.norm(apart[0] - apart[1]))
    assert distance >= 60, (deficiency, apart, distance)  # of 441, in sRGB: plainly apart



@pytest.mark.slow
@pytest.mark.browser
def test_the_landing_page_from_the_keyboard_a_preset_and_no_focus_trap(tmp_path):
    unseen: list[str] = []
    with page_server(tmp_path / "cache", tmp_path / "streamlit.log") as (url, browser):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator(FIRST_CHART).first.wait_for(timeout=60_000)
        # Tab through the whole page: focus comes back round to where it started (to the
        # browser and back in), so nothing on the way holds it.
        stops = []
        for _ in range(TAB_LIMIT):
            page.keyboard.press("Tab")
            stop = page.evaluate("document.activeElement === document.body ? null : "
                                 "document.activeElement.outerHTML.slice(0, 200)")
            if stop is not None and stops and stop == stops[0]:
                break
            if stop is not None:
                stops.append(stop)
        else:
            raise AssertionError(f"focus never came round in {TAB_LIMIT} presses: {stops[-3:]}")
        assert len(stops) > 20, stops  # the sidebar's controls, the tabs, the buttons
        # A preset, chosen with the keyboard: the presets are one radio group (one tab stop,
        # arrows between them); the second, Quick look, opens its result.
        tab_to(page, page.get_by_role("radio", name="The blog post"), unseen)
        page.keyboard.press("ArrowRight")
        if not _focused(page.get_by_role("radio", name="Quick look")):
            raise AssertionError("the arrow key did not move to the next preset")
        page.keyboard.press("Space")
        page.wait_for_url("**epochs=20**", timeout=60_000)  # Quick look: the blog's, 20 epochs
        page.get_by_role("radio", name="Quick look", checked=True).wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
    print(f"\n{len(stops)} stops in one round of Tab")
    assert not unseen, f"focus without a visible ring: {sorted(set(unseen))[:5]}"
