"""axe-core's findings on bnviz's pages in Debian's chromium, against a real server: per page,
each rule broken, its impact and how many elements break it, and which are Streamlit's own
(`tests.a11y.STREAMLIT_OWNED`). The pages are those the accessibility test checks
(`tests.a11y.tour`).

    .venv/bin/python scripts/axe_report.py     # about two minutes
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.first_epoch import cpu_name  # noqa: E402  (after the path set-up)
from tests.a11y import ours, run_axe, tour  # noqa: E402
from tests.server import CHROMIUM, CHROMIUM_ARGS, Server  # noqa: E402


def main() -> int:
    """Print the report; exit 1 when a serious or critical violation is ours."""
    from playwright.sync_api import sync_playwright

    print(f"axe-core on bnviz, chromium, {cpu_name()}")
    failing = 0
    with tempfile.TemporaryDirectory() as scratch, \
            Server(Path(scratch) / "cache", Path(scratch) / "streamlit.log") as server, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, page in tour(browser, server.url):
            found = run_axe(page)
            mine = ours(page, found)
            failing += len(mine)
            print(f"\n## {name}: {len(found)} rules broken, {len(mine)} serious or critical "
                  "of ours")
            for violation in found:
                owner = "ours" if any(v.rule == violation.rule for v in mine) else (
                    "Streamlit's" if violation.impact in ("serious", "critical") else "")
                print(f"  {violation.rule} ({violation.impact}): {violation.nodes} "
                      f"{owner}  e.g. {', '.join(violation.targets[:2])}")
        browser.close()
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
