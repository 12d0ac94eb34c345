"""Packaging: the project's metadata applies without setuptools' deprecation warnings (the
license as an SPDX expression, not the deprecated ``{ text = ... }`` table)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from setuptools.config.pyprojecttoml import apply_configuration
from setuptools.dist import Distribution

REPO = Path(__file__).resolve().parents[1]


def test_pyproject_applies_without_deprecation_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the readme and package paths are relative to the project
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), os.fspath(REPO / "pyproject.toml"))

    assert distribution.metadata.license_expression == "MIT"
    assert [
        str(warning.message) for warning in caught if "deprecated" in str(warning.message)
    ] == []
