"""Lessons: the built-in one loads and every step of it is served from the gallery, a broken
file names its bad field, the readers say what a run shows, and a link cannot name a path."""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bnviz.comparison import HISTORY_COLUMNS, ComparisonRequest, ComparisonResult
from bnviz.config import NORMALIZATIONS, ExperimentConfig
from bnviz.gallery import REBUILD, Gallery, gallery_config
from bnviz.lessons import (
    LESSONS_DIR,
    READERS,
    SECTIONS,
    Choice,
    LessonError,
    NoAnswer,
    Question,
    all_lessons,
    lesson,
    lessons_report,
    load_lesson,
    reveal_text,
)
from bnviz.presets import PRESETS
from bnviz.snapshots import Predictions

BUILT_IN = lesson("batch-norm")
NUMBERED_STEPS = list(enumerate(BUILT_IN.steps, start=1))
# Student's t at 99 % one-sided (a 98 % two-sided interval), from a printed table, so that the
# tests do not lean on bnviz.summary's own quantiles.
T_98 = {1: 31.821, 2: 6.965, 3: 4.541, 4: 3.747, 5: 3.365, 6: 3.143, 7: 2.998, 8: 2.896,
        9: 2.821}


def _step_id(numbered: tuple[int, Any]) -> str:
    number, step = numbered
    return f"step{number}-{step.preset}"


# -- the built-in lesson ------------------------------------------------------------------


def test_the_built_in_lesson_has_eight_steps_for_one_class():
    assert BUILT_IN.name == "batch-norm" and BUILT_IN.title == "Batch norm in one lesson"
    assert len(BUILT_IN.steps) == 8
    assert 20 <= BUILT_IN.minutes <= 30
    assert all(step.tab in SECTIONS for step in BUILT_IN.steps)
    asked = [step for step in BUILT_IN.steps if step.question is not None]
    assert len(asked) > len(BUILT_IN.steps) / 2, "most steps should ask for a prediction"
    assert len({step.title for step in BUILT_IN.steps}) == 8


@pytest.mark.parametrize("numbered", NUMBERED_STEPS, ids=_step_id)
def test_every_step_of_the_built_in_lesson_is_served_from_the_gallery(numbered):
    number, step = numbered
    entry = Gallery().entry(ComparisonRequest(step.config()))
    assert entry is not None, (
        f"step {number} ({step.title!r}, preset {step.preset!r}) is not in the gallery, so it "
        f"would train when opened: if the gallery is stale, {REBUILD}")


@pytest.mark.parametrize("numbered", [n for n in NUMBERED_STEPS if n[1].question is not None],
                         ids=_step_id)
def test_every_built_in_question_is_answered_by_its_steps_result(numbered):
    number, step = numbered
    result = _gallery_result(step.config(), f"step {number} ({step.title!r})")
    reading = READERS[step.question.reader].read(result)  # raises NoAnswer if it cannot
    assert reading.outcome in READERS[step.question.reader].outcomes
    text = reveal_text(step.question, result, 0)
    assert text.startswith(reading.facts) and "Your answer" in text


@pytest.mark.parametrize("numbered", [n for n in NUMBERED_STEPS if "normalization"
                                      in n[1].editable], ids=_step_id)
def test_the_normalisations_a_step_offers_as_precomputed_are(numbered):
    # Its text names them in italics (*batch*, *noise-only*) and promises no wait.
    number, step = numbered
    offered = set(re.findall(r"\*([a-z-]+)\*", step.text)) & set(NORMALIZATIONS)
    assert offered, f"step {number} lets the student change the normalisation: say to what"
    for normalization in offered:
        config = step.config().replace(normalization=normalization)
        assert Gallery().entry(ComparisonRequest(config)) is not None, (
            f"step {number}: normalization={normalization} is not precomputed; {REBUILD}")


def test_a_step_without_overrides_shows_its_presets_gallery_configuration():
    plain = [step for step in BUILT_IN.steps if not step.settings]
    assert plain
    for step in plain:
        assert step.config() == gallery_config(PRESETS[step.preset][0])


