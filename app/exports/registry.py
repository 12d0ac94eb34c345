"""Every export of one film's results, by format name: the builder, the media type and the
file suffix. The API route (``GET /films/{id}/export``) and the CLI (``hybridlens export``)
both call ``export_film``, so the same format gives the same bytes from either.

Adding a format is a builder module here plus one ``_register`` line below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from app.analysis.schemas import FilmReport
from app.core.registry import Registry
from app.exports import edl, otio, tables, web_annotations

# Where `hybridlens serve` listens by default: the CLI's links point there unless told.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ExportTarget:
    """Where the film is served, for the formats that link to it (OTIO, Web Annotations)."""

    film_id: int
    base_url: str = DEFAULT_BASE_URL

    @property
    def media_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/films/{self.film_id}/media"

    def export_url(self, format_name: str) -> str:
        return f"{self.base_url.rstrip('/')}/films/{self.film_id}/export?format={format_name}"


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    suffix: str
    # Whether the builder reads the sampled frames (the others need only film and shots).
    frames: bool
    build: Callable[[FilmReport, ExportTarget], str]


@dataclass(frozen=True)
class ExportFile:
    body: str
    media_type: str
    filename: str


EXPORTS: Registry[ExportFormat] = Registry("export format")


def export_film(report: FilmReport, format_name: str, target: ExportTarget) -> ExportFile:
    """The film's results in ``format_name``; ``UnknownName`` for a format not registered."""
    export = EXPORTS.get(format_name)
    return ExportFile(
        body=export.build(report, target),
        media_type=export.media_type,
        filename=f"film-{target.film_id}.{export.suffix}",
    )


def film_name(report: FilmReport) -> str:
    """What timelines and annotations call the film: its title, else its file's stem."""
    film = report.film
    return film.title or PurePath(film.original_filename).stem or f"film-{film.id}"


def _edl(report: FilmReport, target: ExportTarget) -> str:
    film = report.film
    return edl.shots_edl(
        report.shots, title=film_name(report), fps=film.fps, clip_name=film.original_filename
    )


def _otio(report: FilmReport, target: ExportTarget) -> str:
    film = report.film
    timeline = otio.shots_timeline(
        report.shots,
        name=film_name(report),
        fps=film.fps,
        media_url=target.media_url,
        frame_count=film.frame_count,
    )
    return json.dumps(timeline, indent=2)


def _annotations(report: FilmReport, target: ExportTarget) -> str:
    collection = web_annotations.annotation_collection(
        report.shots,
        collection_id=target.export_url("annotations"),
        media_url=target.media_url,
        label=f"Hybrid compositions in {film_name(report)}",
    )
    return json.dumps(collection, indent=2)


def _register(export: ExportFormat) -> None:
    EXPORTS.register(export.name, export)


CSV = "text/csv; charset=utf-8"
_register(ExportFormat("json", "application/json", "json", True, lambda r, t: tables.film_json(r)))
_register(ExportFormat("csv", CSV, "frames.csv", True, lambda r, t: tables.frames_csv(r)))
_register(ExportFormat("shots.csv", CSV, "shots.csv", False, lambda r, t: tables.shots_csv(r)))
_register(ExportFormat("edl", "text/plain; charset=utf-8", "edl", False, _edl))
_register(ExportFormat("otio", "application/json", "otio", False, _otio))
_register(
    ExportFormat("annotations", "application/ld+json", "annotations.jsonld", False, _annotations)
)
