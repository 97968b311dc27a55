"""Lessons: an ordered walk through the presets, one TOML file per lesson, for a teacher to
read and edit.

A lesson lives in ``bnviz/lessons/<name>.toml``; its name is the file's stem (lower-case
words joined by hyphens, `NAME_PATTERN`, so that a name taken from a link can never reach
another path). The file holds::

    title = "Batch norm in one lesson"
    minutes = 25                      # how long it takes a class, roughly

    [[steps]]                         # one block per step, in order
    title = "The blog's result"
    text = "A few sentences (Markdown) to read beside the chart."
    preset = "The blog post"          # a key of bnviz.presets.PRESETS
    tab = "Learning curves"           # one of SECTIONS
    editable = ["seed"]               # settings the student may change (default: none)
    [steps.settings]                  # optional: overrides of the preset, as in a link
    epochs = 20
    [steps.question]                  # optional: a prediction, answered by the run
    prompt = "Which model reaches 90 % training accuracy first?"
    reader = "first-to-90"            # a key of READERS
    [[steps.question.choices]]        # 2 to 4 of them
    text = "The BN model"
    means = "bn"                      # one of the reader's outcomes

The answer is never written in the file: the question names a reader, which reads the run's
result and gives one of its outcomes, and each choice says which outcome it stands for. A
step shows its preset's gallery configuration with its overrides (`Step.config`), so its
result is precomputed and no step waits for a training. Everything is checked when a file is
loaded; a `LessonError` names the file and the field at fault, counting the steps and choices
from 1 as a reader of the file counts its blocks.
"""

from __future__ import annotations

import inspect
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bnviz.comparison import ComparisonRequest, ComparisonResult
from bnviz.config import MLP_SIGMOID, ConfigError, ExperimentConfig, field_names
from bnviz.gallery import REBUILD, Gallery, gallery_config
from bnviz.presets import PRESETS
from bnviz.summary import (
    INTERVAL_LEVEL,
    landscape_summary,
    paired_summary,
    sampling_error,
)

# The page's result tabs, in its order; a step opens one of them.
SECTIONS = ("Learning curves", "Convergence", "Parameters", "Predictions", "Inside BN",
            "Train vs inference", "Why BN helps", "Learning rates", "About batch norm")
LESSONS_DIR = Path(__file__).with_name("lessons")
SUFFIX = ".toml"
NAME_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MIN_CHOICES, MAX_CHOICES = 2, 4


class LessonError(ValueError):
    """A lesson that cannot be used as written: the message names the file (when there is
    one) and the field at fault, e.g. ``batch-norm.toml: steps[3].tab: …``."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(": ".join(part for part in (file, field, message) if part))
        self.file = file
        self.field = field
        self.message = message


class NoAnswer(ValueError):
    """A run that does not hold what a reader needs (say, a variant with no moving averages
    asked about them): the question cannot be answered from it."""


# -- what a lesson is ----------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """One answer to a question, and the reader's outcome it stands for."""

    text: str
    means: str


@dataclass(frozen=True)
class Question:
    """A prediction the student makes before the step's result is revealed."""

    prompt: str
    reader: str  # a key of READERS
    choices: tuple[Choice, ...]


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: what to read, which result to show and which tab to open."""

    title: str
    text: str
    preset: str  # a key of bnviz.presets.PRESETS
    settings: tuple[tuple[str, str], ...]  # overrides of the preset, as a link writes them
    tab: str  # one of SECTIONS
    editable: tuple[str, ...]  # the settings the student may change; the others are fixed
    question: Question | None

    def config(self) -> ExperimentConfig:
        """The configuration the step shows: its preset's gallery configuration with the
        step's overrides, so that, unless they change it, its result is precomputed."""
        base = gallery_config(PRESETS[self.preset][0])
        return ExperimentConfig.from_mapping({**base.to_mapping(), **dict(self.settings)})


@dataclass(frozen=True)
class Lesson:
    """An ordered list of steps, named by its file."""

    name: str
    title: str
    minutes: int
    steps: tuple[Step, ...]


# -- readers: what a run shows, as one outcome ---------------------------------------


@dataclass(frozen=True)
class Reading:
    """What a reader found: its outcome and one sentence saying so with the numbers."""

    outcome: str
    facts: str


