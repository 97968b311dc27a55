"""axe-core in chromium, for the accessibility test (tests/test_a11y_browser.py) and its
report (scripts/axe_report.py): which violations a page has, and which of them are
Streamlit's own, not ours.

Every rule a page breaks is counted by (rule, impact, nodes). What is Streamlit's is listed
once, in `STREAMLIT_OWNED`, each with the element it is on and why it is not ours to change;
the test fails on any serious or critical violation outside that list.
"""

from __future__ import annotations

from dataclasses import dataclass

# Impacts the test fails on (axe's scale: minor, moderate, serious, critical).
FAILING_IMPACTS = ("serious", "critical")


@dataclass(frozen=True)
class Owned:
    """A violation on Streamlit's own markup: ``rule`` on elements matching ``selector``
    (a CSS selector axe's node target ends in, or an element the node is inside)."""

    rule: str
    selector: str
    reason: str


# Streamlit's own markup, which bnviz does not draw and should not patch. Keep the reason
# and the upstream issue with each; the README's accessibility section lists the same.
STREAMLIT_OWNED: tuple[Owned, ...] = (
    # Keyboard stops that show no focus ring (the keyboard walk's check, not an axe rule).
    Owned("focus-ring", "[data-testid='stMain']",
          "Streamlit makes its main scroll container a tab stop (tabindex 0, for scrolling "
          "with the arrow keys) and draws no ring on it; no upstream issue found."),
    Owned("focus-ring", "[data-testid='data-grid-canvas']",
          "st.dataframe's grid (Glide Data Grid) takes focus on its canvas and marks the "
          "focused cell only once one is chosen; streamlit/streamlit#13332."),
    Owned("focus-ring", "[data-testid='stBaseButton-elementToolbar']",
          "the toolbar over a dataframe or chart (fullscreen, search, columns) is drawn "
          "only on hover; streamlit/streamlit#13332."),
)


@dataclass(frozen=True)
class Violation:
    """One axe rule broken on a page: its impact and the elements (axe's targets)."""

    rule: str
    impact: str
    targets: tuple[str, ...]
    help: str

    @property
    def nodes(self) -> int:
        """How many elements break the rule."""
        return len(self.targets)


def run_axe(page) -> list[Violation]:
    """Every violation axe-core finds on ``page`` as it is now (WCAG 2.0, 2.1 and 2.2, A and
    AA, and axe's best practices)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"resultTypes": ["violations"],
               "runOnly": {"type": "tag", "values": [
                   "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}}
    found = Axe().run(page, options=options).response["violations"]
    return [Violation(rule=item["id"], impact=item["impact"] or "minor",
                      targets=tuple(" ".join(map(str, node["target"])) for node in item["nodes"]),
                      help=item["help"])
            for item in found]


def focus_owned_by_streamlit(page) -> Owned | None:
    """The `STREAMLIT_OWNED` entry that explains why the focused element shows no ring."""
    for owned in STREAMLIT_OWNED:
        if owned.rule == "focus-ring" and page.evaluate(
                "selector => !!document.activeElement.closest(selector)", owned.selector):
            return owned
    return None


def owned_by_streamlit(page, violation: Violation, target: str) -> Owned | None:
    """The `STREAMLIT_OWNED` entry that explains ``target`` breaking ``violation.rule``."""
    for owned in STREAMLIT_OWNED:
        if owned.rule != violation.rule:
            continue
        inside = page.evaluate(
            "([target, selector]) => { const node = document.querySelector(target);"
            " return !!node && !!node.closest(selector); }", [target, owned.selector])
        if inside:
            return owned
    return None


def ours(page, violations: list[Violation]) -> list[Violation]:
    """The serious and critical violations on ``page`` that are not Streamlit's own."""
    left = []
    for violation in violations:
        if violation.impact not in FAILING_IMPACTS:
            continue
        targets = tuple(target for target in violation.targets
                        if owned_by_streamlit(page, violation, target) is None)
        if targets:
            left.append(Violation(violation.rule, violation.impact, targets, violation.help))
    return left


def describe(violations: list[Violation]) -> str:
    """One line per violation: rule (impact): nodes, and the first targets."""
    return "\n".join(f"{v.rule} ({v.impact}): {v.nodes}  {v.help}; e.g. {', '.join(v.targets[:3])}"
                     for v in violations) or "none"