def test_settings_are_read_as_a_link_reads_them(tmp_path):
    # A TOML 1 for the learning rate is the number 1.0, hashed as a link's "1" would be.
    broken = copy.deepcopy(VALID)
    broken["steps"][0]["settings"] = {"learning_rate": 1, "epochs": "20", "scale_pixels": True}
    step = _load(tmp_path, broken).steps[0]
    expected = gallery_config(PRESETS["The blog post"][0]).replace(
        learning_rate=1.0, epochs=20, scale_pixels=True)
    assert step.config() == expected
    assert step.config().config_hash() == expected.config_hash()
    assert isinstance(step.config().learning_rate, float)


# -- broken files name their field ------------------------------------------------------


VALID: dict[str, Any] = {
    "title": "A test lesson",
    "minutes": 10,
    "steps": [
        {"title": "First", "text": "Read this.", "preset": "The blog post",
         "tab": "Learning curves"},
        {"title": "Second", "text": "And this.", "preset": "Scaled pixels", "tab": "Convergence",
         "editable": ["seed"], "settings": {"epochs": 20},
         "question": {"prompt": "Which first?", "reader": "first-to-90",
                      "choices": [{"text": "BN", "means": "bn"},
                                  {"text": "Baseline", "means": "baseline"}]}},
    ],
}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    return "[" + ", ".join(_toml_value(item) for item in value) + "]"


def _toml(table: dict[str, Any], prefix: str = "") -> str:
    """``table`` written as TOML: scalars first, then tables and arrays of tables."""
    lines, nested = [], []
    for key, value in table.items():
        if isinstance(value, dict) or (isinstance(value, list) and value
                                       and all(isinstance(item, dict) for item in value)):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in nested:
        name = f"{prefix}{key}"
        for item in [value] if isinstance(value, dict) else value:
            lines += [f"[{name}]" if isinstance(value, dict) else f"[[{name}]]",
                      _toml(item, name + ".")]
    return "\n".join(lines)


def _load(directory: Path, values: dict[str, Any], name: str = "broken"):
    path = directory / f"{name}.toml"
    path.write_text(_toml(values), encoding="utf-8")
    return load_lesson(path)


def test_the_valid_variant_loads(tmp_path):
    loaded = _load(tmp_path, VALID)
    assert loaded.name == "broken" and [step.title for step in loaded.steps] == ["First",
                                                                                 "Second"]
    second = loaded.steps[1]
    assert second.settings == (("epochs", "20"),) and second.editable == ("seed",)
    assert second.question == Question("Which first?", "first-to-90",
                                       (Choice("BN", "bn"), Choice("Baseline", "baseline")))
    assert second.config() == gallery_config(PRESETS["Scaled pixels"][0]).replace(epochs=20)


def _question(lesson_values: dict[str, Any]) -> dict[str, Any]:
    return lesson_values["steps"][1]["question"]


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(values: dict[str, Any]) -> None:
        for key in path[:-1]:
            values = values[key]
        values[path[-1]] = value
    return change


def _drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def change(values: dict[str, Any]) -> None:
        for key in path[:-1]:
            values = values[key]
        del values[path[-1]]
    return change


