"""The gallery: every preset precomputed, served only while it matches what it claims."""

import dataclasses

import pytest

from bnviz.comparison import ComparisonRequest
from bnviz.gallery import (
    GALLERY_DIR,
    GALLERY_SEEDS,
    REBUILD,
    Gallery,
    gallery_config,
    read_index,
    write_index,
)
from bnviz.presets import PRESETS

ENTRIES = {entry.preset: entry for entry in read_index()}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_has_a_current_entry(preset):
    assert preset in ENTRIES, f"{preset!r} has no gallery entry: {REBUILD}"
    entry = ENTRIES[preset]
    request = ComparisonRequest(gallery_config(PRESETS[preset][0]))
    assert entry.config_hash == request.config_hash(), (
        f"{preset!r}: the preset's configuration changed since its entry was trained; {REBUILD}")
    assert entry.problem() is None, f"{preset!r}: {entry.problem()}; {REBUILD}"
    result = Gallery().load(request)
    assert result is not None, f"{preset!r}: its file cannot be read; {REBUILD}"
    assert sorted(result.history.seed.unique()) == list(range(1, GALLERY_SEEDS + 1))
    assert result.history.epoch.max() == entry.config.epochs
    assert result.data_source == entry.data_source and entry.trained_at and entry.versions


def test_the_gallery_fits_its_budget():
    total = sum(path.stat().st_size for path in GALLERY_DIR.iterdir())
    assert total <= 5_000_000, f"the gallery takes {total:,} bytes, more than 5 MB"


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
