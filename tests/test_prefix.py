"""Answers a run already holds: fewer epochs and fewer seeds cut from a longer run equal the
shorter run trained on its own, and the job manager serves them without training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bnviz import prefix
from bnviz.comparison import ComparisonRequest
from bnviz.gallery import GALLERY_SEEDS, Gallery, gallery_config
from bnviz.job import GALLERY, JOB
from bnviz.presets import PRESETS
from bnviz.snapshots import checkpoint_epochs, prediction_epochs
from bnviz.store import ResultsStore
from bnviz.training import train_comparison
from tests.helpers import assert_identical, fake_result


def _same_run(served, trained) -> None:
    """Everything the page shows of the two results is the same."""
    assert served.config == trained.config
    assert_identical(served.history.drop(columns="seconds"),
                     trained.history.drop(columns="seconds"))
    for name in ("relu_inputs", "landscape", "bn_layers", "bn_modes"):
        assert_identical(getattr(served, name), getattr(trained, name))
    assert served.predictions.epochs == trained.predictions.epochs
    for model in trained.models:
        for kept in ("classes", "percent"):
            np.testing.assert_array_equal(getattr(served.predictions, kept)[model],
                                          getattr(trained.predictions, kept)[model])
    timed = [c for c in trained.summary().columns if "seconds" in c]  # wall time differs
    assert_identical(served.summary().drop(columns=timed), trained.summary().drop(columns=timed))


@pytest.mark.slow
def test_a_run_cut_to_fewer_epochs_and_seeds_is_the_shorter_run_exactly(tiny_config):
    # Six epochs hold checkpoints 1, 2, 5 and 6; the cut at 5 ends on a checkpoint, so BN's
    # values and modes are there too, as a 5-epoch run measures them at its end.
    config = tiny_config.replace(epochs=6, seeds=2, landscape_every=3)
    long = train_comparison(config)
    wanted = config.replace(epochs=5, seeds=1)
    assert ComparisonRequest(config).answer_from(long) is None  # itself: nothing to cut
    served = ComparisonRequest(wanted).answer_from(long)
    trained = train_comparison(wanted)
    _same_run(served, trained)
    assert served.cut_from == config and trained.cut_from is None
    assert served.cut_note() == "from the 6-epoch, 2-seed run, cut at epoch 5 and its first seed"
    # The second seed of a two-seed run is a one-seed run from that seed: seeds cut alone.
    both = ComparisonRequest(config.replace(seeds=1)).answer_from(long)
    assert set(both.history.seed) == {config.seed} and len(both.history) == 2 * 6
    assert both.cut_note() == "from the 6-epoch, 2-seed run, its first seed"


def test_what_a_run_holds_and_what_it_does_not(tiny_config):
    long = tiny_config.replace(epochs=10, seeds=3)
    assert prefix.holds(long, long.replace(epochs=4))
    assert prefix.holds(long, long.replace(seeds=1, epochs=10))
    assert not prefix.holds(long, long)  # the same run: served as itself
    assert not prefix.holds(long, long.replace(epochs=11))
    assert not prefix.holds(long, long.replace(seeds=4))
    assert not prefix.holds(long, long.replace(seed=2, seeds=1))  # its first seed differs
    assert not prefix.holds(long, long.replace(epochs=4, batch_size=32))


def test_kept_epochs_and_checkpoints():
    assert prediction_epochs(3) == (1, 2, 3)
    assert prediction_epochs(100) == tuple(range(1, 101))
    kept = prediction_epochs(1000)  # Ioffe & Szegedy's: every 10th past the 100th
    assert kept[:100] == tuple(range(1, 101)) and kept[100:103] == (110, 120, 130)
    assert kept[-1] == 1000 and 105 not in kept
    assert checkpoint_epochs(100) == (1, 2, 5, 10, 20, 50, 100)
    assert checkpoint_epochs(37) == (1, 2, 5, 10, 20, 37)
    assert checkpoint_epochs(1) == (1,)


def test_a_partial_run_is_never_cut(tiny_config):
    config = tiny_config.replace(epochs=1, seeds=2)
    stopped = fake_result(config)
    stopped.stopped_seed, stopped.stopped_epoch = 2, 0
    assert ComparisonRequest(config.replace(seeds=1)).answer_from(stopped) is None


# -- served by the job manager ----------------------------------------------------------


def test_the_manager_serves_a_shorter_run_from_one_it_trained_without_training(
        tiny_config, tmp_path, open_manager):
    trainings = []

    def runner(request, on_progress=None, should_stop=None):
        trainings.append(request.config)
        return fake_result(request.config)

    manager = open_manager(ResultsStore(tmp_path), runner=runner)
    long = tiny_config.replace(epochs=1, seeds=3)
    assert manager.submit(ComparisonRequest(long)).ended.wait(10)
    found = manager.lookup(ComparisonRequest(long.replace(seeds=1)))
    assert found.origin == JOB and found.result.cut_from == long
    # Cut once: every viewer (and the views built of it) shares the one result.
    assert manager.lookup(ComparisonRequest(long.replace(seeds=1))).result is found.result
    assert trainings == [long]  # nothing more trained
    assert manager.lookup(ComparisonRequest(long.replace(epochs=2))).result is None


def test_the_gallery_answers_fewer_epochs_and_seeds_of_the_blogs_run(tmp_path, open_manager):
    gallery = Gallery()
    blog = gallery_config(PRESETS["The blog post"][0])
    assert gallery.entry(ComparisonRequest(blog)).config.seeds == GALLERY_SEEDS
    manager = open_manager(ResultsStore(tmp_path), gallery=gallery)
    source = gallery.load(ComparisonRequest(blog))
    one_seed = manager.lookup(ComparisonRequest(blog.replace(seeds=1)))
    assert one_seed.origin == GALLERY and one_seed.result.cut_from == blog
    first = source.history[source.history.seed == blog.seed].reset_index(drop=True)
    pd.testing.assert_frame_equal(one_seed.result.history, first)
    thirty = manager.lookup(ComparisonRequest(blog.replace(epochs=30, seeds=1)))
    assert thirty.origin == GALLERY
    assert thirty.result.cut_note() == ("from the 100-epoch, 5-seed run, cut at epoch 30 and "
                                        "its first seed")
    assert thirty.result.history.epoch.max() == 30 and thirty.result.final_epoch == 30
    for model in source.models:  # what the tabs show: the answers after epoch 30
        np.testing.assert_array_equal(thirty.result.answers_at()[model][0],
                                      source.answers_at(30)[model][0])