CHOICE = ("steps", 1, "question", "choices")
BROKEN = [
    ("no title", _drop(("title",)), "title"),
    ("title a number", _set(("title",), 3), "title"),
    ("empty title", _set(("title",), "  "), "title"),
    ("minutes as text", _set(("minutes",), "25"), "minutes"),
    ("minutes true", _set(("minutes",), True), "minutes"),
    ("no minutes", _set(("minutes",), 0), "minutes"),
    ("unknown top key", _set(("author",), "me"), "author"),
    ("no steps", _drop(("steps",)), "steps"),
    ("zero steps", _set(("steps",), []), "steps"),
    ("steps as text", _set(("steps",), "one"), "steps"),
    ("step without text", _drop(("steps", 1, "text")), "steps[2].text"),
    ("step with unknown key", _set(("steps", 0, "colour"), "red"), "steps[1].colour"),
    ("unknown preset", _set(("steps", 0, "preset"), "Blog"), "steps[1].preset"),
    ("unknown tab", _set(("steps", 0, "tab"), "Curves"), "steps[1].tab"),
    ("tab as a number", _set(("steps", 0, "tab"), 2), "steps[1].tab"),
    ("unknown editable field", _set(("steps", 1, "editable"), ["seed", "speed"]),
     "steps[2].editable[2]"),
    ("editable as text", _set(("steps", 1, "editable"), "seed"), "steps[2].editable"),
    ("editable twice", _set(("steps", 1, "editable"), ["seed", "seed"]), "steps[2].editable[2]"),
    ("setting out of range", _set(("steps", 1, "settings"), {"epochs": 0}),
     "steps[2].settings.epochs"),
    ("setting unreadable", _set(("steps", 1, "settings"), {"epochs": "many"}),
     "steps[2].settings.epochs"),
    ("unknown setting", _set(("steps", 1, "settings"), {"colour": "red"}),
     "steps[2].settings.colour"),
    ("setting as an array", _set(("steps", 1, "settings"), {"epochs": [1, 2]}),
     "steps[2].settings.epochs"),
    ("settings over the work cap", _set(("steps", 1, "settings"),
                                        {"epochs": 1000, "train_size": 50_000}),
     "steps[2].settings"),
    ("settings not a table", _set(("steps", 1, "settings"), [1, 2]), "steps[2].settings"),
    ("question as text", _set(("steps", 1, "question"), "why?"), "steps[2].question"),
    ("question without prompt", _drop(("steps", 1, "question", "prompt")),
     "steps[2].question.prompt"),
    ("unknown reader", _set(("steps", 1, "question", "reader"), "fastest"),
     "steps[2].question.reader"),
    ("one choice", _set(CHOICE, [{"text": "BN", "means": "bn"}]), "steps[2].question.choices"),
    ("five choices", _set(CHOICE, [{"text": str(n), "means": "bn"} for n in range(5)]),
     "steps[2].question.choices"),
    ("choices as text", _set(CHOICE, "bn or baseline"), "steps[2].question.choices"),
    ("not an outcome", _set((*CHOICE, 1, "means"), "bm"), "steps[2].question.choices[2].means"),
    ("two choices, one outcome", _set((*CHOICE, 1, "means"), "bn"),
     "steps[2].question.choices[2].means"),
    ("choice without text", _drop((*CHOICE, 0, "text")), "steps[2].question.choices[1].text"),
    ("choice with a hint", _set((*CHOICE, 0, "hint"), "think"),
     "steps[2].question.choices[1].hint"),
]


@pytest.mark.parametrize(("change", "field"), [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
def test_a_broken_lesson_names_its_file_and_field(tmp_path, change, field):
    broken = copy.deepcopy(VALID)
    change(broken)
    with pytest.raises(LessonError) as caught:
        _load(tmp_path, broken)
    assert str(caught.value).startswith(f"broken.toml: {field}: "), str(caught.value)
    assert caught.value.field == field and caught.value.file == "broken.toml"


def test_a_wrong_outcome_is_named_with_the_readers_outcomes(tmp_path):
    first = VALID["steps"][0]
    asking = {**VALID["steps"][1], "question": {
        "prompt": "Which first?", "reader": "first-to-90",
        "choices": [{"text": "BN", "means": "bm"}, {"text": "Baseline", "means": "baseline"}]}}
    broken = {**VALID, "steps": [first, first, asking, first]}
    with pytest.raises(LessonError) as caught:
        _load(tmp_path, broken, name="batch-norm")
    assert str(caught.value) == ("batch-norm.toml: steps[3].question.choices[1].means: 'bm' is "
                                 "not an outcome of reader 'first-to-90' (bn, baseline, same)")


def test_a_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('title = "A lesson"\nminutes = \n', encoding="utf-8")
    with pytest.raises(LessonError, match=r"^broken\.toml: not valid TOML: .*line 2"):
        load_lesson(path)


# -- finding lessons ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../etc/passwd", "../lessons/batch-norm", "/etc/passwd",
                                  "batch-norm.toml", "Batch-Norm", "batch_norm", "",
                                  "batch-norm/", "-batch", "batch--norm"])
