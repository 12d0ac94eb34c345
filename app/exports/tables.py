"""CSV and JSON exports of one film's results and of a collection's films."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from app.analysis.schemas import FilmReport
from app.collections.schemas import CollectionPublic, CollectionStats
from app.films.schemas import FilmPublic
from app.pipeline.timecode import edit_rate, frame_at, smpte

# Server paths stay on the server.
PRIVATE_FILM_FIELDS = {"stored_path"}

FRAME_COLUMNS = (
    "frame",
    "time_s",
    "timecode",
    "shot",
    "class",
    "p_fraction",
    "confidence",
    "weight_s",
    "has_mask",
    # Where the mask and the class come from (human, elan, propagated, model; see
    # app.annotations.resolve), and the model's own class.
    "mask_source",
    "label_source",
    "model_class",
)
SHOT_COLUMNS = (
    "shot",
    "start_frame",
    "end_frame",
    "start_time",
    "end_time",
    "start_timecode",
    "end_timecode",
    "class",
    "hybrid_ratio",
    "mean_p_fraction",
    "sampled_frames",
    "transition",
    "transition_frames",
    "mask_source",
    "label_source",
)
FILM_COLUMNS = (
    "id",
    "title",
    "year",
    "original_filename",
    "sha256",
    "duration_s",
    "hybrid_ratio",
    "adjusted_hybrid_ratio",
    "hybrid_ratio_low",
    "hybrid_ratio_high",
    "p_time_share",
    "np_time_share",
    "hybrid_time_share",
    "mean_p_fraction",
    "hybrid_shot_count",
    "last_analysis_id",
    # "done" or "partial", and why it is partial (or that no frame could be analysed).
    "analysis_status",
    "analysis_note",
)


def _csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue()


def film_document(report: FilmReport) -> dict[str, Any]:
    """The whole report as JSON values: film (without server paths), analysis, shots, frames.
    The JSON export, and what ``hybridlens analyze --json`` and ``show --json`` print."""
    return report.model_dump(mode="json", exclude={"film": PRIVATE_FILM_FIELDS})


def film_json(report: FilmReport) -> str:
    return json.dumps(film_document(report), indent=2, sort_keys=False)


def _edit_rate(report: FilmReport) -> Any:
    return edit_rate(report.film.probe.get("nominal_rate"), report.film.fps)


def frames_csv(report: FilmReport) -> str:
    """One row per sampled frame, in time order: ``frame`` counts decoded frames from 0,
    ``timecode`` is where the frame is shown at the film's nominal rate, ``shot`` from 1."""
    rate = _edit_rate(report)
    return _csv(
        FRAME_COLUMNS,
        (
            (
                frame.frame_index,
                f"{frame.time_s:.6f}",
                smpte(frame_at(frame.time_s, rate), rate),
                frame.shot_number,
                frame.frame_class.value,
                f"{frame.p_fraction:.6f}",
                None if frame.confidence is None else f"{frame.confidence:.6f}",
                f"{frame.weight_s:.6f}",
                int(frame.has_mask),
                frame.mask_source,
                frame.label_source,
                frame.model_frame_class.value if frame.model_frame_class else None,
            )
            for frame in report.frames
        ),
    )


def shots_csv(report: FilmReport) -> str:
    """One row per shot, numbered from 1; ``end_frame`` is inclusive, ``end_time`` and
    ``end_timecode`` exclusive; timecodes at the film's nominal rate, from the times."""
    rate = _edit_rate(report)
    return _csv(
        SHOT_COLUMNS,
        (
            (
                shot.number,
                shot.start_frame,
                shot.end_frame,
                f"{shot.start_time:.6f}",
                f"{shot.end_time:.6f}",
                smpte(frame_at(shot.start_time, rate), rate),
                smpte(frame_at(shot.end_time, rate), rate),
                shot.frame_class.value if shot.frame_class else None,
                f"{shot.hybrid_ratio:.6f}",
                None if shot.mean_p_fraction is None else f"{shot.mean_p_fraction:.6f}",
                shot.sampled_frames,
                shot.transition,
                shot.transition_frames,
                shot.mask_source,
                shot.label_source,
            )
            for shot in report.shots
        ),
    )


SCENE_COLUMNS = (
    "scene",
    "start_frame",
    "end_frame",
    "start_time",
    "end_time",
    "start_timecode",
    "end_timecode",
    "shots",
)


def scenes_csv(report: FilmReport) -> str:
    """One row per scene, numbered from 1, with its shots (numbered from 1, ``;``-joined);
    ``end_frame`` inclusive, ``end_time`` and ``end_timecode`` exclusive, as in shots.csv."""
    rate = _edit_rate(report)
    return _csv(
        SCENE_COLUMNS,
        (
            (
                scene.index + 1,
                scene.start_frame,
                scene.end_frame,
                f"{scene.start_time_s:.6f}",
                f"{scene.end_time_s:.6f}",
                smpte(frame_at(scene.start_time_s, rate), rate),
                smpte(frame_at(scene.end_time_s, rate), rate),
                ";".join(str(shot + 1) for shot in scene.shot_indices),
            )
            for scene in report.scenes
        ),
    )


def _film_row(film: FilmPublic) -> tuple[Any, ...]:
    return tuple(film.model_dump(mode="json")[column] for column in FILM_COLUMNS)


def collection_csv(films: Iterable[FilmPublic]) -> str:
    """One row per film of the collection with its cached figures (empty until analysed)."""
    return _csv(FILM_COLUMNS, (_film_row(film) for film in films))


def collection_json(
    collection: CollectionPublic, stats: CollectionStats, films: Iterable[FilmPublic]
) -> str:
    data = {
        "collection": collection.model_dump(mode="json"),
        "stats": stats.model_dump(mode="json"),
        "films": [film.model_dump(mode="json", exclude=PRIVATE_FILM_FIELDS) for film in films],
    }
    return json.dumps(data, indent=2)
