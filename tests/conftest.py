"""Shared fixtures: tiny configurations and isolated caches."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bnviz.config import ExperimentConfig
from bnviz.data import clear_cache


@pytest.fixture
def tiny_config() -> ExperimentConfig:
    """Two epochs on 256 images: seconds, not minutes."""
    return ExperimentConfig(epochs=2, train_size=256, batch_size=64)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own results store and a fresh dataset cache."""
    monkeypatch.setenv("BNVIZ_CACHE_DIR", str(tmp_path / "cache"))
    clear_cache()
    yield tmp_path / "cache"
    clear_cache()