def test_a_name_that_is_not_a_lesson_name_is_refused_before_any_file_is_read(name):
    # "../lessons/batch-norm" would reach the real file if the name were taken as a path.
    with pytest.raises(LessonError, match=r"^lesson: .* is not a lesson name.*batch-norm"):
        lesson(name)


def test_an_unknown_lesson_names_the_known_ones():
    with pytest.raises(LessonError, match=r"no lesson 'no-such-lesson' \(known lessons: "
                                          r"batch-norm\)"):
        lesson("no-such-lesson")


def test_all_lessons_are_sorted_by_name(tmp_path):
    for name in ("b-two", "a-one"):
        _load(tmp_path, VALID, name=name)
    assert list(all_lessons(tmp_path)) == ["a-one", "b-two"]
    assert "batch-norm" in all_lessons() and LESSONS_DIR.joinpath("batch-norm.toml").is_file()
    (tmp_path / "Bad Name.toml").write_text(_toml(VALID), encoding="utf-8")
    with pytest.raises(LessonError, match=r"^Bad Name\.toml: a lesson's file name"):
        all_lessons(tmp_path)


# -- the report of `python -m bnviz lessons` ------------------------------------------------


def test_the_report_lists_every_step_with_whether_the_gallery_holds_it():
    gallery = Gallery()
    text, complete = lessons_report(gallery, {"batch-norm": BUILT_IN})
    lines = text.splitlines()
    assert lines[0].startswith(f"batch-norm: {BUILT_IN.title} (about {BUILT_IN.minutes} minutes")
    served = []
    for number, step in NUMBERED_STEPS:
        line = next(line for line in lines if line.startswith(f"  {number}. {step.title} ["))
        assert step.tab in line and step.preset in line
        held = gallery.entry(ComparisonRequest(step.config())) is not None
        assert line.endswith(": in the gallery" if held else ": NOT in the gallery")
        served.append(held)
        if step.question is not None:
            assert f"     question: {step.question.prompt}" in lines
    assert complete == all(served)
    assert text.split("\n\n")[0] in lessons_report(gallery)[0]  # built-in ones by default


def test_the_report_says_when_steps_would_train(tmp_path):
    text, complete = lessons_report(Gallery(tmp_path), {"batch-norm": BUILT_IN})  # empty
    assert not complete
    assert text.count(": NOT in the gallery") == len(BUILT_IN.steps)
    assert f"{len(BUILT_IN.steps)} steps are NOT in the gallery" in text and REBUILD in text


# -- readers, on small made-up runs ----------------------------------------------------


def _result(history: pd.DataFrame | None = None, model: str = "BN after",
            test_images: int = 1000, **frames: pd.DataFrame) -> ComparisonResult:
    """A result of two models, ``model`` being the normalised one."""
    history = history if history is not None else _runs({"baseline": [5], model: [5]})
    probabilities = np.full((test_images, 10), 0.1)
    return ComparisonResult(
        config=ExperimentConfig(), history=history, test_labels=np.zeros(test_images, int),
        predictions=Predictions.from_probabilities(
            {"baseline": probabilities, model: probabilities}, epoch=int(history.epoch.max())),
        layer_tables={}, **frames)


def _runs(epochs_to_90: dict[str, list[int | None]], late: dict[str, list[float]] | None = None,
          length: int = 30) -> pd.DataFrame:
    """Per model, one run per seed reaching 90 % train accuracy at the epoch given (never for
    None), testing at the accuracy given at every epoch (0.8 by default)."""
    rows = []
    for model, per_seed in epochs_to_90.items():
        for seed, first in enumerate(per_seed, start=1):
            test = late[model][seed - 1] if late else 0.8
            for epoch in range(1, length + 1):
                train = 0.95 if first is not None and epoch >= first else 0.5
                rows.append([model, seed, epoch, train, 1.0, test, 1.0, 0.1])
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def _clear(differences: list[float], sd_floor: float) -> bool:
    """The paired 98 % t-interval, worked out here from the table above."""
    values = np.asarray(differences, dtype=float)
    sd = max(float(values.std(ddof=1)), sd_floor)
    half = T_98[len(values) - 1] * sd / math.sqrt(len(values))
    return abs(float(values.mean())) > half