TABS = ("Learning curves", "Convergence", "Parameters", "Predictions", "Inside BN",
        "Train vs inference", "Why BN helps", "Learning rates", "About batch norm")
# A training small enough for a test and long enough to be checked while it runs.
RUNNING_LINK = "?epochs=40&train_size=1024&seeds=1&run=1"
FIRST_CHART = "[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg"


def _settled(page, text: str | None = None) -> None:
    """Wait until ``text`` shows (when given) and the page has stopped running."""
    if text is not None:
        page.get_by_text(text).first.wait_for(timeout=60_000)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="hidden", timeout=60_000)


# Only the open tab is drawn (`ui.sections`), so a tab just clicked is empty until the run
# the click starts has drawn it; the run is over when Streamlit marks its app root
# "notRunning" again. Neither the status widget (a short run ends before it is shown) nor
# that mark alone can tell: React may commit a short run's "running" and "notRunning" at once.
# While Streamlit redraws the tab bar, its tabs briefly have no tabindex at all (a moment in
# which axe, rightly, finds a scrollable tab bar with nothing focusable in it); settled, the
# chosen tab is the bar's one tab stop.
_TAB_DRAWN = """() => {
    const tab = document.querySelector("[role='tab'][aria-selected='true'][tabindex='0']");
    const panel = document.querySelector("[role='tabpanel']");
    return !!tab && !!panel && panel.getAttribute('aria-labelledby') === tab.id
        && !!panel.querySelector("[data-testid='stElementContainer']")
        && document.querySelector("[data-testid='stApp']")
            .getAttribute('data-test-script-state') === 'notRunning'; }"""


def open_tab(page, name: str) -> None:
    """Click the result's tab ``name`` (unless it is open) and wait until the run the click
    starts has drawn it and is over, and the tab bar is drawn whole again."""
    if not page.get_by_role("tab", name=name, selected=True).count():
        page.get_by_role("tab", name=name).click()
        page.get_by_role("tab", name=name, selected=True).wait_for(timeout=30_000)
    page.wait_for_function(_TAB_DRAWN, timeout=60_000)
    _settled(page)


def _question(browser, address: str, viewport: dict[str, int]):
    """A new page at ``address``, once its lesson question (a radio group) is drawn."""
    page = browser.new_page(viewport=viewport)
    page.goto(address)
    page.get_by_role("radiogroup").first.wait_for(timeout=60_000)
    _settled(page)
    return page


def tour(browser, url: str):
    """The pages the accessibility test checks, one after another, as ``(name, page)``: the
    landing page, each tab of its stored result, ``present=1``, a running training, a lesson
    step with its question as a student alone and in a class, and the teacher's view.
    Each page is settled (drawn, not running) when it is yielded, except the training, which
    is yielded while it runs."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    page.locator(FIRST_CHART).first.wait_for(timeout=60_000)
    _settled(page)
    yield "landing", page
    for tab in TABS[1:]:
        open_tab(page, tab)
        yield f"tab {tab}", page
    page.close()

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{url}/?present=1")
    page.locator(FIRST_CHART).first.wait_for(timeout=60_000)
    _settled(page)
    yield "present=1", page
    page.close()

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/{RUNNING_LINK}")
    page.get_by_role("button", name="Stop").wait_for(timeout=60_000)
    page.get_by_text("Epoch").first.wait_for(timeout=60_000)
    yield "running training", page
    page.get_by_role("button", name="Stop").click()
    page.close()

    page = _question(browser, f"{url}/?lesson=batch-norm", {"width": 1280, "height": 900})
    yield "lesson question (alone)", page
    page.close()

    teacher = browser.new_page(viewport={"width": 1280, "height": 900})
    teacher.goto(f"{url}/?lesson=batch-norm&teach=1")
    teacher.wait_for_url("**key=**", timeout=60_000)
    teacher.get_by_role("button", name="Reveal").wait_for(timeout=60_000)
    _settled(teacher)
    yield "lesson question (teacher)", teacher
    code = teacher.url.split("room=")[1].split("&")[0]
    student = _question(browser, f"{url}/?room={code}", {"width": 390, "height": 844})
    yield "lesson question (student in a class)", student
    student.close()
    teacher.close()