@dataclass(frozen=True)
class Reader:
    """A named way of reading a comparison's result into one of a few outcomes."""

    read: Callable[[ComparisonResult], Reading]
    outcomes: tuple[str, ...]

    def __call__(self, result: ComparisonResult) -> str:
        """The outcome ``result`` shows (raises `NoAnswer` when it cannot tell)."""
        return self.read(result).outcome

    @property
    def compares(self) -> str:
        """What the reader compares, in words (its function's docstring)."""
        return inspect.getdoc(self.read) or ""


def _signed(value: float, digits: int) -> str:
    """A difference with its sign, minus as the page writes it (bnviz.summary)."""
    return f"{value:+.{digits}f}".replace("-", "−")


def _percent(value: float) -> str:
    return f"{value * 100:.1f} %"


def _interval_words(result: ComparisonResult, mean: float, low: float, high: float,
                    digits: int, unit: str = "") -> str:
    """The paired difference with its interval: "per seed, BN after − baseline: −11.2
    epochs on average, 98 % interval −18.8 to −3.6 epochs"."""
    return (f"per seed, {result.normalized_model} − baseline: {_signed(mean, digits)}{unit} "
            f"on average, {INTERVAL_LEVEL * 100:g} % interval {_signed(low, digits)} to "
            f"{_signed(high, digits)}{unit}")


def _epochs_words(values: pd.Series) -> str:
    """One model's epochs to 90 % over the seeds, saying in how many it never got there."""
    reached = values.dropna()
    if reached.empty:
        return "never"
    words = f"{reached.mean():.1f}"
    if len(reached) < len(values):
        some = "the one seed" if len(reached) == 1 else f"the {len(reached)} seeds"
        words += f" in {some} that reached it (never in {len(values) - len(reached)})"
    return words


def first_to_90(result: ComparisonResult) -> Reading:
    """Which model reaches 90 % training accuracy in fewer epochs: ``bn`` (the normalised
    model), ``baseline``, or ``same`` when the seeds cannot tell. Seeds where both models got
    there are taken as pairs, as the page's verdict takes them (`paired_summary`: clear when
    the 98 % interval of the per-seed difference leaves zero out); a seed where only one got
    there is a win for it. A model is first when the pairs call it clearly faster, or, when
    they cannot, when it alone got there in at least two seeds; and never when the other
    model alone got there in some seed (the seeds disagree)."""
    baseline, ours = result.baseline_model, result.normalized_model
    summary = result.summary()
    epochs = summary.pivot(index="seed", columns="model", values="epochs_to_90_train")
    last = int(result.history["epoch"].max())
    seeds = len(epochs)
    start = (f"Mean epochs to 90 % training accuracy over {seeds} seed{'s' * (seeds > 1)}: "
             f"{ours} {_epochs_words(epochs[ours])}, baseline {_epochs_words(epochs[baseline])}")
    reached = epochs.notna()
    if not reached.to_numpy().any():
        return Reading("same", f"Neither model reached 90 % training accuracy in {last} "
                       f"epochs, in any of {seeds} seed{'s' * (seeds > 1)}.")
    alone = {"bn": int((reached[ours] & ~reached[baseline]).sum()),
             "baseline": int((reached[baseline] & ~reached[ours]).sum())}
    row = paired_summary(summary).set_index("statistic").loc["epochs_to_90_train"]
    interval = ""
    if row["clear"] is not None:
        both = f" over the {row['pairs']} seeds where both got there" \
            if row["pairs"] < seeds else ""
        words = _interval_words(result, row["mean"], row["low"], row["high"], 1, " epochs")
        interval = f" ({words}{both})"
    paired = ("bn" if row["mean"] < 0 else "baseline") if row["clear"] else None
    first = paired or next((key for key, wins in alone.items() if wins >= 2), None)
    other = {"bn": "baseline", "baseline": "bn"}.get(first or "")
    if first is None or alone[other]:
        if alone["bn"] and alone["baseline"]:
            why = "each model alone got there in some seed"
        elif first is not None:
            why = "the pairs and the seeds where only one got there disagree"
        elif row["clear"] is None and not any(alone.values()):
            why = "too few seeds where both got there to tell"
        else:
            why = "taken as pairs, the seeds cannot tell which got there first"
        return Reading("same", f"{start}: {why}{interval}.")
    name = f"the {ours} model" if first == "bn" else "the baseline"
    if paired is None:
        return Reading(first, f"{start}: {name} got there first, alone in {alone[first]} "
                       f"seeds{interval}.")
    return Reading(first, f"{start}: {name} got there first{interval}.")