@pytest.mark.parametrize(("bn", "baseline", "expected"), [
    ([3, 4, 3, 4, 3], [10, 12, 11, 13, 10], "bn"),
    ([10, 12, 11, 13, 10], [3, 4, 3, 4, 3], "baseline"),
    ([5, 9, 4, 10, 6], [6, 5, 9, 7, 8], "same"),  # per seed −1, +4, −5, +3, −2
    # Differences −1, −3, 0, −2, −4: clear at 95 % (t = 2.83 > 2.776), not at 98 % (3.747).
    ([4, 2, 5, 3, 1], [5, 5, 5, 5, 5], "same"),
    ([4, 2, 4, 3, 2], [5, 5, 5, 5, 5], "bn"),  # −1, −3, −1, −2, −3: t = 4.47
    ([None] * 5, [None] * 5, "same"),
    ([3] * 5, [None] * 5, "bn"),  # the baseline never got there
    ([None, None, None], [20, 25, 22], "baseline"),
    ([3, 4, 3, 4, 3], [10, None, 12, 11, 13], "bn"),  # the baseline got there in 4 of 5
    ([5, 9, 4, 10, 6], [6, 5, 9, 7, None], "same"),  # one seed alone settles nothing
    ([3, None, 3, 3, 3], [None, 3, 10, 10, 10], "same"),  # clear pairs, but the seeds disagree
    ([3], [10], "same"),  # one seed cannot tell
])
def test_first_to_90_compares_the_seeds_as_pairs(bn, baseline, expected):
    result = _result(_runs({"baseline": baseline, "BN after": bn}))
    assert READERS["first-to-90"](result) == expected
    both = [(ours, base) for ours, base in zip(bn, baseline, strict=True)
            if ours is not None and base is not None]
    if len(both) == len(bn) > 1:  # every seed got there: the rule worked out independently
        clear = _clear([ours - base for ours, base in both], sd_floor=0.5)
        mean = np.mean([ours - base for ours, base in both])
        assert expected == (("bn" if mean < 0 else "baseline") if clear else "same")
    facts = READERS["first-to-90"].read(result).facts
    reached = [value for value in bn if value is not None]
    if reached and len(bn) > 1:
        assert f"BN after {np.mean(reached):.1f}" in facts


def test_first_to_90_says_in_how_many_seeds_a_model_never_got_there():
    facts = READERS["first-to-90"].read(_result(_runs(
        {"baseline": [10, None, 12, 11, 13], "BN after": [3, 4, 3, 4, 3]}))).facts
    assert "baseline 11.5 in the 4 seeds that reached it (never in 1)" in facts
    neither = READERS["first-to-90"].read(_result(_runs({"baseline": [None] * 3,
                                                         "BN after": [None] * 3})))
    assert neither.facts.startswith("Neither model reached 90 % training accuracy in 30 epochs")


@pytest.mark.parametrize(("bn", "baseline", "expected"), [
    ([0.85, 0.86, 0.84, 0.85, 0.86], [0.80, 0.81, 0.79, 0.80, 0.81], "bn"),
    ([0.80, 0.81, 0.79, 0.80, 0.81], [0.85, 0.86, 0.84, 0.85, 0.86], "baseline"),
    ([0.82, 0.85, 0.80, 0.84, 0.83], [0.83, 0.82, 0.84, 0.81, 0.83], "same"),
    ([0.90], [0.80], "same"),
])
def test_higher_late_test_is_the_paired_verdict_on_the_last_epochs(bn, baseline, expected):
    seeds = len(bn)
    result = _result(_runs({"baseline": [5] * seeds, "BN after": [5] * seeds},
                           late={"baseline": baseline, "BN after": bn}))
    assert READERS["higher-late-test"](result) == expected
    if seeds > 1:
        differences = np.subtract(bn, baseline)
        clear = _clear(list(differences), sd_floor=0.001)
        assert expected == (("bn" if differences.mean() > 0 else "baseline") if clear
                            else "same")
    facts = READERS["higher-late-test"].read(result).facts
    assert f"BN after {np.mean(bn):.3f}, baseline {np.mean(baseline):.3f}" in facts


