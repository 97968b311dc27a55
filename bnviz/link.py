"""Reading a shared link (URL query) defensively, and showing its text safely.

A link is written by anyone: it may repeat keys, carry unknown ones, hold very
long, non-numeric, non-finite or out-of-range values, unicode, or markup. The
page must still render, name every bad parameter, fall back to defaults and
never train a configuration that `ExperimentConfig` rejects (its validation
holds the field ranges and the size caps). Nothing here imports Streamlit:
``ui/state.py`` passes in the query as ``{key: [values]}``.

Every piece of link text that reaches the page goes through `markdown_literal`,
because Streamlit's alerts render Markdown: without it a value could become a
link, an image, emphasis, an emoji, a colour directive or maths.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bnviz.config import ExperimentConfig

RUN_PARAM = "run"
RUN_YES = frozenset({"1", "true", "yes", "on"})
RUN_NO = frozenset({"", "0", "false", "no", "off"})
MAX_SHOWN = 40  # characters of a name or value a warning quotes
MAX_MESSAGE = 200  # characters of a validation message a warning quotes
MAX_WARNINGS = 8  # warnings listed one by one; the rest are counted


@dataclass(frozen=True)
class LinkProblem:
    """One parameter of the link that was ignored (or partly ignored), and why."""

    name: str
    message: str
    uses_default: bool = True  # False when the value was used (a repeated key)


@dataclass(frozen=True)
class LinkReading:
    """What a link asks for: the configuration, whether to train, and what was wrong."""

    config: ExperimentConfig
    run: bool
    problems: list[LinkProblem] = field(default_factory=list)


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_literal(text: str, limit: int = MAX_SHOWN) -> str:
    """Markdown that displays ``text`` literally, shortened: never markup, links or HTML.

    Control and format characters (newlines, bidi overrides, zero-width marks)
    are replaced by a visible ``�``; every ASCII punctuation character is
    backslash-escaped, which CommonMark defines as "show this character", so no
    link, autolink, emphasis, HTML tag, emoji short code (``:x:``), colour
    directive (``:red[...]``) or ``$maths$`` can start.
    """
    text = shorten(str(text), limit)
    cleaned = "".join("�" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
                      for c in text)
    escaped = "".join("\\" + c if c.isascii() and not c.isalnum() and c != " " else c
                      for c in cleaned)
    return escaped if escaped.strip() else "(empty)"


def problem_markdown(problem: LinkProblem) -> str:
    """The page's warning for one problem, safe to render as Markdown."""
    if not problem.uses_default:
        return (f"Link parameter **{markdown_literal(problem.name)}** "
                f"{markdown_literal(problem.message, MAX_MESSAGE)}.")
    return (f"Link parameter **{markdown_literal(problem.name)}** ignored: "
            f"{markdown_literal(problem.message, MAX_MESSAGE)}. Using the default instead.")


def read_link(query: Mapping[str, Sequence[str]]) -> LinkReading:
    """Parse a link's query (each key with all its values, in order).

    Rules, each reported as a `LinkProblem` naming the parameter:

    * a repeated key uses its last value (as Streamlit's ``st.query_params[key]``
      and most web frameworks do), with a warning saying so;
    * an unknown key, or a value the configuration rejects, is ignored: that
      setting keeps its default;
    * ``run`` must be a yes/no word; anything else means "do not train".
    """
    problems: list[LinkProblem] = []
    values: dict[str, str] = {}
    for key, given in query.items():
        given = list(given) or [""]
        if len(given) > 1:
            problems.append(LinkProblem(key, f"given {len(given)} times; only the last "
                                             f"value, {shorten(given[-1])!r}, is read",
                                        uses_default=False))
        values[key] = given[-1]
    run_text = values.pop(RUN_PARAM, "0").strip().lower()
    run = run_text in RUN_YES
    if not run and run_text not in RUN_NO:
        problems.append(LinkProblem(RUN_PARAM, f"cannot read {shorten(run_text)!r} as yes or "
                                               "no (use run=1 to train on opening)"))
    config, errors = ExperimentConfig.from_mapping_lenient(values)
    for error in errors:
        # An unknown key is named by the key itself, which config shortens to 40 characters.
        name = error.field if error.field in values else next(
            (key for key in values if key.startswith(error.field)), error.field)
        problems.append(LinkProblem(name, error.message))
    return LinkReading(config=config, run=run, problems=problems)


def problems_markdown(problems: Sequence[LinkProblem]) -> list[str]:
    """One Markdown warning per problem, at most `MAX_WARNINGS`, then a count of the rest."""
    shown = [problem_markdown(p) for p in problems[:MAX_WARNINGS]]
    if len(problems) > MAX_WARNINGS:
        shown.append(f"{len(problems) - MAX_WARNINGS} more link parameters ignored.")
    return shown