def higher_late_test(result: ComparisonResult) -> Reading:
    """Which model's test accuracy, the mean of each run's last 10 epochs, is higher, the
    seeds taken as pairs: ``bn`` (the normalised model), ``baseline``, or ``same`` when the
    paired verdict cannot tell them apart (`bnviz.summary.paired_summary`)."""
    baseline, ours = result.baseline_model, result.normalized_model
    summary = result.summary()
    late = summary.groupby("model")["late_test_accuracy"].mean()
    epochs = int(summary["late_epochs"].min())
    seeds = summary["seed"].nunique()
    start = (f"Mean test accuracy over the last {epochs} epochs, {seeds} "
             f"seed{'s' * (seeds > 1)}: {ours} {late[ours]:.3f}, baseline {late[baseline]:.3f}")
    row = paired_summary(summary).set_index("statistic").loc["late_test_accuracy"]
    if row["clear"] is None:
        return Reading("same", f"{start}; one seed cannot tell whether that gap is real.")
    interval = _interval_words(result, row["mean"], row["low"], row["high"], 3)
    if not row["clear"]:
        return Reading("same", f"{start}: taken as pairs, the seeds cannot tell them apart "
                       f"({interval}).")
    higher = "bn" if row["mean"] > 0 else "baseline"
    name = f"the {ours} model" if higher == "bn" else "the baseline"
    return Reading(higher, f"{start}: {name} tests higher ({interval}).")


def _drift(inputs: pd.DataFrame) -> float:
    """How far one model's probed median wanders over training, in widths of its own
    15th–85th percentile band: per unit, the median's range over the epochs over the band's
    median width; then the median over the units (dead units, with no band, left out)."""
    drifts = []
    for _, unit in inputs.groupby("channel"):
        width = float((unit["p85"] - unit["p15"]).median())
        if width > 0:
            drifts.append(float(unit["p50"].max() - unit["p50"].min()) / width)
    if not drifts:
        raise NoAnswer("its probed units have no spread to measure a drift against")
    return float(np.median(drifts))


def steadier_inputs(result: ComparisonResult) -> Reading:
    """Whose input to the last nonlinearity (the Inside BN tab, first seed, training mode)
    moves less over training, measured in widths of its own 15th–85th percentile band (each
    panel has its own scale): ``bn`` (the normalised model's), ``baseline``, or ``same``
    when the two are equal as written (two decimals)."""
    inputs = result.relu_inputs
    if inputs.empty:
        raise NoAnswer("this run recorded nothing inside the networks")
    first = inputs[(inputs["seed"] == inputs["seed"].min()) & (inputs["mode"] == "training")]
    baseline, ours = result.baseline_model, result.normalized_model
    drift = {model: _drift(first[first["model"] == model]) for model in (baseline, ours)}
    shown = {model: f"{value:.2f}" for model, value in drift.items()}
    nonlinearity = "sigmoid" if result.config.architecture == MLP_SIGMOID else "ReLU"
    facts = (f"Over the first seed's training, the median input to the last {nonlinearity} "
             f"moved over {shown[ours]} widths of its own 15th–85th percentile band for "
             f"the {ours} model and {shown[baseline]} for the baseline (the median over the "
             "units)")
    if shown[ours] == shown[baseline]:
        return Reading("same", f"{facts}: as steady as each other.")
    steadier = "bn" if drift[ours] < drift[baseline] else "baseline"
    name = f"the {ours} model" if steadier == "bn" else "the baseline"
    return Reading(steadier, f"{facts}: {name}'s input held steadier.")


def smoother_loss(result: ComparisonResult) -> Reading:
    """Whose loss is smoother along the steps the optimizer took (the Why BN helps tab,
    first seed): the model with the smaller median effective β-smoothness, ``bn`` (the
    normalised model) or ``baseline``; ``same`` when the two are equal as written (three
    significant digits)."""
    if result.landscape.empty:
        raise NoAnswer("this run made no loss-landscape probes")
    table = landscape_summary(result.landscape, "update").set_index("model")
    baseline, ours = result.baseline_model, result.normalized_model
    beta = {model: float(table.loc[model, "beta_median"]) for model in (baseline, ours)}
    if not all(math.isfinite(value) for value in beta.values()):
        raise NoAnswer("some of its landscape measures are not finite numbers")
    shown = {model: f"{value:.3g}" for model, value in beta.items()}
    facts = (f"Along the steps the optimizer took (first seed, "
             f"{int(table.loc[ours, 'probes'])} probes each), the median effective "
             f"β-smoothness was {shown[ours]} for the {ours} model and {shown[baseline]} for the "
             "baseline (smaller is smoother)")
    if shown[ours] == shown[baseline]:
        return Reading("same", f"{facts}: as smooth as each other.")
    smoother = "bn" if beta[ours] < beta[baseline] else "baseline"
    name = f"the {ours} model" if smoother == "bn" else "the baseline"
    return Reading(smoother, f"{facts}: {name}'s loss was the smoother.")


