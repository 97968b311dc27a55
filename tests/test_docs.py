"""The docs: a short README with the two commands, links that lead somewhere, and a settings
table that is the configuration's own. Fast: reads files, imports no TensorFlow."""

from __future__ import annotations

import difflib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, ROOT / "bench" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIX = "run `python scripts/settings_table.py --write`"

_FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _settings_table():
    spec = importlib.util.spec_from_file_location(
        "settings_table", ROOT / "scripts" / "settings_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where link syntax is not a link."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _links(path: Path) -> list[tuple[str, str]]:
    return [(match["text"], match["target"])
            for match in _LINK.finditer(_prose(path.read_text(encoding="utf-8")))]


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file (duplicates get -1, -2, …)."""
    found: set[str] = set()
    for line in _FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading[1].lower()).replace(" ", "-")
        candidate, number = slug, 0
        while candidate in found:
            number += 1
            candidate = f"{slug}-{number}"
        found.add(candidate)
    return found


def test_the_settings_table_in_docs_is_generated_from_the_config():
    script = _settings_table()
    doc = ROOT / "docs" / "experiment.md"
    text = doc.read_text(encoding="utf-8")
    try:
        written = script.block(text)
    except ValueError as error:
        pytest.fail(f"docs/experiment.md: {error}; put them back and {FIX}")
    generated = script.table()
    if written != generated:
        diff = "\n".join(difflib.unified_diff(
            written.splitlines(), generated.splitlines(), "docs/experiment.md", "generated",
            lineterm=""))
        pytest.fail(f"docs/experiment.md's settings table is not ExperimentConfig's: {FIX}\n"
                    f"{diff}")


def test_the_table_has_a_row_for_every_setting_and_its_choices():
    from bnviz.config import field_meta, field_names

    table = _settings_table().table()
    for name in field_names():
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` |")),
                   None)
        assert row is not None, name
        for choice in field_meta(name).get("choices") or ():
            assert f"`{choice}`" in row, (name, choice)


def test_the_settings_script_prints_the_table_without_importing_tensorflow():
    script = str(ROOT / "scripts" / "settings_table.py")
    check = (
        "import runpy, sys\n"
        "sys.argv = ['settings_table.py']\n"
        "try:\n"
        f"    runpy.run_path({script!r}, run_name='__main__')\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        "heavy = sorted({'tensorflow', 'keras', 'streamlit'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == _settings_table().table()


def test_the_readme_is_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, (
        f"README.md has {len(lines)} lines; it is the front door: move detail into docs/")


def test_the_readme_has_the_two_commands_and_the_quick_loop():
    text = README.read_text(encoding="utf-8")
    code_lines = [line.strip() for match in _FENCE.finditer(text)
                  for line in match[0].splitlines()]
    for command in ("bash scripts/app.sh", "bash scripts/test.sh",
                    'bash scripts/test.sh -m "not slow and not browser"'):
        assert any(line == command or line.startswith(command + " ") for line in code_lines), (
            f"README.md lost the command {command!r}")
    assert "`bash .ci/run`" in text, "README.md no longer says CI runs `bash .ci/run`"


def test_the_readme_shows_the_screenshot_with_words_for_it():
    shots = [text for text, target in _links(README) if target == "docs/screenshot.png"]
    assert shots, "README.md does not embed docs/screenshot.png"
    assert len(shots[0].split()) >= 10, "the screenshot's alt text should say what it shows"
    assert (ROOT / "docs" / "screenshot.png").is_file()


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page):
    broken = []
    for text, target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, …
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists():
            broken.append(f"[{text}]({target}): no {path_part}")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"[{text}]({target}): no heading #{anchor} in {linked.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)
