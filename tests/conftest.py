"""Suite-wide fixtures: every test runs with its own data directory and fails if it logged an ERROR."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from app.core.config import get_settings

    monkeypatch.setenv("HYBRIDLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HYBRIDLENS_MODEL__CPU_THREADS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fail_on_logged_error(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """A test that logged an ERROR fails unless it says it expects one (marker ``logs_errors``)."""
    yield
    if request.node.get_closest_marker("logs_errors"):
        return
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("test logged errors: " + "; ".join(r.getMessage() for r in errors))
