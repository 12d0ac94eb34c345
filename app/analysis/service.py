"""Analysis logic: start (or restart) an analysis, record its progress and results, read them.

The pipeline calls, in order: ``start_analysis`` -> ``update_progress`` (often) ->
``save_shots`` / ``save_frames`` (any number of times, in chunks) -> ``finish_analysis``.
Each call takes an open session and leaves the commit to the caller; commit after each
call that others should see (progress, the finish). An analysis is keyed on (film,
classifier version, segmenter version, settings hash): starting it again resets that same
row and deletes its shots and frames, so a re-run or a retried task never duplicates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.analysis import repository
from app.analysis.schemas import (
    AnalysisDetail,
    AnalysisPublic,
    AnalysisSummary,
    FilmReport,
    FramePublic,
    FrameQuery,
    FrameRecord,
    ShotPublic,
    ShotRecord,
)
from app.annotations import effective
from app.annotations import repository as annotations_repository
from app.annotations.resolve import EffectiveFrame
from app.core.domain import FINISHED_STATUSES, ClassThresholds, FrameClass, RunStatus
from app.core.errors import InvalidRequestError, NotFoundError
from app.core.pagination import Page
from app.films import repository as films_repository
from app.films import service as films_service
from app.models import Analysis
from app.models.base import utcnow
from app.pipeline.quantify import HybridRates
from app.scenes import repository as scenes_repository
from app.scenes.schemas import ScenePublic

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# Rows per INSERT: large enough to amortise round trips, small enough that a film's masks
# never sit in memory all at once.
DEFAULT_CHUNK_SIZE = 500

_ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)

T = TypeVar("T")


class AnalysisNotFound(NotFoundError):
    def __init__(self, key: int | str, message: str | None = None) -> None:
        super().__init__("analysis", key, message)


class NotAnalysed(AnalysisNotFound):
    """The film has no analysis at all."""

    def __init__(self, film_id: int) -> None:
        super().__init__(film_id, f"film {film_id} has not been analysed")


def _owner(analysis_id: int, film_id: int | None) -> str:
    """Whose frame, in words: the film's when it is known, else the analysis's."""
    return f"film {film_id}" if film_id is not None else f"analysis {analysis_id}"


class FrameNotFound(NotFoundError):
    """The frame is not one the analysis sampled (or not in the film at all)."""

    def __init__(self, analysis_id: int, frame_index: int, *, film_id: int | None = None) -> None:
        super().__init__(
            "frame",
            (analysis_id, frame_index),
            f"{_owner(analysis_id, film_id)} has no sampled frame {frame_index}",
        )


class MaskNotFound(NotFoundError):
    """The frame exists but was not segmented, so it has no mask."""

    def __init__(self, analysis_id: int, frame_index: int, *, film_id: int | None = None) -> None:
        super().__init__(
            "mask",
            (analysis_id, frame_index),
            f"frame {frame_index} of {_owner(analysis_id, film_id)} has no mask",
        )


def _plain(value: Any) -> Any:
    """Pydantic models and dataclasses (also inside lists and dicts) as plain data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _json_ready(value: Any) -> Any:
    # A JSON round trip turns tuples, paths, enums and numpy scalars into plain JSON values.
    return json.loads(json.dumps(_plain(value), sort_keys=True, default=_scalar))


def _scalar(value: Any) -> Any:
    # numpy scalars know .item(); anything else (Fraction, Path) is stored as its text.
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def canonical_settings(
    settings: Mapping[str, Any] | BaseModel | DataclassInstance,
) -> dict[str, Any]:
    """The settings as stored: plain JSON types, the same dict for the same settings."""
    result = _json_ready(settings)
    if not isinstance(result, dict):
        raise InvalidRequestError("analysis settings must be a mapping")
    return result


