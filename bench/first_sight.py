"""First sight, the way the web measures it: Largest Contentful Paint and the first chart
drawn, in Debian's chromium, idle and with the CPU slowed 4× (Lighthouse's mobile setting),
on a real server (127.0.0.1); and how soon a preset click paints.

    .venv/bin/python bench/first_sight.py              # 3 loads of each page, each way (~3 min)
    .venv/bin/python bench/first_sight.py --loads 5
    .venv/bin/python bench/first_sight.py --floor    # and the floor: the two charts alone

Pages: the landing page (no link: the gallery's blog result) and a stored link (a small
configuration trained once before the loads, so its result is in the store). Each load is a
fresh browser context (nothing cached) on a server that has settled (its warm spare started).
Before them, the very first visit of the fresh server is timed once ("cold").

* LCP: the last ``largest-contentful-paint`` entry when the first chart is drawn. A canvas is
  no LCP candidate, so LCP can be the title while the chart is still missing: hence
* first chart: when the first results chart is drawn (Streamlit draws Vega as SVG: its
  ``svg.marks``, or a ``<canvas>``) with a size, polled in the
  page every 10 ms (what a student waits for).
* preset click: on the landed page, a click on the preset Quick look; the Event Timing API's
  longest interaction (what Core Web Vitals' INP reads: the click until the pill is painted
  as chosen), and when the server's answer has come (the page writes the preset's settings
  into its link), both measured in the page.

The CPU slowdown is `Emulation.setCPUThrottlingRate` over the DevTools protocol; it slows
the page's main thread, not the server. Every figure is the median of ``--loads`` loads;
the CPU is named.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402  (after the path set-up)
from bench.load import RESULTS_CHART, _settle, link, open_sessions, tiny  # noqa: E402
from tests.server import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402

# Recorded in the page from its first byte: LCP entries, event timings, the first chart.
OBSERVE = """
window.__sight = {lcp: 0, events: [], chart: null, element: null, running: null, errors: []};
try {
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) window.__sight.lcp = e.startTime;
  }).observe({type: 'largest-contentful-paint', buffered: true});
} catch (e) { window.__sight.errors.push(String(e)); }
try {
  new PerformanceObserver(list => {
    for (const e of list.getEntries())
      if (e.interactionId) window.__sight.events.push({start: e.startTime, duration: e.duration});
  }).observe({type: 'event', buffered: true, durationThreshold: 16});
} catch (e) { window.__sight.errors.push(String(e)); }
setInterval(() => {
  // The chart's element, before Vega has drawn in it: the time between the two is the
  // browser's (Vega's code loaded, the spec compiled, the marks drawn), not the server's.
  if (window.__sight.element === null && document.querySelector(ELEMENT_SELECTOR))
    window.__sight.element = performance.now();
  const drawn = document.querySelector(CHART_SELECTOR);
  if (drawn && window.__sight.chart === null) {
    const box = drawn.getBoundingClientRect();
    if (box.width > 0 && box.height > 0) window.__sight.chart = performance.now();
  }
  // After a preset click: when the server's answer has come (the page writes the preset's
  // settings into the link).
  if (window.__sight.clicked && window.__sight.running === null
      && location.search.includes(window.__sight.clicked)) {
    window.__sight.running = performance.now();
  }
}, 10);
""".replace("ELEMENT_SELECTOR", json.dumps(RESULTS_CHART)).replace(
    "CHART_SELECTOR", json.dumps(", ".join(f"{RESULTS_CHART} {kind}"
                                           for kind in ("canvas", "svg.marks"))))


async def load(browser, url: str, throttle: float, timeout: float = 90,
               click_preset: str | None = None) -> dict:
    """One load of ``url`` in a fresh context: LCP and first chart (seconds since
    navigation start), and with ``click_preset`` the click's figures."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.add_init_script(OBSERVE)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        await page.goto(url, wait_until="commit", timeout=timeout * 1000)
        await page.wait_for_function("window.__sight && window.__sight.chart !== null",
                                     timeout=timeout * 1000, polling=50)
        sight = await page.evaluate("window.__sight")
        out = {"lcp_seconds": sight["lcp"] / 1000, "first_chart_seconds": sight["chart"] / 1000,
               "chart_element_seconds": sight["element"] / 1000}
        if click_preset:
            await page.evaluate("window.__sight.events = []; window.__sight.clicked = "
                                "'epochs=20'; window.__sight.clickedAt = performance.now()")
            await page.get_by_role("radio", name=click_preset, exact=True).click()
            await page.wait_for_function("window.__sight.running !== null",
                                         timeout=timeout * 1000, polling=20)
            await page.wait_for_timeout(500)  # let the event entries arrive
            sight = await page.evaluate("window.__sight")
            # The click's own paint (the pill drawn as chosen) is the interaction's duration.
            out["click_inp_ms"] = max((e["duration"] for e in sight["events"]), default=0.0)
            out["click_to_answer_ms"] = sight["running"] - sight["clickedAt"]
        return out
    finally:
        await context.close()


