"""An analysis stores each shot's transition, and the API's shots carry it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.analysis import service as analysis_service
from app.core.config import ModelSettings, Settings
from app.core.db import dispose_engine, session_scope
from app.core.domain import RunStatus
from app.exports.edl import shots_edl
from tests.media import Segment, make_video
from workers.orchestrator import analyze_path
from workers.stages.models import Models


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'analysis.sqlite3'}")
    yield settings
    dispose_engine(settings.sqlalchemy_url)


def test_analysis_stores_the_dissolve_into_a_shot(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    film = make_video(
        tmp_path / "dissolve.mkv",
        segments=[
            Segment(source="testsrc2", frames=50),
            Segment(source="smptebars", frames=50),
            Segment(source="mandelbrot", frames=60, dissolve_frames=14),
        ],
    )
    result = analyze_path(
        film.path, sqlite_settings, models=Models.load(ModelSettings(cpu_threads=1))
    )

    assert result.status is RunStatus.DONE, result.error
    assert result.film_id is not None
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        report = analysis_service.get_film_report(session, result.film_id)
    assert [shot.transition for shot in report.shots] == [None, "cut", "dissolve"]
    assert 10 <= report.shots[2].transition_frames <= 18
    assert " D    0" in shots_edl(report.shots, title="t", fps=25.0, clip_name="d.mkv")
