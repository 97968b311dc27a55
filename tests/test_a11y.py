"""Colours a student can tell apart: WCAG AA contrast for the theme's text colours and the
charts' marks, the two models distinct under simulated red-green colour blindness, and the
live region's announcements few enough to hear."""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bnviz import charts
from ui.sections import ANNOUNCEMENTS_PER_TRAINING, progress_announcement

ROOT = Path(__file__).resolve().parents[1]
THEME = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
WHITE = "#ffffff"
# Streamlit's light theme draws widgets and the sidebar on this (`streamlit config show`).
SECONDARY_BACKGROUND = "#f8f8f7"
CAPTION_OPACITY = 0.6  # Streamlit's captions: the text colour at 60 % (its fadedText60)
TEXT_CONTRAST, MARK_CONTRAST = 4.5, 3.0  # WCAG 2.1 AA: 1.4.3 text, 1.4.11 graphics


def _rgb(colour: str) -> np.ndarray:
    colour = colour.lstrip("#")
    return np.array([int(colour[i:i + 2], 16) for i in (0, 2, 4)]) / 255


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _luminance(rgb: np.ndarray) -> float:
    return float(_linear(rgb) @ np.array([0.2126, 0.7152, 0.0722]))


def contrast(foreground: str | np.ndarray, background: str = WHITE) -> float:
    """WCAG's contrast ratio of two sRGB colours."""
    fore = _rgb(foreground) if isinstance(foreground, str) else foreground
    lighter, darker = sorted([_luminance(fore), _luminance(_rgb(background))], reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def _over(colour: str, background: str, opacity: float) -> np.ndarray:
    return opacity * _rgb(colour) + (1 - opacity) * _rgb(background)


def test_the_themes_primary_colour_reads_as_text_on_white_and_on_widgets():
    primary = THEME["primaryColor"]
    assert contrast(primary) >= TEXT_CONTRAST
    assert contrast(primary, SECONDARY_BACKGROUND) >= TEXT_CONTRAST


@pytest.mark.parametrize("background", [WHITE, SECONDARY_BACKGROUND])
def test_captions_in_the_themes_text_colour_at_60_percent_meet_aa(background):
    caption = _over(THEME["textColor"], background, CAPTION_OPACITY)
    assert contrast(caption, background) >= TEXT_CONTRAST


@pytest.mark.parametrize("colour", [shade for pair in charts.SERIES_COLOURS for shade in pair])
def test_every_series_shade_stands_out_from_the_white_plot(colour):
    assert contrast(colour) >= MARK_CONTRAST


@pytest.mark.parametrize("colour", [charts.ACCENT_COLOUR, charts.REFERENCE_COLOUR,
                                    charts.MARKER_COLOUR, charts.CHART_TEXT_COLOUR])
def test_single_colour_marks_read_like_text(colour):  # the modes chart labels its line
    assert contrast(colour) >= TEXT_CONTRAST


# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB: the simulation
# chromium's DevTools vision-deficiency emulation is based on.
DEFICIENCIES = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
}


def _lab(linear: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of a linear-RGB colour."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ linear / np.array([0.9505, 1.0, 1.089])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _seen(colour: str, deficiency: str) -> np.ndarray:
    return _lab(np.clip(DEFICIENCIES[deficiency] @ _linear(_rgb(colour)), 0, 1))


CLEARLY_APART = 20.0  # CIE76 ΔE: 2.3 is just noticeable; 20 reads as another colour


@pytest.mark.parametrize("deficiency", list(DEFICIENCIES))
@pytest.mark.parametrize("subset", [0, 1], ids=["train", "test"])
def test_the_two_models_stay_apart_under_red_green_colour_blindness(deficiency, subset):
    baseline, normalised = (charts.SERIES_COLOURS[m][subset] for m in (0, 1))
    difference = np.linalg.norm(_seen(baseline, deficiency) - _seen(normalised, deficiency))
    assert difference >= CLEARLY_APART, (deficiency, baseline, normalised, difference)


def test_the_models_differ_by_shape_and_train_from_test_by_dash():
    assert len(set(charts.MODEL_SHAPES)) == 2
    assert charts.STROKE_DASHES["train"] != charts.STROKE_DASHES["test"]


@pytest.mark.parametrize("epochs", [1, 2, 7, 10, 100, 300])
def test_progress_is_announced_about_ten_times_a_training_not_every_epoch(epochs):
    said = [progress_announcement(done, epochs) for done in range(epochs + 1)]
    changes = sum(1 for before, after in itertools.pairwise(said) if before != after)
    assert 1 <= changes <= ANNOUNCEMENTS_PER_TRAINING + 1
    assert said[-1] == f"Training: {epochs} of {epochs} epochs done."
    assert said[0].startswith("Training started")