async def measure(server: Server, pages: dict[str, str], loads: int,
                  throttles: tuple[float, ...], cold: bool = False) -> dict:
    """Every page, each throttle, ``loads`` times: the medians; with ``cold``, the server's
    very first visit (the landing page) alone."""
    from playwright.async_api import async_playwright

    figures: dict = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=CHROMIUM_ARGS)
        try:
            if cold:
                first = await load(browser, server.url + pages["landing"], 1.0)
                return {f"cold_landing_{k}": round(v, 2) for k, v in first.items()}
            for name, path in pages.items():
                for throttle in throttles:
                    _settle(server)
                    seen = [await load(browser, server.url + path, throttle,
                                       click_preset="Quick look" if name == "landing" else None)
                            for _ in range(loads)]
                    label = f"{name}_{'idle' if throttle == 1 else f'{throttle:g}x_slower'}"
                    for key in seen[0]:
                        values = [s[key] for s in seen]
                        digits = 0 if key.endswith("_ms") else 2
                        figures[f"{label}_{key}_median"] = round(statistics.median(values),
                                                                  digits)
                        figures[f"{label}_{key}_all"] = [round(v, digits) for v in values]
        finally:
            await browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--floor", action="store_true",
                        help="also the floor: a page of the landing's two charts alone "
                        "(bench/floor_app.py), the fastest the first chart can come")
    args = parser.parse_args()
    stored = tiny(3, 256, seed=41)
    with tempfile.TemporaryDirectory(prefix="bnviz-sight-") as tmp, \
            Server(Path(tmp) / "cache", Path(tmp) / "server.log") as server:
        pages = {"landing": "/", "stored": link(stored, run=False)}
        began = time.monotonic()
        figures = {"cpu": cpu_name()}
        figures.update(asyncio.run(measure(server, pages, 0, (), cold=True)))
        trained = open_sessions(server.url, [link(stored, run=True)], 0, client="websocket")[0]
        if trained.seconds_to_charts is None:
            raise SystemExit(f"could not store {stored.describe()}: {trained.problems}")
        figures.update(asyncio.run(measure(server, pages, args.loads, (1.0, 4.0))))
    if args.floor:
        with tempfile.TemporaryDirectory(prefix="bnviz-floor-") as tmp, \
                Server(Path(tmp) / "cache", Path(tmp) / "server.log",
                       script=ROOT / "bench" / "floor_app.py") as floor:
            figures.update(asyncio.run(measure(floor, {"floor": "/"}, args.loads, (1.0, 4.0))))
    figures["seconds"] = round(time.monotonic() - began)
    print("\n== first sight")
    for key, value in figures.items():
        if not key.endswith("_all"):
            print(f"  {key:48s} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
