import dataclasses
import math
import pickle

import pytest

from bnviz.config import ConfigError, ExperimentConfig, field_meta, field_names
from bnviz.link import read_link
from bnviz.sweep import SweepRequest
from bnviz.variants import VARIANTS


def test_defaults_are_the_blog_experiment():
    config = ExperimentConfig()
    assert (config.epochs, config.batch_size, config.placement) == (100, 64, "after")
    assert (config.optimizer, config.learning_rate) == ("adam", 0.001)
    assert (config.train_size, config.split, config.scale_pixels) == (1000, "blog", False)


def test_mapping_keys_are_exactly_the_field_names():
    assert tuple(ExperimentConfig().to_mapping()) == field_names()
    assert set(field_names()) == {
        "architecture", "epochs", "batch_size", "placement", "normalization", "learning_rate",
        "optimizer",
        "train_size", "split", "scale_pixels", "seed", "seeds", "landscape_every",
    }


def test_a_normalization_left_at_batch_keeps_every_hash_stored_before_it_existed():
    # A link or a stored result written before the field existed has no `normalization`:
    # it reads as "batch" and hashes as it always did (the gallery's files are named so).
    before = {"epochs": "20", "placement": "before", "seeds": "3"}
    config = ExperimentConfig.from_mapping(before)
    assert config.normalization == "batch"
    assert config.config_hash() == ExperimentConfig.from_mapping(
        {**before, "normalization": "batch"}).config_hash()
    hashes = {ExperimentConfig(normalization=n).config_hash()
              for n in field_meta("normalization")["choices"]}
    assert len(hashes) == len(VARIANTS)  # every variant is a result of its own


def test_every_normalization_round_trips_through_a_link():
    for value in field_meta("normalization")["choices"]:
        config = ExperimentConfig(normalization=value)
        assert read_link({k: [v] for k, v in config.to_mapping().items()}).config == config


def test_round_trip_through_strings():
    config = ExperimentConfig(epochs=7, batch_size=32, placement="before", learning_rate=3e-4,
                              optimizer="sgd", train_size=2000, split="official",
                              scale_pixels=True, seed=42)
    mapping = config.to_mapping()
    assert all(isinstance(v, str) for v in mapping.values())
    assert ExperimentConfig.from_mapping(mapping) == config


@pytest.mark.parametrize(("field", "value", "words"), [
    ("epochs", "0", "between 1 and 1000"),
    ("epochs", "abc", "whole number"),
    ("learning_rate", "nan", "finite"),
    ("learning_rate", "5", "between"),
    ("placement", "sideways", "must be one of after, before"),
    ("scale_pixels", "maybe", "true/false"),
    ("train_size", "10", "between 100"),
])
def test_bad_values_name_the_field(field, value, words):
    with pytest.raises(ConfigError) as caught:
        ExperimentConfig.from_mapping({field: value})
    assert caught.value.field == field
    assert words in str(caught.value)


def test_unknown_key_is_rejected_strictly_and_reported_by_a_link():
    with pytest.raises(ConfigError):
        ExperimentConfig.from_mapping({"epochz": "3"})
    reading = read_link({"epochz": ["3"], "epochs": ["5"], "batch_size": ["-1"]})
    assert reading.config == ExperimentConfig(epochs=5)
    assert sorted(p.name for p in reading.problems) == ["batch_size", "epochz"]


def test_direct_construction_is_validated():
    with pytest.raises(ConfigError, match="batch_size"):
        ExperimentConfig(batch_size=0)
    with pytest.raises(ConfigError, match="seed"):
        ExperimentConfig(seed=1.5)


def test_hash_of_the_default_configuration_is_pinned():
    # Stored results and shared links are keyed by this hash: a change to hashing (or to
    # RESULTS_VERSION) must be deliberate, since it makes every stored result unreachable.
    # (Version 5, 2026-12-01: the landscape along the step taken; was 7604f8f3461f0d69.)
    assert ExperimentConfig().config_hash() == "fa58f58a2882daa5"
    assert SweepRequest(ExperimentConfig()).config_hash() == "sweep-709b7e182d3926b2"
    assert ExperimentConfig(seed=2).config_hash() != ExperimentConfig().config_hash()


def test_a_config_is_validated_again_when_it_crosses_a_process_line():
    config = ExperimentConfig(epochs=7, placement="before")
    assert pickle.loads(pickle.dumps(config)) == config
    smuggled = config.replace()
    object.__setattr__(smuggled, "epochs", 0)  # what validation forbids
    with pytest.raises(ConfigError, match="epochs"):
        pickle.loads(pickle.dumps(smuggled))
    sweep = SweepRequest(config, (1e-3,), epochs=3)
    object.__setattr__(sweep, "epochs", 99)
    with pytest.raises(ConfigError, match="epochs"):
        pickle.loads(pickle.dumps(sweep))


def test_every_field_has_help_and_a_range_or_choices():
    for name in field_names():
        meta = field_meta(name)
        assert meta["help"] and meta["label"]
        if meta["type"] in (int, float):
            assert meta["min"] <= meta["default"] <= meta["max"]
            assert math.isfinite(meta["max"])
        elif meta["type"] is str:
            assert meta["default"] in meta["choices"]


def test_only_noisy_batch_hashes_carry_the_version_of_its_noise(monkeypatch):
    # The noise-only control draws the same noise but is a new value: its hashes are new
    # anyway, and carry no version, so a later bump of noisy BN's leaves them.
    noisy, group, control = (ExperimentConfig(normalization=name) for name in (
        "noisy-batch", "group", "noise-only"))
    before = (noisy.config_hash(), group.config_hash(), control.config_hash(),
              ExperimentConfig().config_hash())
    bumped = dataclasses.replace(VARIANTS["noisy-batch"],
                                 version=VARIANTS["noisy-batch"].version + 1)
    monkeypatch.setitem(VARIANTS, "noisy-batch", bumped)
    after = (noisy.config_hash(), group.config_hash(), control.config_hash(),
             ExperimentConfig().config_hash())
    assert after[0] != before[0] and after[1:] == before[1:]
    assert VARIANTS["noise-only"].version is None
