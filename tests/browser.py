"""Helpers for tests against a real `streamlit run` server and Debian's chromium."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.load import CHROMIUM, CHROMIUM_ARGS, ROOT, Server

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "require_chromium", "streamlit_server"]

ARTIFACTS = Path(os.environ.get("BNVIZ_ARTIFACTS", ROOT / "artifacts"))


def require_chromium() -> None:
    """Skip on a developer machine without chromium; fail in CI, which must install it."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: apt-get install chromium (scripts/test.sh does, as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def streamlit_server(cache_dir: Path, log_path: Path, **env: str) -> Iterator[str]:
    """Run ``streamlit run streamlit_app.py`` on a free port; yields its base URL.

    The server is `bench.load.Server`, the one the load benchmark drives; on the
    way out it and every training process it started are stopped.
    """
    try:
        server = Server(cache_dir, log_path, env=env)
    except RuntimeError as error:
        pytest.fail(str(error))
    with server:
        yield server.url
