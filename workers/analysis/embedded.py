"""The embedded mode: analyse a film file start to finish in this process (``hybridlens
analyze``), with the same stages the service runs on its workers."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.analysis import service as analysis_service
from app.core.config import Settings, get_settings
from app.core.db import ensure_database, session_scope
from app.core.domain import RunStatus
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.pipeline.errors import VideoOpenFailure
from app.pipeline.video import VideoInfo, probe
from workers.analysis.stages import (
    Models,
    ProgressSink,
    StageOutcome,
    fail_analysis,
    file_sha256,
    finish,
    infer,
    prepare,
    start,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalysisResult:
    """What became of one film: its ids (None when it could not even be registered), the
    analysis's final status and error, and its film-level figures."""

    path: str
    film_id: int | None
    analysis_id: int | None
    status: RunStatus
    error: str | None = None
    summary: dict[str, Any] | None = None
    wall_s: float = 0.0
    stages: list[StageOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Results were stored (``partial`` included: a damaged film keeps its first part)."""
        return self.status in (RunStatus.DONE, RunStatus.PARTIAL)


def analyze_path(
    path: str | Path,
    settings: Settings | None = None,
    *,
    models: Models | None = None,
    progress: ProgressSink | None = None,
    metadata: FilmMetadata | None = None,
) -> AnalysisResult:
    """Register the film (by sha256), start its analysis and run the three stages here.

    Pass ``models`` to reuse loaded models across films. A file that is not a decodable
    video gives a ``failed`` result with the reason (and a film row recording the attempt);
    this never raises for a bad film.
    """
    settings = settings or get_settings()
    started = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        reason = "no such file" if not path.exists() else "not a regular file"
        return AnalysisResult(str(path), None, None, RunStatus.FAILED, error=reason)
    url = settings.sqlalchemy_url
    ensure_database(url)
    models = models or Models.load(settings.model)
    info: VideoInfo | None
    try:
        info = probe(path)
    except VideoOpenFailure:
        info = None  # registered anyway: stage A records why it cannot be analysed
    sha256 = file_sha256(path)
    with session_scope(url) as session:
        film = films_service.register_film(
            session, path.resolve(), sha256, info, metadata, original_filename=path.name
        )
    analysis_id = start(film.film_id, settings=settings, versions=models.versions)
    outcomes: list[StageOutcome] = []
    try:
        outcomes.append(prepare(analysis_id, settings=settings, progress=progress, path=path))
        if outcomes[-1].proceed:
            outcomes.append(infer(analysis_id, models=models, settings=settings, progress=progress))
        if outcomes[-1].proceed:
            outcomes.append(finish(analysis_id, settings=settings, progress=progress))
    except KeyboardInterrupt:
        fail_analysis(analysis_id, "interrupted", settings=settings)
        raise
    except Exception as exc:  # a bug or an environment failure: record it, go on with others
        log.exception("analysis %s of %s failed", analysis_id, path)
        fail_analysis(analysis_id, f"{type(exc).__name__}: {exc}", settings=settings)
    with session_scope(url) as session:
        analysis = analysis_service.get_analysis(session, analysis_id, with_timeline=False)
    return AnalysisResult(
        path=str(path),
        film_id=film.film_id,
        analysis_id=analysis_id,
        status=analysis.status,
        error=analysis.error,
        summary=analysis.summary,
        wall_s=time.perf_counter() - started,
        stages=outcomes,
    )
