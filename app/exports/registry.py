"""Every export of one film's results, by format name: the builder, the media type and the
file suffix. The API route (``GET /films/{id}/export``) and the CLI (``hybridlens export``)
both call ``export_film``, so the same format gives the same bytes from either.

Adding a format is a builder module here plus one ``_register`` line below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import PurePath
from typing import Any

from app.analysis.schemas import FilmReport
from app.core.errors import ConflictError, InvalidRequestError
from app.core.registry import Registry
from app.exports import eaf, edl, otio, tables, web_annotations
from app.pipeline.timecode import edit_rate, is_drop_frame_rate

# Where `hybridlens serve` listens by default: the CLI's links point there unless told.
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ExportTarget:
    """Where the film is served, for the formats that link to it (OTIO, Web Annotations)."""

    film_id: int
    base_url: str = DEFAULT_BASE_URL
    # Drop-frame timecode in edit lists (films at 29.97 or 59.94 only).
    drop_frame: bool = False

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


class ExportRefused(InvalidRequestError):
    """The export cannot be made as asked (drop-frame timecode for a 25 fps film)."""


class NothingToExport(ConflictError):
    """The film has no results to export: not analysed, or its analysis failed or runs."""


def check_exportable(report: FilmReport) -> None:
    """``NothingToExport`` with the reason unless the report holds a finished analysis
    (done, or partial: its first part is kept)."""
    analysis = report.analysis
    film = f"film {report.film.id}"
    if analysis is None:
        raise NothingToExport(f"{film} has not been analysed")
    status = analysis.status.value
    if status in ("done", "partial"):
        return
    reason = f": {analysis.error}" if analysis.error else ""
    if status in ("queued", "running"):
        raise NothingToExport(f"{film} is still being analysed ({status})")
    raise NothingToExport(f"the analysis of {film} {status}{reason}")


def export_film(report: FilmReport, format_name: str, target: ExportTarget) -> ExportFile:
    """The film's results in ``format_name``; ``UnknownName`` for a format not registered,
    ``NothingToExport`` (409) when there are no results, ``ExportRefused`` when the
    format cannot be made as asked."""
    export = EXPORTS.get(format_name)
    check_exportable(report)
    return ExportFile(
        body=export.build(report, target),
        media_type=export.media_type,
        filename=f"film-{target.film_id}.{export.suffix}",
    )


def film_name(report: FilmReport) -> str:
    """What timelines and annotations call the film: its title, else its file's stem."""
    film = report.film
    return film.title or PurePath(film.original_filename).stem or f"film-{film.id}"


def film_edit_rate(report: FilmReport) -> Fraction:
    """The rate the film's timecodes count in: its nominal rate, not a variable-frame-rate
    file's average."""
    return edit_rate(report.film.probe.get("nominal_rate"), report.film.fps)


def _drop_frame(report: FilmReport, target: ExportTarget) -> bool:
    if target.drop_frame and not is_drop_frame_rate(film_edit_rate(report)):
        raise ExportRefused(
            f"drop-frame timecode needs a 29.97 or 59.94 fps film; this one runs at "
            f"{float(film_edit_rate(report)):.3f}"
        )
    return target.drop_frame


def analysis_note(report: FilmReport) -> str | None:
    """What an export says of its analysis beyond its figures: "PARTIAL: <why>" for a damaged
    film, or why a done one has no figures ("no analysable frames")."""
    analysis = report.analysis
    if analysis is None or (not analysis.error and analysis.status.value == "done"):
        return None
    state = analysis.status.value.upper()
    return f"{state}: {analysis.error}" if analysis.error else state


def _edl(report: FilmReport, target: ExportTarget) -> str:
    film = report.film
    return edl.shots_edl(
        report.shots,
        title=film_name(report),
        fps=film_edit_rate(report),
        clip_name=film.original_filename,
        drop_frame=_drop_frame(report, target),
        note=analysis_note(report),
    )


def _otio(report: FilmReport, target: ExportTarget) -> str:
    timeline = otio.shots_timeline(
        report.shots,
        name=film_name(report),
        fps=film_edit_rate(report),
        media_url=target.media_url,
        duration_s=report.film.duration_s,
        drop_frame=_drop_frame(report, target),
        analysis=_analysis_state(report),
        scenes=report.scenes,
    )
    return json.dumps(timeline, indent=2)


def _analysis_state(report: FilmReport) -> dict[str, Any] | None:
    analysis = report.analysis
    if analysis is None:
        return None
    return {"id": analysis.id, "status": analysis.status.value, "note": analysis.error}


def _annotations(report: FilmReport, target: ExportTarget) -> str:
    collection = web_annotations.annotation_collection(
        report.shots,
        report.frames,
        collection_id=target.export_url("annotations"),
        media_url=target.media_url,
        label=f"Hybrid compositions in {film_name(report)}",
    )
    return json.dumps(collection, indent=2)


def _eaf(report: FilmReport, target: ExportTarget) -> str:
    analysis = report.analysis
    return eaf.analysis_eaf(
        report.shots,
        report.frames,
        media_url=target.media_url,
        media_name=report.film.original_filename or f"film-{report.film.id}",
        created=(analysis.finished_at or analysis.created_at) if analysis is not None else None,
    )


def _register(export: ExportFormat) -> None:
    EXPORTS.register(export.name, export)


CSV = "text/csv; charset=utf-8"
_register(ExportFormat("json", "application/json", "json", True, lambda r, t: tables.film_json(r)))
_register(ExportFormat("csv", CSV, "frames.csv", True, lambda r, t: tables.frames_csv(r)))
_register(ExportFormat("shots.csv", CSV, "shots.csv", False, lambda r, t: tables.shots_csv(r)))
_register(ExportFormat("scenes.csv", CSV, "scenes.csv", False, lambda r, t: tables.scenes_csv(r)))
_register(ExportFormat("edl", "text/plain; charset=utf-8", "edl", False, _edl))
_register(ExportFormat("otio", "application/json", "otio", False, _otio))
_register(
    ExportFormat("annotations", "application/ld+json", "annotations.jsonld", True, _annotations)
)
_register(ExportFormat("eaf", "application/xml", "eaf", True, _eaf))
