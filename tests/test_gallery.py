"""The gallery: every preset precomputed, served only while it matches what it claims."""

import dataclasses

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.config import ExperimentConfig
from bnviz.gallery import (
    GALLERY_DIR,
    GALLERY_SEEDS,
    REBUILD,
    Gallery,
    gallery_config,
    read_index,
    write_index,
)
from bnviz.presets import PRESET_SWEEPS, PRESETS, gallery_configs, preset_sweep
from bnviz.snapshots import checkpoint_epochs, prediction_epochs
from bnviz.sweep import SweepRequest

ENTRIES = {entry.preset: entry for entry in read_index()}


@pytest.mark.parametrize("preset", list(gallery_configs()))
def test_every_preset_and_what_if_has_a_current_entry(preset):
    assert preset in ENTRIES, f"{preset!r} has no gallery entry: {REBUILD}"
    entry = ENTRIES[preset]
    request = ComparisonRequest(gallery_config(gallery_configs()[preset]))
    assert entry.config_hash == request.config_hash(), (
        f"{preset!r}: the preset's configuration changed since its entry was trained; {REBUILD}")
    assert entry.problem() is None, f"{preset!r}: {entry.problem()}; {REBUILD}"
    result = Gallery().load(request)
    assert result is not None, f"{preset!r}: its file cannot be read; {REBUILD}"
    assert sorted(result.history.seed.unique()) == list(range(1, GALLERY_SEEDS + 1))
    assert result.history.epoch.max() == entry.config.epochs
    # What the scrubber and shorter runs are served from: kept after every epoch.
    assert result.predictions.epochs == prediction_epochs(entry.config.epochs), REBUILD
    if entry.config.variant.keeps_moving_statistics:
        assert tuple(sorted(result.bn_modes.epoch.unique())) == checkpoint_epochs(
            entry.config.epochs)
    assert result.data_source == entry.data_source and entry.trained_at and entry.versions


def test_the_gallery_fits_its_budget():
    total = sum(path.stat().st_size for path in GALLERY_DIR.iterdir())
    assert total <= 15_000_000, f"the gallery takes {total:,} bytes, more than 15 MB"


@pytest.mark.parametrize("preset", list(PRESET_SWEEPS))
def test_a_presets_sweep_is_served_with_it(preset):
    config = gallery_config(PRESETS[preset][0])
    sweep = preset_sweep(preset, config)
    gallery = Gallery()
    assert ENTRIES[preset].sweep == sweep, f"{preset!r}: its sweep changed; {REBUILD}"
    # The sweep tab asks for it by the preset's settings, whatever the seed count.
    assert gallery.sweep_for(PRESETS[preset][0]) == sweep == gallery.sweep_for(config)
    result = gallery.load(sweep)
    assert result is not None, f"{preset!r}: its sweep's file cannot be read; {REBUILD}"
    assert sorted(result.table.learning_rate.unique()) == sorted(sweep.learning_rates)
    assert set(result.table.model) == {"baseline", "BN after"}
    # Another grid is not the gallery's: it trains.
    assert gallery.load(SweepRequest(config, sweep.learning_rates[:2], sweep.epochs)) is None
    assert gallery.sweep_for(ExperimentConfig()) is None


@pytest.mark.parametrize("change", [{"data_fingerprint": "0123456789abcdef"},
                                    {"results_version": 1}])
def test_an_entry_that_no_longer_matches_is_not_served(tmp_path, change, caplog):
    entry = ENTRIES["The blog post"]
    stale = dataclasses.replace(entry, **change)
    (tmp_path / stale.file).write_bytes((GALLERY_DIR / entry.file).read_bytes())
    write_index([stale], tmp_path)
    request = ComparisonRequest(entry.config)
    assert Gallery(tmp_path).load(request) is None
    assert "not serving The blog post" in caplog.text and REBUILD in caplog.text
    assert Gallery().load(request) is not None  # the real entry still is


def test_an_entry_whose_configuration_hashes_otherwise_now_is_refused():
    entry = ENTRIES["The blog post"]
    changed = dataclasses.replace(entry, config=entry.config.replace(epochs=99))
    assert changed.problem() == "its configuration hashes differently now"


def test_a_preset_without_a_servable_entry_keeps_its_own_settings(tmp_path):
    write_index([], tmp_path)
    blog = PRESETS["The blog post"][0]
    assert Gallery(tmp_path).preset_config(blog) == blog  # trains with one seed, as before
    assert Gallery().preset_config(blog) == gallery_config(blog)


def _spread(preset: str, model: str, statistic: str, digits: int) -> str:
    """Mean ± sd over the gallery entry's seeds of one statistic of one model, as the page's
    texts write it."""
    result = Gallery().load(ComparisonRequest(gallery_config(PRESETS[preset][0])))
    assert result is not None, f"{preset!r} is not in the gallery; {REBUILD}"
    values = result.summary().set_index("model").loc[model, statistic]
    return f"{values.mean():.{digits}f} ± {values.std():.{digits}f}"


def _late(preset: str, model: str) -> str:
    return _spread(preset, model, "late_test_accuracy", 3).split(" ± ")[0]


def test_the_pages_figures_on_santurkars_noise_are_the_gallerys():
    """Every figure the page gives of noisy BN and its control is what the gallery's entries
    hold today (a rebuild that moved them fails here until the texts follow)."""
    from bnviz import explain
    from bnviz.variants import VARIANTS

    noisy = _spread("Noisy BN (Santurkar)", "noisy BN before", "epochs_to_90_train", 1)
    bn = _spread("BN before ReLU", "BN before", "epochs_to_90_train", 1)
    baseline = _spread("Noisy BN (Santurkar)", "baseline", "epochs_to_90_train", 1)
    control = _spread("Noise without BN (control)", "noise only before", "epochs_to_90_train", 1)
    seeds = f"{GALLERY_SEEDS} seeds"
    for figure in (noisy, bn, baseline, control, seeds):
        assert figure in explain.WHAT_IS_BN, figure
    question = VARIANTS["noisy-batch"].question
    for figure in (noisy, bn, baseline, seeds, _late("Noisy BN (Santurkar)", "noisy BN before"),
                   _late("BN before ReLU", "BN before")):
        assert figure in question, figure
    question = VARIANTS["noise-only"].question
    for figure in (control, baseline, seeds,
                   _late("Noise without BN (control)", "noise only before"),
                   _late("Noise without BN (control)", "baseline")):
        assert figure in question, figure