def settings_hash(settings: Mapping[str, Any] | BaseModel | DataclassInstance) -> str:
    """sha256 of the canonical JSON of ``settings``: key order and spacing do not matter."""
    canonical = json.dumps(
        canonical_settings(settings), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def start_analysis(
    session: Session,
    film_id: int,
    classifier_version: str,
    segmenter_version: str,
    settings: Mapping[str, Any] | BaseModel | DataclassInstance,
    *,
    job_id: int | None = None,
) -> int:
    """Create, or reset and reuse, the analysis for this film, models and settings.

    A previous analysis with the same key loses its shots, frames and figures (and stops
    being the film's cached summary) and is marked running again. With ``job_id`` the job
    is linked to the analysis, so the batch view shows its stage and progress.
    """
    if not films_repository.exists_by_id(session, film_id):
        raise films_service.FilmNotFound(film_id)
    stored_settings = canonical_settings(settings)
    digest = settings_hash(stored_settings)
    now = utcnow()
    key = (film_id, classifier_version, segmenter_version, digest)
    analysis_id = repository.get_id_by_key(session, *key)
    if analysis_id is None:
        repository.insert_if_new(
            session,
            {
                "film_id": film_id,
                "classifier_version": classifier_version,
                "segmenter_version": segmenter_version,
                "settings_hash": digest,
                "settings": stored_settings,
                "status": RunStatus.RUNNING,
                "progress": 0.0,
                "created_at": now,
                "started_at": now,
            },
        )
        analysis_id = repository.get_id_by_key(session, *key)
        if analysis_id is None:  # pragma: no cover - the row was just inserted
            raise RuntimeError(f"analysis {key} vanished right after its insert")
    else:
        films_repository.clear_summary_of(session, analysis_id)
        repository.delete_results(session, analysis_id)
    # A failure the film showed is history once it is analysed again.
    films_repository.clear_failure_of_film(session, film_id)
    # Reset in both cases: a concurrent starter may have inserted the row we just found.
    repository.update_values(
        session,
        analysis_id,
        {
            "settings": stored_settings,
            "status": RunStatus.RUNNING,
            "stage": None,
            "progress": 0.0,
            "error": None,
            "error_frame": None,
            "error_time_s": None,
            "detector": None,
            "timings": None,
            "summary": None,
            "timeline": None,
            "started_at": now,
            "finished_at": None,
        },
    )
    if job_id is not None:
        from app.jobs import repository as jobs_repository

        jobs_repository.link_analysis(session, job_id, analysis_id)
    return analysis_id


def update_progress(session: Session, analysis_id: int, stage: str, progress: float) -> bool:
    """Record the current stage and its progress (0..1, clamped).

    Returns False when the analysis is no longer running (cancelled, or deleted with its
    film): the pipeline should then stop without writing more.
    """
    progress = min(max(float(progress), 0.0), 1.0)
    changed = repository.update_values(
        session,
        analysis_id,
        {"stage": stage, "progress": progress},
        only_if_status_in=_ACTIVE,
    )
    return changed > 0


def is_active(session: Session, analysis_id: int) -> bool:
    """Whether the analysis still exists and is queued or running (not cancelled)."""
    return repository.status_of(session, analysis_id) in _ACTIVE


def clear_results(session: Session, analysis_id: int) -> None:
    """Delete the shots and frames of a running analysis (and its cached film figures) so a
    re-run of the storing stage writes them afresh instead of colliding with its last try."""
    _require_analysis(session, analysis_id)
    films_repository.clear_summary_of(session, analysis_id)
    repository.delete_results(session, analysis_id)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# Other names a record may use for a field (the pipeline's shots call their index ``index``).
_ALIASES = {"shot_index": ("shot_index", "index")}


def _record_values(record: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    def read(name: str) -> Any:
        if isinstance(record, Mapping):
            return record.get(name)
        return getattr(record, name, None)

    values = {}
    for name in fields:
        candidates = (read(alias) for alias in _ALIASES.get(name, (name,)))
        values[name] = next((value for value in candidates if value is not None), None)
    return values


_SHOT_FIELDS = tuple(field.name for field in dataclasses.fields(ShotRecord))
_FRAME_FIELDS = tuple(field.name for field in dataclasses.fields(FrameRecord))


def _require_analysis(session: Session, analysis_id: int) -> None:
    if repository.status_of(session, analysis_id) is None:
        raise AnalysisNotFound(analysis_id)


def save_shots(
    session: Session,
    analysis_id: int,
    shots: Iterable[ShotRecord | Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Insert shots (records or mappings with the ``ShotRecord`` fields); returns the count."""
    _require_analysis(session, analysis_id)
    count = 0
    for chunk in _chunks(shots, chunk_size):
        rows = []
        for shot in chunk:
            values = _record_values(shot, _SHOT_FIELDS)
            if values["frame_class"] is not None:
                values["frame_class"] = FrameClass(values["frame_class"])
            values["analysis_id"] = analysis_id
            rows.append(values)
        repository.insert_shots(session, rows)
        count += len(rows)
    return count


def save_frames(
    session: Session,
    analysis_id: int,
    frames: Iterable[FrameRecord | Mapping[str, Any]],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """Insert sampled frames in chunks; ``frames`` may be a generator. Returns the count.

    A frame index already stored for this analysis raises (the unique key): results are
    replaced only through ``start_analysis``, never silently merged.
    """
    _require_analysis(session, analysis_id)
    count = 0
    for chunk in _chunks(frames, chunk_size):
        rows = []
        for frame in chunk:
            values = _record_values(frame, _FRAME_FIELDS)
            values["frame_class"] = FrameClass(values["frame_class"])
            values["analysis_id"] = analysis_id
            if values["np_grid"] is not None:
                values["np_grid"] = [[float(cell) for cell in row] for row in values["np_grid"]]
            rows.append(values)
        repository.insert_frames(session, rows)
        count += len(rows)
    return count


def finish_analysis(
    session: Session,
    analysis_id: int,
    status: RunStatus | str,
    summary: AnalysisSummary | Mapping[str, Any] | DataclassInstance | None = None,
    timeline: Any = None,
    timings: Mapping[str, Any] | BaseModel | DataclassInstance | None = None,
    error: str | None = None,
    *,
    error_frame: int | None = None,
    error_time_s: float | None = None,
    detector: Mapping[str, Any] | BaseModel | DataclassInstance | None = None,
) -> None:
    """Close an analysis with a final status and its film-level results.

    ``done`` and ``partial`` with a summary make these figures the film's cached summary
    (what film queries filter and sort on); ``failed`` becomes the film's last analysis
    (status and reason, no figures) unless figures of an analysis that succeeded stand.
    ``partial`` and ``failed`` should carry ``error`` (the film's stored file is named by
    its original name in it) and, for a damaged film, where it broke (``error_frame``,
    ``error_time_s``).
    Jobs running this analysis take the same final status. ``summary`` may be any mapping,
    model or dataclass with the ``AnalysisSummary`` fields (the pipeline's ``FilmStats``);
    ``timeline`` any JSON-able value, dataclasses included (a list of time bins).
    """
    status = RunStatus(status)
    if status not in FINISHED_STATUSES:
        raise InvalidRequestError(f"finish_analysis needs a final status, not {status.value!r}")
    film_id = repository.film_id_of(session, analysis_id)
    if film_id is None:
        raise AnalysisNotFound(analysis_id)
    if error is not None:
        error = films_service.user_text(session, film_id, error)
    validated = None
    if summary is not None:
        validated = (
            summary
            if isinstance(summary, AnalysisSummary)
            else AnalysisSummary.model_validate(_json_ready(summary))
        )
    now = utcnow()
    values: dict[str, Any] = {
        "status": status,
        "error": error,
        "error_frame": error_frame,
        "error_time_s": error_time_s,
        "summary": validated.model_dump(mode="json") if validated is not None else None,
        "timeline": _json_ready(timeline) if timeline is not None else None,
        "timings": _json_ready(timings) if timings is not None else None,
        "finished_at": now,
    }
    if detector is not None:
        values["detector"] = _json_ready(detector)
    if status is RunStatus.DONE:
        values["progress"] = 1.0
    repository.update_values(session, analysis_id, values)
    if validated is not None and status in (RunStatus.DONE, RunStatus.PARTIAL):
        # The film's annotations stand over a re-analysis: its figures are the effective ones.
        figures = film_figures(session, analysis_id)
        film_summary = validated.model_dump(mode="json")
        if figures is not None:
            film_summary = {**film_summary, **figures.summary}
        films_repository.set_summary(
            session,
            film_id,
            analysis_id,
            film_summary,
            status=status.value,
            note=error,
        )
    elif status is RunStatus.FAILED:
        # The film shows that its analysis failed, and why (not as never analysed).
        films_repository.set_failed(session, film_id, analysis_id, error)
    repository.update_jobs_of(
        session,
        analysis_id,
        # A finished job is at no stage and holds no lease.
        {
            "status": status,
            "error": error,
            "finished_at": now,
            "stage": None,
            "lease_owner": None,
            "lease_expires_at": None,
        },
        from_statuses=_ACTIVE,
    )


def set_detector(
    session: Session, analysis_id: int, detector: Mapping[str, Any] | BaseModel | DataclassInstance
) -> None:
    """Record which shot detector (and thresholds) ran, as soon as it is known."""
    if not repository.update_values(session, analysis_id, {"detector": _json_ready(detector)}):
        raise AnalysisNotFound(analysis_id)


def get_analysis(
    session: Session, analysis_id: int, *, with_timeline: bool = True
) -> AnalysisDetail | AnalysisPublic:
    analysis = repository.get(session, analysis_id)
    if analysis is None:
        raise AnalysisNotFound(analysis_id)
    if with_timeline:
        return AnalysisDetail.model_validate(analysis)
    return AnalysisPublic.model_validate(analysis)


def list_analyses(session: Session, film_id: int) -> list[AnalysisPublic]:
    if not films_repository.exists_by_id(session, film_id):
        raise films_service.FilmNotFound(film_id)
    return [
        AnalysisPublic.model_validate(row) for row in repository.list_for_film(session, film_id)
    ]


def film_id_of(session: Session, analysis_id: int) -> int | None:
    return repository.film_id_of(session, analysis_id)


def resolve_analysis_id(session: Session, film_id: int, analysis_id: int | None = None) -> int:
    """The analysis to show for a film: the one asked for (checked to belong to the film),
    else the one behind the film's cached figures, else its latest."""
    film = films_repository.get(session, film_id)
    if film is None:
        raise films_service.FilmNotFound(film_id)
    if analysis_id is not None:
        if repository.film_id_of(session, analysis_id) != film_id:
            raise AnalysisNotFound(analysis_id, f"film {film_id} has no analysis {analysis_id}")
        return analysis_id
    chosen = film.last_analysis_id or repository.latest_id_for_film(session, film_id)
    if chosen is None:
        raise NotAnalysed(film_id)
    return chosen


def _analysis_row(session: Session, analysis_id: int) -> Analysis:
    analysis = repository.get(session, analysis_id)
    if analysis is None:
        raise AnalysisNotFound(analysis_id)
    return analysis


def _thresholds(session: Session, analysis_id: int) -> ClassThresholds:
    return effective.thresholds_of(_analysis_row(session, analysis_id).settings)


@dataclass(frozen=True)
class _Resolved:
    """An analysis's frames and shots as they stand with the film's annotations."""

    frames: list[FramePublic]
    shots: list[ShotPublic]
    figures: effective.EffectiveFigures | None  # None: the film has no annotations


def _frame_public(row: Any, frame: EffectiveFrame | None) -> FramePublic:
    public = FramePublic.model_validate(row)
    if frame is None:
        return public.model_copy(
            update={
                "mask_source": "model" if public.has_mask else None,
                "model_frame_class": public.frame_class,
            }
        )
    return public.model_copy(
        update={
            "frame_class": frame.frame_class,
            "p_fraction": frame.p_fraction,
            "has_mask": frame.mask_source is not None,
            "mask_source": frame.mask_source.value if frame.mask_source is not None else None,
            "label_source": frame.label_source.value,
            "model_frame_class": public.frame_class,
        }
    )


def _resolve(session: Session, analysis_id: int) -> _Resolved:
    """Every frame and shot of the analysis, resolved against the film's annotations."""
    film_id = repository.film_id_of(session, analysis_id)
    if film_id is None:
        raise AnalysisNotFound(analysis_id)
    rows, _ = repository.list_frames(session, analysis_id, None)
    shot_rows = repository.list_shots(session, analysis_id)
    annotations = effective.load(session, film_id)
    if annotations.empty:
        frames = [_frame_public(row, None) for row in rows]
        masked = [frame.frame_index for frame in frames if frame.has_mask]
        shots = [
            ShotPublic.model_validate(shot).model_copy(
                update={
                    "mask_source": "model"
                    if any(shot.start_frame <= index <= shot.end_frame for index in masked)
                    else None
                }
            )
            for shot in shot_rows
        ]
        return _Resolved(frames, shots, None)
    analysis = _analysis_row(session, analysis_id)
    resolved = effective.resolve_rows(rows, annotations, effective.thresholds_of(analysis.settings))
    film = films_repository.get(session, film_id)
    figures = effective.figures(
        rows,
        resolved,
        shot_rows,
        annotations,
        duration_s=float(film.duration_s or 0.0) if film is not None else 0.0,
        # The rates the stored ratio was adjusted by: corrections adjust the same way.
        rates=HybridRates.from_meta((analysis.summary or {}).get("hybrid_rates")),
    )
    frames = [_frame_public(row, frame) for row, frame in zip(rows, resolved, strict=True)]
    shots = []
    for row, shot in zip(shot_rows, figures.shots, strict=True):
        figure = shot.stats
        shots.append(
            ShotPublic.model_validate(row).model_copy(
                update={
                    "frame_class": figure.frame_class,
                    "hybrid_ratio": figure.hybrid_ratio,
                    "mean_p_fraction": figure.mean_p_fraction,
                    "classified_s": figure.classified_s,
                    "sampled_frames": figure.sampled_frames,
                    "mask_source": shot.mask_source,
                    "label_source": shot.label_source,
                }
            )
        )
    return _Resolved(frames, shots, figures)


def effective_classes(session: Session, analysis_id: int) -> dict[int, FrameClass] | None:
    """frame index -> effective class of the analysis's sampled frames, with the film's
    annotations; None when the film has none (the model's classes stand)."""
    film_id = repository.film_id_of(session, analysis_id)
    if film_id is None:
        raise AnalysisNotFound(analysis_id)
    if not annotations_repository.has_any(session, film_id):
        return None
    rows, _ = repository.list_frames(session, analysis_id, None)
    resolved = effective.resolve_rows(
        rows, effective.load(session, film_id), _thresholds(session, analysis_id)
    )
    return {
        int(row.frame_index): frame.frame_class for row, frame in zip(rows, resolved, strict=True)
    }


def film_figures(session: Session, analysis_id: int) -> effective.EffectiveFigures | None:
    """The analysis's film figures recomputed with the film's annotations (shares, hybrid
    ratio, human-checked share); None when the film has none (the stored figures stand)."""
    film_id = repository.film_id_of(session, analysis_id)
    if film_id is None:
        raise AnalysisNotFound(analysis_id)
    if not annotations_repository.has_any(session, film_id):
        return None
    return _resolve(session, analysis_id).figures


def list_shots(session: Session, analysis_id: int) -> list[ShotPublic]:
    _require_analysis(session, analysis_id)
    return _resolve(session, analysis_id).shots


def _matches(frame: FramePublic, query: FrameQuery) -> bool:
    checks = (
        query.frame_class is None or frame.frame_class == query.frame_class,
        query.min_time_s is None or frame.time_s >= query.min_time_s,
        query.max_time_s is None or frame.time_s <= query.max_time_s,
        query.min_p_fraction is None or frame.p_fraction >= query.min_p_fraction,
        query.max_p_fraction is None or frame.p_fraction <= query.max_p_fraction,
        query.shot_index is None or frame.shot_index == query.shot_index,
    )
    return all(checks)


def list_frames(session: Session, analysis_id: int, query: FrameQuery) -> Page[FramePublic]:
    """Frames with their effective class and sources. A film without annotations is
    filtered and paged by the database; with annotations the filters apply to the
    effective values, so the frames are resolved first."""
    film_id = repository.film_id_of(session, analysis_id)
    if film_id is None:
        raise AnalysisNotFound(analysis_id)
    if not annotations_repository.has_any(session, film_id):
        rows, total = repository.list_frames(session, analysis_id, query)
        return Page[FramePublic](
            items=[_frame_public(row, None) for row in rows],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )
    frames = [frame for frame in _resolve(session, analysis_id).frames if _matches(frame, query)]
    if query.sort == "confidence":
        frames.sort(
            key=lambda f: (f.confidence is None, f.confidence or 0.0, f.time_s, f.frame_index)
        )
    return Page[FramePublic](
        items=frames[query.offset : query.offset + query.limit],
        total=len(frames),
        limit=query.limit,
        offset=query.offset,
    )


def get_frame_mask(session: Session, analysis_id: int, frame_index: int) -> bytes:
    """The frame's mask as PNG bytes."""
    found, mask = repository.frame_mask(session, analysis_id, frame_index)
    if mask is not None:
        return mask
    film_id = repository.film_id_of(session, analysis_id)
    if not found:
        raise FrameNotFound(analysis_id, frame_index, film_id=film_id)
    raise MaskNotFound(analysis_id, frame_index, film_id=film_id)


def get_film_report(
    session: Session,
    film_id: int,
    analysis_id: int | None = None,
    *,
    include_frames: bool = True,
) -> FilmReport:
    """The film with one analysis (default: as ``resolve_analysis_id`` picks), its shots and
    frames. A film never analysed gives a report with no analysis and empty lists."""
    film = films_service.get_film_detail(session, film_id)
    try:
        chosen = resolve_analysis_id(session, film_id, analysis_id)
    except AnalysisNotFound:
        if analysis_id is not None:
            raise
        return FilmReport(film=film, analysis=None, shots=[], frames=[])
    analysis = repository.get(session, chosen)
    if analysis is None:  # pragma: no cover - resolved a moment ago
        raise AnalysisNotFound(chosen)
    resolved = _resolve(session, chosen)
    detail = AnalysisDetail.model_validate(analysis)
    if resolved.figures is not None:
        # The report (show, every export) gives the figures as they stand with annotations.
        detail = detail.model_copy(
            update={
                "summary": {**(detail.summary or {}), **_json_ready(resolved.figures.summary)},
                "timeline": _json_ready(resolved.figures.timeline),
            }
        )
    from app.annotations import service as annotations_service  # it builds on this module

    return FilmReport(
        film=film,
        analysis=detail,
        shots=resolved.shots,
        frames=resolved.frames if include_frames else [],
        labels=annotations_service.active_labels(session, film_id),
        scenes=[
            ScenePublic.model_validate(row)
            for row in scenes_repository.list_scenes(session, chosen)
        ],
    )