def _inputs(medians: dict[tuple[str, int, str], Callable[[int], float]]) -> pd.DataFrame:
    """Probe percentiles over 10 epochs: a band of width 2 around the median given."""
    rows = []
    for (model, seed, mode), median in medians.items():
        for epoch in range(1, 11):
            for channel in (0, 11, 22):
                middle = median(epoch) + channel / 100
                rows.append({"model": model, "seed": seed, "epoch": epoch, "mode": mode,
                             "channel": channel, "p15": middle - 1, "p50": middle,
                             "p85": middle + 1})
    return pd.DataFrame(rows)


def test_steadier_inputs_reads_the_first_seeds_training_mode():
    def steady(epoch: int) -> float:
        return 0.1 * (epoch % 2)

    def drifting(epoch: int) -> float:
        return 0.5 * epoch

    def wild(epoch: int) -> float:
        return 10.0 * epoch

    # A second seed and the inference mode, drifting wildly, must not count.
    others = {("BN after", 2, "training"): wild, ("BN after", 1, "inference"): wild,
              ("baseline", 2, "training"): steady}
    result = _result(relu_inputs=_inputs({("baseline", 1, "training"): drifting,
                                          ("BN after", 1, "training"): steady, **others}))
    reading = READERS["steadier-inputs"].read(result)
    assert reading.outcome == "bn"
    # Ranges over the band's width of 2: 4.5 / 2 for the baseline, 0.1 / 2 for BN.
    assert "moved over 0.05 widths" in reading.facts
    assert "and 2.25 for the baseline" in reading.facts
    swapped = _result(relu_inputs=_inputs({("baseline", 1, "training"): steady,
                                           ("BN after", 1, "training"): drifting}))
    assert READERS["steadier-inputs"](swapped) == "baseline"
    with pytest.raises(NoAnswer):
        READERS["steadier-inputs"](_result())


def _landscape(betas: dict[tuple[str, int, str], list[float]]) -> pd.DataFrame:
    rows = [{"model": model, "seed": seed, "direction": direction, "step": step,
             "loss_min": 1.0, "loss_max": 1.0 + beta / 100, "grad_change_max": beta / 10,
             "beta_smoothness": beta, "distance": 0.01}
            for (model, seed, direction), values in betas.items()
            for step, beta in enumerate(values)]
    return pd.DataFrame(rows)


def test_smoother_loss_compares_the_median_beta_along_the_step_taken():
    noise = {("BN after", 1, "gradient"): [900.0, 1000.0, 1100.0],
             ("BN after", 2, "update"): [900.0, 1000.0, 1100.0]}
    result = _result(landscape=_landscape({("baseline", 1, "update"): [10.0, 25.0, 40.0],
                                           ("BN after", 1, "update"): [1.0, 2.5, 4.0],
                                           **noise}))
    reading = READERS["smoother-loss"].read(result)
    assert reading.outcome == "bn"
    assert "was 2.5 for the BN after model and 25 for the baseline" in reading.facts
    assert "3 probes each" in reading.facts
    swapped = _result(landscape=_landscape({("baseline", 1, "update"): [1.0, 2.5, 4.0],
                                            ("BN after", 1, "update"): [10.0, 25.0, 40.0]}))
    assert READERS["smoother-loss"](swapped) == "baseline"
    with pytest.raises(NoAnswer):
        READERS["smoother-loss"](_result())


def _modes(one_image: float, moving: float) -> pd.DataFrame:
    return pd.DataFrame([
        {"mode": "inference (moving averages)", "batch_size": 250, "accuracy": moving},
        {"mode": "training (batch statistics)", "batch_size": 1, "accuracy": one_image},
        {"mode": "training (batch statistics)", "batch_size": 64, "accuracy": 0.5}])