def one_image_batch(result: ComparisonResult) -> Reading:
    """The normalised model's test accuracy with BN on each image's own statistics (batch
    size 1, the Train vs inference tab, first seed) against its moving averages:
    ``moving-averages`` or ``batch-statistics`` for the higher, ``same`` when they differ by
    less than two standard errors of a difference on this test set (the sweep's rule)."""
    ours = result.normalized_model
    modes, _ = result.bn_modes_at()
    if modes.empty:
        raise NoAnswer(f"the {ours} model keeps no moving averages, so it has no two modes "
                       "to compare")
    batch = modes[modes["mode"].str.startswith("training")].set_index("batch_size")["accuracy"]
    moving = modes[modes["mode"].str.startswith("inference")]["accuracy"]
    if 1 not in batch.index or moving.empty:
        raise NoAnswer("this run did not evaluate one image at a time")
    one, averages = float(batch.loc[1]), float(moving.iloc[0])
    images = len(result.test_labels)
    # At most two standard errors of a difference of two accuracies on the same images.
    noise = 2 * math.sqrt(2) * max(sampling_error(one, images), sampling_error(averages, images))
    facts = (f"On its {images:,} test images, the {ours} model scored {_percent(one)} with "
             f"each image normalised on its own statistics (chance: 10 %) and "
             f"{_percent(averages)} with its moving averages (first seed)")
    if abs(one - averages) <= noise:
        return Reading("same", f"{facts}: within the test set's noise (±{_percent(noise)}).")
    if averages > one:
        return Reading("moving-averages", f"{facts}: the moving averages did better.")
    return Reading("batch-statistics", f"{facts}: its own statistics did better.")


READERS: dict[str, Reader] = {
    "first-to-90": Reader(first_to_90, ("bn", "baseline", "same")),
    "higher-late-test": Reader(higher_late_test, ("bn", "baseline", "same")),
    "steadier-inputs": Reader(steadier_inputs, ("bn", "baseline", "same")),
    "smoother-loss": Reader(smoother_loss, ("bn", "baseline", "same")),
    "one-image-batch": Reader(one_image_batch, ("moving-averages", "batch-statistics", "same")),
}


def reveal_text(question: Question, result: ComparisonResult, answer_index: int) -> str:
    """What the run shows, with its numbers, and whether the choice at ``answer_index``
    (from 0) matches it, in one or two sentences. ``result`` is the result of the step's own
    settings (`Step.config`), not of settings the student changed since."""
    if not 0 <= answer_index < len(question.choices):
        raise IndexError(f"answer {answer_index} of a question with "
                         f"{len(question.choices)} choices")
    chosen = question.choices[answer_index]
    try:
        reading = READERS[question.reader].read(result)
    except NoAnswer as error:
        return f"This run cannot answer the question: {error}."
    if chosen.means == reading.outcome:
        return f"{reading.facts} Your answer, “{chosen.text}”, matches what the run shows."
    shown = next((choice for choice in question.choices if choice.means == reading.outcome),
                 None)
    if shown is None:
        return (f"{reading.facts} Your answer, “{chosen.text}”, is not what the run shows, "
                "nor is any other choice.")
    return (f"{reading.facts} Your answer, “{chosen.text}”, is not what the run shows: "
            f"“{shown.text}” is.")


# -- reading a lesson file -----------------------------------------------------------


