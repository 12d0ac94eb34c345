"""The committed demo film: small, 20-40 s, a real video, and what `make analyze` analyses
when no FILM= is given (FILM= still chooses another)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.pipeline.video import probe

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "hybridlens-demo.mp4"


def test_demo_film_is_small_and_20_to_40_seconds_long() -> None:
    info = probe(DEMO)

    assert DEMO.stat().st_size <= 3 * 1024 * 1024
    assert 20.0 <= info.duration_s <= 40.0
    assert min(info.width, info.height) >= 240
    assert (REPO / "demo" / "SOURCES.md").is_file()
    assert (REPO / "scripts" / "make_demo_film.py").is_file()


def _make_analyze(*arguments: str) -> str:
    planned = subprocess.run(
        ["make", "-n", "analyze", *arguments],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return planned.stdout


def test_make_analyze_analyses_the_demo_film_unless_told_another() -> None:
    assert "hybridlens analyze demo/hybridlens-demo.mp4" in _make_analyze()
    assert "hybridlens analyze my/film.mkv" in _make_analyze("FILM=my/film.mkv")
