"""What-ifs at once in headless Debian chromium against a real `streamlit run`: a 30-epoch
link of the blog's settings opens cut from the stored run, and the scrubber, moved with the
keyboard, moves the tabs."""

from __future__ import annotations

import re

import pytest

from tests.server import ARTIFACTS, page_server


@pytest.mark.slow
@pytest.mark.browser
def test_a_cut_link_opens_at_once_and_the_scrubber_moves_the_predictions(tmp_path):
    log_path = tmp_path / "streamlit.log"
    with page_server(tmp_path / "cache", log_path) as (url, browser):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?epochs=30")
        page.get_by_text("cut at epoch 30 and its first seed").first.wait_for(timeout=60_000)
        page.locator("[data-testid='stVegaLiteChart']").first.locator(
            "canvas, svg").first.wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
        # First sight loads no syntax highlighter (1.5 MB of script): Share this view is shut.
        scripts = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
        assert not [name for name in scripts if "SyntaxHighlighter" in name]

        # The scrubber, from the keyboard: its thumb is a slider; Home goes to epoch 1.
        thumb = page.get_by_role("slider", name=re.compile("Show the models after epoch"))
        thumb.focus()
        thumb.press("Home")
        page.get_by_role("tab", name="Predictions").click()
        page.get_by_text(re.compile(r"^After epoch 1: ")).first.wait_for(timeout=30_000)
        thumb = page.get_by_role("slider", name=re.compile("Show the models after epoch"))
        thumb.focus()
        thumb.press("End")
        page.get_by_text(re.compile(r"^After epoch 30: ")).first.wait_for(timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-scrubber.png"), full_page=False)
    assert "training started config=" not in log_path.read_text()