def _kind(value: Any) -> str:
    """A TOML value's kind, in a teacher's words."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    """Checks one lesson file's values, every error naming the file and the field."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> LessonError:
        return LessonError(self.file, path, message)

    def table(self, path: str, value: Any, required: tuple[str, ...],
              optional: tuple[str, ...] = ()) -> dict[str, Any]:
        """``value`` as a table with exactly the keys allowed and every required one."""
        if not isinstance(value, dict):
            raise self.fail(path, f"must be a table, not {_kind(value)}")
        known = (*required, *optional)
        unknown = [key for key in value if key not in known]
        if unknown:
            raise self.fail(_join(path, unknown[0]),
                            f"unknown key (known here: {', '.join(known)})")
        missing = [key for key in required if key not in value]
        if missing:
            raise self.fail(_join(path, missing[0]), "missing")
        return value

    def text(self, path: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be text, not {_kind(value)}")
        if not value.strip():
            raise self.fail(path, "must not be empty")
        return value.strip()

    def one_of(self, path: str, value: Any, known: tuple[str, ...] | Mapping[str, Any],
               what: str) -> str:
        name = self.text(path, value)
        if name not in known:
            raise self.fail(path, f"{name!r} is not {what} (known: {', '.join(known)})")
        return name

    def tables(self, path: str, value: Any, what: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be {what}, not {_kind(value)}")
        if not all(isinstance(item, dict) for item in value):
            raise self.fail(path, f"must be {what}, not an array of plain values")
        return value

    def lesson(self, name: str, values: dict[str, Any]) -> Lesson:
        self.table("", values, ("title", "minutes", "steps"))
        minutes = values["minutes"]
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise self.fail("minutes", f"must be a whole number, not {_kind(minutes)}")
        if minutes < 1:
            raise self.fail("minutes", f"must be at least 1, not {minutes}")
        steps = self.tables("steps", values["steps"], "an array of tables ([[steps]])")
        if not steps:
            raise self.fail("steps", "a lesson needs at least one step")
        return Lesson(name=name, title=self.text("title", values["title"]), minutes=minutes,
                      steps=tuple(self.step(f"steps[{number}]", step)
                                  for number, step in enumerate(steps, start=1)))

    def step(self, path: str, values: Any) -> Step:
        self.table(path, values, ("title", "text", "preset", "tab"),
                   ("settings", "editable", "question"))
        step = Step(
            title=self.text(_join(path, "title"), values["title"]),
            text=self.text(_join(path, "text"), values["text"]),
            preset=self.one_of(_join(path, "preset"), values["preset"], PRESETS, "a preset"),
            settings=self.settings(_join(path, "settings"), values.get("settings", {})),
            tab=self.one_of(_join(path, "tab"), values["tab"], SECTIONS, "a tab of the page"),
            editable=self.editable(_join(path, "editable"), values.get("editable", [])),
            question=(self.question(_join(path, "question"), values["question"])
                      if "question" in values else None),
        )
        try:
            step.config()
        except ConfigError as error:
            settings = _join(path, "settings")
            if error.field in field_names():
                raise self.fail(_join(settings, error.field), error.message) from None
            raise self.fail(settings, str(error)) from None
        return step

    def settings(self, path: str, values: Any) -> tuple[tuple[str, str], ...]:
        """Overrides as a link writes them, so that `ExperimentConfig.from_mapping` reads a
        TOML 1 for a learning rate as the number 1.0, exactly as it reads "1" in a link."""
        if not isinstance(values, dict):
            raise self.fail(path, f"must be a table, not {_kind(values)}")
        pairs = []
        for key, value in values.items():
            if key not in field_names():
                raise self.fail(_join(path, key),
                                f"unknown setting (known: {', '.join(field_names())})")
            if isinstance(value, bool):
                pairs.append((key, "true" if value else "false"))
            elif isinstance(value, int | float | str):
                pairs.append((key, str(value)))
            else:
                raise self.fail(_join(path, key), f"must be a single value, not {_kind(value)}")
        return tuple(pairs)

    def editable(self, path: str, values: Any) -> tuple[str, ...]:
        if not isinstance(values, list):
            raise self.fail(path, f"must be an array of setting names, not {_kind(values)}")
        names: list[str] = []
        for number, value in enumerate(values, start=1):
            where = f"{path}[{number}]"
            name = self.one_of(where, value, field_names(), "a setting")
            if name in names:
                raise self.fail(where, f"{name!r} is listed twice")
            names.append(name)
        return tuple(names)

    def question(self, path: str, values: Any) -> Question:
        self.table(path, values, ("prompt", "reader", "choices"))
        reader = self.one_of(_join(path, "reader"), values["reader"], READERS, "a reader")
        choices = self.tables(_join(path, "choices"), values["choices"],
                              "an array of tables ([[steps.question.choices]])")
        if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
            raise self.fail(_join(path, "choices"), f"a question needs {MIN_CHOICES} to "
                            f"{MAX_CHOICES} choices, not {len(choices)}")
        outcomes = READERS[reader].outcomes
        read: list[Choice] = []
        for number, choice in enumerate(choices, start=1):
            where = f"{path}.choices[{number}]"
            self.table(where, choice, ("text", "means"))
            means = self.text(_join(where, "means"), choice["means"])
            if means not in outcomes:
                raise self.fail(_join(where, "means"), f"{means!r} is not an outcome of reader "
                                f"{reader!r} ({', '.join(outcomes)})")
            if any(earlier.means == means for earlier in read):
                raise self.fail(_join(where, "means"),
                                f"another choice already means {means!r}")
            read.append(Choice(text=self.text(_join(where, "text"), choice["text"]),
                               means=means))
        return Question(prompt=self.text(_join(path, "prompt"), values["prompt"]),
                        reader=reader, choices=tuple(read))


def load_lesson(path: Path | str) -> Lesson:
    """The lesson in the TOML file at ``path``, checked throughout (raises `LessonError`)."""
    path = Path(path)
    if not NAME_PATTERN.fullmatch(path.stem) or path.suffix != SUFFIX:
        raise LessonError(path.name, "", "a lesson's file name must be lower-case words "
                          f"joined by hyphens, ending in {SUFFIX} (e.g. batch-norm{SUFFIX})")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise LessonError(path.name, "", f"not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(path.name, "", f"cannot be read: {error}") from None
    return _Checker(path.name).lesson(path.stem, values)


def _names(directory: Path) -> list[str]:
    return sorted(path.stem for path in directory.glob(f"*{SUFFIX}")
                  if NAME_PATTERN.fullmatch(path.stem))


def all_lessons(directory: Path = LESSONS_DIR) -> dict[str, Lesson]:
    """Every lesson of ``directory``, by name, sorted by name (raises `LessonError` on the
    first file that is not a valid lesson)."""
    paths = sorted(Path(directory).glob(f"*{SUFFIX}"), key=lambda path: path.stem)
    return {lesson.name: lesson for lesson in map(load_lesson, paths)}


def lesson(name: str, directory: Path = LESSONS_DIR) -> Lesson:
    """The lesson called ``name`` (a link's word: checked against `NAME_PATTERN` before any
    file is looked for, so it cannot name a path)."""
    directory = Path(directory)
    known = ", ".join(_names(directory)) or "none"
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:40] + "…"
        raise LessonError("", "lesson", f"{shown} is not a lesson name: lower-case words "
                          f"joined by hyphens (known lessons: {known})")
    path = directory / f"{name}{SUFFIX}"
    if not path.is_file():
        raise LessonError("", "lesson", f"there is no lesson {name!r} (known lessons: {known})")
    return load_lesson(path)


def lessons_report(gallery: Gallery, lessons: Mapping[str, Lesson] | None = None
                   ) -> tuple[str, bool]:
    """What ``python -m bnviz lessons`` prints: each lesson (``lessons``, by default every
    built-in one) with its steps, numbered from 1, each with its tab, its question and
    whether the gallery holds its result; and whether every step's result is there."""
    lessons = all_lessons() if lessons is None else lessons
    if not lessons:
        return "No lessons.", True
    lines: list[str] = []
    missing = 0
    for name, one in lessons.items():
        lines.append(f"{name}: {one.title} (about {one.minutes} minutes, "
                     f"{len(one.steps)} steps)")
        for number, step in enumerate(one.steps, start=1):
            served = gallery.entry(ComparisonRequest(step.config())) is not None
            missing += not served
            lines.append(f"  {number}. {step.title} [{step.tab}; {step.preset}"
                         f"{''.join(f', {key}={value}' for key, value in step.settings)}]: "
                         f"{'in the gallery' if served else 'NOT in the gallery'}")
            if step.question is not None:
                lines.append(f"     question: {step.question.prompt}")
        lines.append("")
    lines.append("Every step's result is in the gallery." if not missing else
                 f"{missing} step{'s are' if missing > 1 else ' is'} NOT in the gallery: "
                 f"they would train when opened; {REBUILD}, or change their settings.")
    return "\n".join(lines), not missing