@pytest.mark.parametrize(("one_image", "moving", "images", "expected"), [
    (0.084, 0.836, 1000, "moving-averages"),
    (0.82, 0.83, 1000, "same"),
    (0.80, 0.83, 100_000, "moving-averages"),  # the same gap, on a hundred times the images
    (0.90, 0.60, 1000, "batch-statistics"),
])
def test_one_image_batch_weighs_the_gap_against_the_test_sets_noise(one_image, moving, images,
                                                                    expected):
    result = _result(bn_modes=_modes(one_image, moving), test_images=images)
    assert READERS["one-image-batch"](result) == expected
    worst = max(p * (1 - p) for p in (one_image, moving))
    noise = 2 * math.sqrt(2) * math.sqrt(worst / images)
    assert (expected == "same") == (abs(one_image - moving) <= noise)
    assert f"scored {one_image * 100:.1f} %" in READERS["one-image-batch"].read(result).facts


def test_a_run_without_moving_averages_cannot_answer_the_modes_question():
    question = Question("How does it score?", "one-image-batch",
                        (Choice("Worse", "moving-averages"), Choice("Same", "same")))
    text = reveal_text(question, _result(model="GroupNorm after"), 0)
    assert text == ("This run cannot answer the question: the GroupNorm after model keeps no "
                    "moving averages, so it has no two modes to compare.")


def test_every_reader_says_what_it_compares_and_names_its_outcomes():
    for name, reader in READERS.items():
        assert reader.compares, name
        for outcome in reader.outcomes:
            assert f"``{outcome}``" in reader.compares, (name, outcome)


# -- revealing the answer --------------------------------------------------------------

FIRST = Question("Which first?", "first-to-90", (Choice("The BN model", "bn"),
                                                 Choice("The baseline", "baseline"),
                                                 Choice("Too close", "same")))
BN_FIRST = _result(_runs({"baseline": [10, 12, 11, 13, 10], "BN after": [3, 4, 3, 4, 3]}))


def test_the_reveal_says_what_the_run_shows_and_whether_the_answer_matches():
    facts = READERS["first-to-90"].read(BN_FIRST).facts
    assert reveal_text(FIRST, BN_FIRST, 0) == (
        f"{facts} Your answer, “The BN model”, matches what the run shows.")
    assert reveal_text(FIRST, BN_FIRST, 2) == (
        f"{facts} Your answer, “Too close”, is not what the run shows: “The BN model” is.")
    assert "BN after 3.4, baseline 11.2" in facts
    partial = Question("Which first?", "first-to-90", FIRST.choices[1:])
    assert reveal_text(partial, BN_FIRST, 0).endswith(
        "is not what the run shows, nor is any other choice.")
    with pytest.raises(IndexError):
        reveal_text(FIRST, BN_FIRST, 3)


# -- readers, on real gallery results ----------------------------------------------------


def _gallery_result(config: ExperimentConfig, what: str) -> ComparisonResult:
    result = Gallery().load(ComparisonRequest(config))
    assert result is not None, f"{what} is not in the gallery; {REBUILD}"
    return result


def test_the_blog_steps_reveal_matches_its_history_worked_out_here():
    step = BUILT_IN.steps[0]
    result = _gallery_result(step.config(), "The blog post")
    history = result.history
    firsts = (history[history["train_accuracy"] >= 0.9].groupby(["model", "seed"])["epoch"]
              .min().unstack("model"))
    assert firsts.notna().to_numpy().all() and len(firsts) == result.config.seeds
    late = (history[history["epoch"] > history["epoch"].max() - 10]
            .groupby(["model", "seed"])["test_accuracy"].mean().unstack("model"))
    bn, base = result.normalized_model, "baseline"
    text = reveal_text(step.question, result, 0)
    assert f"{bn} {firsts[bn].mean():.1f}, baseline {firsts[base].mean():.1f}" in text
    differences = list(firsts[bn] - firsts[base])
    shown = ("bn" if np.mean(differences) < 0 else "baseline") if _clear(differences, 0.5) \
        else "same"
    assert READERS["first-to-90"](result) == shown
    assert text.endswith("matches what the run shows.") == (step.question.choices[0].means
                                                            == shown)
    differences = list(late[bn] - late[base])
    shown = ("bn" if np.mean(differences) > 0 else "baseline") if _clear(differences, 0.001) \
        else "same"
    assert READERS["higher-late-test"](result) == shown
    assert (f"{bn} {late[bn].mean():.3f}, baseline {late[base].mean():.3f}"
            in READERS["higher-late-test"].read(result).facts)
