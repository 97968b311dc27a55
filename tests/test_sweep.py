"""The learning-rate sweep's rules: divergence relative to the run's own start, and the
difference between a run stuck at chance and one still learning slowly."""

import math

import pytest

from bnviz.summary import EXPLODED_LOSS, diverged, outcome


def test_divergence_is_judged_against_the_runs_own_first_epoch():
    # A raw-pixel baseline starts near 60: above 600 later is a blow-up for it, ...
    assert diverged(601.0, first_loss=60.0) and not diverged(59.0, first_loss=60.0)
    # ... while a scaled run starting near 2.3 has blown up long before 10^4.
    assert diverged(30.0, first_loss=2.3)
    assert diverged(math.nan, first_loss=2.3) and diverged(math.inf, first_loss=60.0)


def test_the_first_epoch_is_judged_by_the_absolute_bound():
    assert diverged(EXPLODED_LOSS * 2, first_loss=None)
    assert not diverged(60.0, first_loss=None)


@pytest.mark.parametrize(("first", "last", "accuracy", "expected"), [
    (2.3, 0.5, 0.85, "trained"),
    (2.30, 2.29, 0.11, "stuck at chance"),   # at guessing level, loss flat
    (2.30, 1.90, 0.18, "still learning"),    # at guessing level, loss falling
    (60.0, 2.30, 0.10, "stuck at chance"),   # raw pixels, collapsed to one answer for all
])
def test_outcomes_of_runs_that_did_not_diverge(first, last, accuracy, expected):
    assert outcome(False, first, last, accuracy) == expected


def test_a_diverged_run_is_diverged_whatever_else():
    assert outcome(True, 2.3, 0.1, 0.9) == "diverged"
