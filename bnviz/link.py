"""Reading a shared link (URL query) defensively, and showing its text safely.

A link is written by anyone: it may repeat keys, carry unknown ones, hold very
long, non-numeric, non-finite or out-of-range values, unicode, or markup. The
page must still render, name every bad parameter, fall back to defaults and
never train a configuration that `ExperimentConfig` rejects (its validation
holds the field ranges and the size caps). Nothing here imports Streamlit:
``ui/state.py`` passes in the query as ``{key: [values]}``.

Every piece of link text that reaches the page goes through `markdown_code`:
Streamlit's alerts render Markdown (with GitHub's autolinks, emoji short codes,
colour directives and maths), and backslash escapes do not stop GitHub's
autolinks (``http://…`` still becomes a link), but an inline code span shows
its content literally. Checked in a real browser by ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bnviz.classroom import HIDE_PARAM, KEY_PARAM, PARAMS, TEACH_PARAM, LessonLink
from bnviz.config import WORK_FIELDS, ConfigError, ExperimentConfig, field_meta, field_names

RUN_PARAM = "run"
# Presentation mode for a projector: a way of showing, not part of the experiment (so not in
# the configuration or its hash).
PRESENT_PARAM = "present"
RUN_YES = frozenset({"1", "true", "yes", "on"})
RUN_NO = frozenset({"", "0", "false", "no", "off"})
MAX_SHOWN = 40  # characters of a name or value a warning quotes
MAX_MESSAGE = 200  # characters of a validation message a warning quotes
MAX_WARNINGS = 8  # warnings listed one by one; the rest are counted
MAX_LESSON_TEXT = 100  # characters of a lesson, room, key or step parameter read at all


@dataclass(frozen=True)
class LinkProblem:
    """One parameter of the link that was ignored (or partly ignored), and why.

    ``message`` is our own text; where it says ``{value}``, the page shows
    ``value`` (the link's text) as a literal code span.
    """

    name: str
    message: str
    value: str | None = None
    uses_default: bool = True  # False when the value was used (a repeated key)


@dataclass(frozen=True)
class LinkReading:
    """What a link asks for: the configuration, whether to train, whether to present (for a
    projector), and what was wrong."""

    config: ExperimentConfig
    run: bool
    problems: list[LinkProblem] = field(default_factory=list)
    present: bool = False
    lesson: LessonLink = field(default_factory=LessonLink)  # of lessons (bnviz.classroom)
    given: frozenset[str] = frozenset()  # the settings it gave a valid value for


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown_code(text: str, limit: int = MAX_SHOWN) -> str:
    """Markdown that shows ``text`` literally, shortened, as an inline code span.

    Inside a code span Markdown does nothing: no link, autolink, emphasis, HTML,
    emoji, directive or maths. What could end the span early is replaced:
    backticks by ``ʹ``, and control, format and line-separator characters
    (newlines, bidi overrides, zero-width marks) by a visible ``�``.
    """
    text = shorten(str(text), limit)
    cleaned = "".join(
        "ʹ" if c == "`" else "�" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in text)
    return f"`{cleaned}`" if cleaned.strip() else "(empty)"


def markdown_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """Our own message text for Markdown, shortened, with its punctuation escaped."""
    return "".join("\\" + c if c.isascii() and not c.isalnum() and c != " " else c
                   for c in shorten(str(text), limit))


def problem_markdown(problem: LinkProblem) -> str:
    """The page's warning for one problem, safe to render as Markdown."""
    message = markdown_text(problem.message)
    if problem.value is not None:
        message = message.replace(markdown_text("{value}"), markdown_code(problem.value))
    name = f"Link parameter **{markdown_code(problem.name)}**"
    if not problem.uses_default:
        return f"{name} {message}."
    return f"{name} ignored: {message}. Using the default instead."


def read_link(query: Mapping[str, Sequence[str]]) -> LinkReading:
    """Parse a link's query (each key with all its values, in order).

    Rules, each reported as a `LinkProblem` naming the parameter:

    * a repeated key uses its last value (as Streamlit's ``st.query_params[key]``
      and most web frameworks do), with a warning saying so;
    * an unknown key, or a value the configuration rejects, is ignored: that
      setting keeps its default;
    * ``run`` and ``present`` must be yes/no words; anything else means "no".
    """
    problems: list[LinkProblem] = []
    values: dict[str, str] = {}
    for key, given in query.items():
        given = list(given) or [""]
        if len(given) > 1 and key == KEY_PARAM:  # a teacher's key is never shown on a page
            problems.append(LinkProblem(key, f"given {len(given)} times; only the last value "
                                             "is read", uses_default=False))
        elif len(given) > 1:
            problems.append(LinkProblem(key, f"given {len(given)} times; only the last value, "
                                             "{value}, is read", given[-1], uses_default=False))
        values[key] = given[-1]
    run = _switch(values, RUN_PARAM, problems, "run=1 trains on opening", "so nothing trains")
    present = _switch(values, PRESENT_PARAM, problems, "present=1 shows the page for a "
                      "projector", "so the page shows as usual")
    lesson = _lesson_link(values, problems)
    for name in list(values):
        if name not in field_names():
            problems.append(LinkProblem(name, "unknown setting"))
            del values[name]
            continue
        try:
            ExperimentConfig.from_mapping({name: values[name]})
        except ConfigError as error:
            if error.field != name:
                continue  # a rule across fields (the work cap): judged with the others below
            problems.append(LinkProblem(name, _expected(name) + ", not {value}", values[name]))
            del values[name]
    config = _config(values, problems)
    return LinkReading(config=config, run=run, problems=problems, present=present,
                       lesson=lesson, given=frozenset(values))


def _lesson_link(values: dict[str, str], problems: list[LinkProblem]) -> LessonLink:
    """Take the lesson and class parameters (`bnviz.classroom.PARAMS`) out of ``values``.
    Whether a lesson, room or step exists is `bnviz.classroom.place`'s to say."""
    texts = {name: values.pop(name) for name in PARAMS if name in values}
    teach = _switch(texts, TEACH_PARAM, problems, "teach=1 starts a class",
                    "so no class starts")
    hide = tuple(part.strip().lower() for part in texts.pop(HIDE_PARAM, "").split(",")
                 if part.strip())
    for name in hide:
        if name not in field_names():
            problems.append(LinkProblem(HIDE_PARAM, "names {value}, which is no setting",
                                        name, uses_default=False))
    kept = {name: text.strip()[:MAX_LESSON_TEXT] for name, text in texts.items()}
    return LessonLink(lesson=kept.get("lesson"), step=kept.get("step"), teach=teach,
                      room=kept.get("room"), key=kept.get("key"), me=kept.get("me"),
                      hide=tuple(name for name in hide if name in field_names()))


def _switch(values: dict[str, str], name: str, problems: list[LinkProblem], meaning: str,
            otherwise: str) -> bool:
    """Take the yes/no parameter ``name`` out of ``values``: on, off (absent, empty), or
    neither (a problem saying what happens instead)."""
    text = values.pop(name, "0").strip().lower()
    if text in RUN_YES:
        return True
    if text not in RUN_NO:
        problems.append(LinkProblem(name, "{value} is not yes or no (" + meaning + "), "
                                    + otherwise, text))
    return False


def _expected(name: str) -> str:
    """What a field accepts, in words (built from the config's field metadata)."""
    meta = field_meta(name)
    if meta["type"] is bool:
        return "must be true or false"
    if meta["choices"]:
        return "must be one of " + ", ".join(meta["choices"])
    kind = "a whole number" if meta["type"] is int else "a number"
    return f"must be {kind} from {meta['min']:g} to {meta['max']:g}"


def _config(values: dict[str, str], problems: list[LinkProblem]) -> ExperimentConfig:
    """The config of the values each valid alone; a rule across fields (a cap on the
    total work) may still refuse them together: then drop the named field and retry."""
    while True:
        try:
            return ExperimentConfig.from_mapping(values)
        except ConfigError as error:
            culprit = error.field if error.field in values else next(
                (name for name in (*WORK_FIELDS, *values) if name in values), None)
            if culprit is None:
                raise  # the defaults themselves are refused: a bug in the config, not the link
            problems.append(LinkProblem(culprit, error.message + ", with {value}",
                                        values.pop(culprit)))


def problems_markdown(problems: Sequence[LinkProblem]) -> list[str]:
    """One Markdown warning per problem, at most `MAX_WARNINGS`, then a count of the rest."""
    shown = [problem_markdown(p) for p in problems[:MAX_WARNINGS]]
    if len(problems) > MAX_WARNINGS:
        shown.append(f"{len(problems) - MAX_WARNINGS} more link parameters ignored.")
    return shown
