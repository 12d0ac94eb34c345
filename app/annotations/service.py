"""Annotation logic: store, revert and serve human masks and labels, store propagated masks,
and keep the film's cached figures in step with them.

Writes never touch the model's output: each is a new version of its subject (older ones
kept); a revert is a version without content. Every call takes an open session and leaves
the commit to the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.analysis import repository as analysis_repository
from app.analysis import service as analysis_service
from app.annotations import repository
from app.annotations.png import encode_full, read_mask_png, resize_mask
from app.annotations.schemas import (
    FrameAnnotations,
    LabelVersion,
    MaskLayer,
    MaskVersion,
    ServedMask,
)
from app.core.domain import FrameClass
from app.core.errors import ConflictError, NotFoundError
from app.films import repository as films_repository
from app.films import service as films_service
from app.jobs import service as jobs_service
from app.models import LabelAnnotation, MaskAnnotation, Shot
from app.models.base import utcnow
from app.pipeline.masks import decode_mask
from app.pipeline.masks import p_fraction as mask_p_fraction

HUMAN = "human"
PROPAGATED = "propagated"
MASK_LAYERS: tuple[MaskLayer, ...] = ("human", "propagated", "model")


class ShotNotFound(NotFoundError):
    def __init__(self, shot_number: int) -> None:
        super().__init__("shot", shot_number)


class ConcurrentChange(ConflictError):
    """Another writer stored a version of the same annotation at the same moment (409)."""

    def __init__(self) -> None:
        super().__init__(
            "the annotation was changed at the same moment by another request; try again"
        )


def _inserted(session: Session, insert: Callable[[], int]) -> int:
    """Run an insert of the next version; two writers racing for it: the loser gets 409."""
    try:
        with session.begin_nested():
            return insert()
    except IntegrityError as exc:
        raise ConcurrentChange() from exc


class AnnotationNotFound(NotFoundError):
    """Nothing of that kind is in force to revert."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(kind, key)


def _mask_version(row: MaskAnnotation) -> MaskVersion:
    return MaskVersion(
        film_id=row.film_id,
        frame_index=row.frame_index,
        source=row.source,  # type: ignore[arg-type]
        version=row.version,
        reverted=row.p_fraction is None,
        p_fraction=row.p_fraction,
        width=row.width,
        height=row.height,
        author=row.author,
        created_at=row.created_at,
        job_id=row.job_id,
    )


def _label_version(row: LabelAnnotation) -> LabelVersion:
    return LabelVersion(
        film_id=row.film_id,
        scope=row.scope,  # type: ignore[arg-type]
        start_frame=row.start_frame,
        end_frame=row.end_frame,
        start_time=row.start_time,
        end_time=row.end_time,
        source=row.source,
        version=row.version,
        label=FrameClass(row.label) if row.label is not None else None,
        reverted=row.label is None,
        author=row.author,
        created_at=row.created_at,
    )


def _frame_of(
    session: Session, film_id: int, frame_index: int, analysis_id: int | None
) -> tuple[int, float]:
    """(analysis id, time) of a sampled frame of the film; 404 when it is not one."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    time_s = analysis_repository.frame_time(session, chosen, frame_index)
    if time_s is None:
        raise analysis_service.FrameNotFound(chosen, frame_index, film_id=film_id)
    return chosen, time_s


def frame_size(session: Session, film_id: int) -> tuple[int, int] | None:
    """(width, height) of the film's picture, as probed; None if unknown."""
    film = films_repository.get(session, film_id)
    if film is None:
        raise films_service.FilmNotFound(film_id)
    if film.width and film.height:
        return int(film.width), int(film.height)
    return None


def _next_mask_version(session: Session, film_id: int, frame_index: int, source: str) -> int:
    latest = repository.latest_mask(session, film_id, frame_index, source)
    return 1 if latest is None else latest.version + 1


def _insert_mask(
    session: Session,
    film_id: int,
    frame_index: int,
    source: str,
    p_mask: np.ndarray | None,
    *,
    author: str | None,
    job_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> MaskVersion:
    values: dict[str, Any] = {
        "film_id": film_id,
        "frame_index": frame_index,
        "source": source,
        "version": _next_mask_version(session, film_id, frame_index, source),
        "mask_png": None if p_mask is None else encode_full(p_mask),
        "width": None if p_mask is None else int(p_mask.shape[1]),
        "height": None if p_mask is None else int(p_mask.shape[0]),
        "p_fraction": None if p_mask is None else mask_p_fraction(p_mask),
        "author": author,
        "created_at": utcnow(),
        "job_id": job_id,
        "detail": detail,
    }
    annotation_id = _inserted(session, lambda: repository.insert_mask(session, values))
    row = session.get(MaskAnnotation, annotation_id)
    assert row is not None
    return _mask_version(row)


def put_mask(
    session: Session,
    film_id: int,
    frame_index: int,
    png: bytes,
    *,
    author: str | None,
    analysis_id: int | None = None,
) -> MaskVersion:
    """Store a person's mask of a sampled frame: a single-channel PNG (255 = P, 0 = NP) of
    any size, resized to the frame. Bad PNGs raise ``BadMaskImage`` (422)."""
    _frame_of(session, film_id, frame_index, analysis_id)
    p_mask = read_mask_png(png)
    size = frame_size(session, film_id)
    if size is not None:
        p_mask = resize_mask(p_mask, *size)
    version = _insert_mask(session, film_id, frame_index, HUMAN, p_mask, author=author)
    refresh_film_figures(session, film_id)
    return version


def revert_mask(
    session: Session, film_id: int, frame_index: int, *, author: str | None, source: str = HUMAN
) -> MaskVersion:
    """Take a frame's human (or propagated) mask out of force; its versions stay. 404 when
    there is none in force; 409 for a propagated mask while a propagation of its shot is
    queued or running (its mask would land after the undo)."""
    latest = repository.latest_mask(session, film_id, frame_index, source)
    if latest is None or latest.p_fraction is None:
        if not films_repository.exists_by_id(session, film_id):
            raise films_service.FilmNotFound(film_id)
        raise AnnotationNotFound(f"{source} mask of frame", frame_index)
    if source == PROPAGATED and jobs_service.propagation_in_progress(
        session, film_id, [frame_index]
    ):
        raise PropagationRunning(f"frame {frame_index}")
    version = _insert_mask(session, film_id, frame_index, source, None, author=author)
    refresh_film_figures(session, film_id)
    return version


def revert_propagated_shot(
    session: Session,
    film_id: int,
    shot_number: int,
    *,
    author: str | None,
    analysis_id: int | None = None,
) -> list[MaskVersion]:
    """Take every propagated mask in force on the shot's sampled frames out of force (a
    propagation that went wrong, undone in one call); their versions stay. 404 when the
    shot has none in force."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    shot = _shot(session, chosen, shot_number)
    frames = [frame_index for frame_index, _ in shot_frames(session, chosen, shot.shot_index)]
    if jobs_service.propagation_in_progress(session, film_id, frames):
        raise PropagationRunning(f"shot {shot_number}")
    in_force = repository.active_mask_ids(session, film_id, frames)
    versions = [
        _insert_mask(session, film_id, frame_index, PROPAGATED, None, author=author)
        for frame_index in frames
        if PROPAGATED in in_force.get(frame_index, {})
    ]
    if not versions:
        raise AnnotationNotFound("propagated masks of shot", shot_number)
    refresh_film_figures(session, film_id)
    return versions


def save_propagated(
    session: Session,
    film_id: int,
    masks: Mapping[int, np.ndarray],
    *,
    job_id: int | None,
    detail: dict[str, Any] | None = None,
) -> list[MaskVersion]:
    """Store propagated masks (frame index -> HxW bool P mask, any size), one new version
    each, then refresh the film's figures."""
    versions = [
        _insert_mask(
            session,
            film_id,
            frame_index,
            PROPAGATED,
            np.asarray(p_mask, dtype=bool),
            author="propagation",
            job_id=job_id,
            detail=detail,
        )
        for frame_index, p_mask in sorted(masks.items())
    ]
    refresh_film_figures(session, film_id)
    return versions


def human_masks(session: Session, film_id: int, frame_indices: list[int]) -> dict[int, np.ndarray]:
    """The human masks in force among ``frame_indices`` (the propagation's memory)."""
    found: dict[int, np.ndarray] = {}
    for frame_index in frame_indices:
        latest = repository.latest_mask(session, film_id, frame_index, HUMAN)
        if latest is not None and latest.p_fraction is not None:
            data = repository.mask_png(session, latest.id)
            if data is not None:
                found[frame_index] = decode_mask(data)
    return found


def correction_layer(layers: Mapping[str, int]) -> tuple[str, int] | None:
    """Of a frame's masks in force (source -> annotation id, as ``active_mask_ids`` gives),
    the person's or propagated one that takes precedence over the model's, or None."""
    for layer in MASK_LAYERS:
        if layer != "model" and layer in layers:
            return layer, layers[layer]
    return None


def correction_in_force(
    session: Session, film_id: int, frame_index: int
) -> tuple[bytes, str] | None:
    """The human (else propagated) mask in force on a frame, as stored (a 1-bit PNG), and a
    key naming that version; None when the model's mask stands."""
    layers = repository.active_mask_ids(session, film_id, [frame_index]).get(frame_index, {})
    chosen = correction_layer(layers)
    if chosen is None:
        return None
    data = repository.mask_png(session, chosen[1])
    return None if data is None else (data, f"{chosen[0]}-{chosen[1]}")


def _encode_at(p_mask: np.ndarray, size: tuple[int, int] | None) -> bytes:
    if size is not None:
        p_mask = resize_mask(p_mask, *size)
    return encode_full(p_mask)


def get_mask(
    session: Session,
    film_id: int,
    frame_index: int,
    *,
    source: MaskLayer | None = None,
    analysis_id: int | None = None,
) -> ServedMask:
    """The frame's effective mask (human > propagated > model), or the one layer asked for,
    as a 1-bit PNG at the frame's size. 404 when that layer (or every layer) has none."""
    chosen, _ = _frame_of(session, film_id, frame_index, analysis_id)
    size = frame_size(session, film_id)
    for layer in (source,) if source is not None else MASK_LAYERS:
        if layer == "model":
            _, stored = analysis_repository.frame_mask(session, chosen, frame_index)
            if stored is not None:
                return ServedMask(png=_encode_at(decode_mask(stored), size), source="model")
            continue
        latest = repository.latest_mask(session, film_id, frame_index, layer)
        if latest is None or latest.p_fraction is None:
            continue
        data = repository.mask_png(session, latest.id)
        if data is not None:
            return ServedMask(png=_encode_at(decode_mask(data), size), source=layer)
    raise analysis_service.MaskNotFound(chosen, frame_index, film_id=film_id)


# -- labels ------------------------------------------------------------------------------------


def _shot(session: Session, analysis_id: int, shot_number: int) -> Shot:
    for shot in analysis_repository.list_shots(session, analysis_id):
        if shot.shot_index == shot_number - 1:
            return shot
    raise ShotNotFound(shot_number)


def _insert_label(
    session: Session,
    film_id: int,
    *,
    scope: str,
    start_frame: int,
    end_frame: int,
    start_time: float,
    end_time: float,
    label: FrameClass | None,
    source: str,
    author: str | None,
    detail: dict[str, Any] | None = None,
) -> LabelVersion:
    latest = repository.latest_label(session, film_id, scope, start_frame, end_frame, source)
    values: dict[str, Any] = {
        "film_id": film_id,
        "scope": scope,
        "start_frame": start_frame,
        "end_frame": end_frame,
        "start_time": start_time,
        "end_time": end_time,
        "source": source,
        "version": 1 if latest is None else latest.version + 1,
        "label": None if label is None else FrameClass(label).value,
        "author": author,
        "created_at": utcnow(),
        "detail": detail,
    }
    annotation_id = _inserted(session, lambda: repository.insert_label(session, values))
    row = session.get(LabelAnnotation, annotation_id)
    assert row is not None
    return _label_version(row)


def add_range_label(
    session: Session,
    film_id: int,
    *,
    start_frame: int,
    end_frame: int,
    start_time: float,
    end_time: float,
    label: FrameClass | None,
    source: str,
    author: str | None,
    detail: dict[str, Any] | None = None,
    refresh: bool = True,
) -> LabelVersion:
    """A label over any span of the film (an ELAN annotation, say): ``scope`` "range";
    ``label`` None reverts the span's label of that source."""
    if not films_repository.exists_by_id(session, film_id):
        raise films_service.FilmNotFound(film_id)
    version = _insert_label(
        session,
        film_id,
        scope="range",
        start_frame=start_frame,
        end_frame=end_frame,
        start_time=start_time,
        end_time=end_time,
        label=label,
        source=source,
        author=author,
        detail=detail,
    )
    if refresh:
        refresh_film_figures(session, film_id)
    return version


def set_shot_label(
    session: Session,
    film_id: int,
    shot_number: int,
    label: FrameClass | None,
    *,
    author: str | None,
    analysis_id: int | None = None,
) -> LabelVersion:
    """Label a whole shot (numbered from 1) P, NP or hybrid; None reverts the label (404
    when none is in force)."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    shot = _shot(session, chosen, shot_number)
    if label is None:
        latest = repository.latest_label(
            session, film_id, "shot", shot.start_frame, shot.end_frame, HUMAN
        )
        if latest is None or latest.label is None:
            raise AnnotationNotFound("label of shot", shot_number)
    version = _insert_label(
        session,
        film_id,
        scope="shot",
        start_frame=shot.start_frame,
        end_frame=shot.end_frame,
        start_time=shot.start_time,
        end_time=shot.end_time,
        label=label,
        source=HUMAN,
        author=author,
    )
    refresh_film_figures(session, film_id)
    return version


def set_frame_label(
    session: Session,
    film_id: int,
    frame_index: int,
    label: FrameClass | None,
    *,
    author: str | None,
    analysis_id: int | None = None,
) -> LabelVersion:
    """A person's class for one sampled frame; None reverts it (404 when none in force)."""
    _, time_s = _frame_of(session, film_id, frame_index, analysis_id)
    if label is None:
        latest = repository.latest_label(session, film_id, "frame", frame_index, frame_index, HUMAN)
        if latest is None or latest.label is None:
            raise AnnotationNotFound("label of frame", frame_index)
    version = _insert_label(
        session,
        film_id,
        scope="frame",
        start_frame=frame_index,
        end_frame=frame_index,
        start_time=time_s,
        end_time=time_s,
        label=label,
        source=HUMAN,
        author=author,
    )
    refresh_film_figures(session, film_id)
    return version


def frame_annotations(session: Session, film_id: int, frame_index: int) -> FrameAnnotations:
    """Every version of the frame's masks and of the labels that hold it."""
    if not films_repository.exists_by_id(session, film_id):
        raise films_service.FilmNotFound(film_id)
    masks = [_mask_version(row) for row in repository.mask_history(session, film_id, frame_index)]
    labels = [
        _label_version(row) for row in repository.label_history(session, film_id, frame_index)
    ]
    return FrameAnnotations(film_id=film_id, frame_index=frame_index, masks=masks, labels=labels)


def active_labels(session: Session, film_id: int) -> list[LabelVersion]:
    """Every label in force on the film (frames, shots, ranges; human and imported)."""
    return [_label_version(row) for row in repository.active_labels(session, film_id)]


# -- the film's cached figures -----------------------------------------------------------------


def refresh_film_figures(session: Session, film_id: int) -> None:
    """Recompute the figures films are queried by (hybrid ratio, shares...) from the
    effective frames of the analysis behind them."""
    film = films_repository.get(session, film_id)
    if film is None or film.last_analysis_id is None or film.analysis_status == "failed":
        return  # no figures to recompute
    figures = analysis_service.film_figures(session, film.last_analysis_id)
    if figures is None:
        analysis = analysis_repository.get(session, film.last_analysis_id)
        summary = (analysis.summary if analysis is not None else None) or {}
    else:
        summary = figures.summary
    films_repository.set_summary(
        session,
        film_id,
        film.last_analysis_id,
        summary,
        status=film.analysis_status or "done",
        note=film.analysis_note,
    )


# -- propagation -------------------------------------------------------------------------------


class PropagationRunning(ConflictError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"a propagation over {what} is still queued or running: its masks would land "
            "after the undo; wait for it to finish, then undo"
        )


class NothingToPropagate(ConflictError):
    def __init__(self, shot_number: int) -> None:
        super().__init__(f"shot {shot_number} has no human mask on a sampled frame: draw one first")


def shot_frames(session: Session, analysis_id: int, shot_index: int) -> list[tuple[int, float]]:
    """(frame index, time) of the analysis's sampled frames in the shot (from 0), in order."""
    rows, _ = analysis_repository.list_frames(session, analysis_id, None)
    return [
        (int(row.frame_index), float(row.time_s)) for row in rows if row.shot_index == shot_index
    ]


def start_propagation(
    session: Session, film_id: int, shot_number: int, *, analysis_id: int | None = None
) -> int:
    """Queue a job that spreads the shot's human masks to its other sampled frames; returns
    the job's id (commit, then enqueue it as kind "propagate"). 409 when the shot has no
    human mask yet."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    shot = _shot(session, chosen, shot_number)
    frames = [index for index, _ in shot_frames(session, chosen, shot.shot_index)]
    if not human_masks(session, film_id, frames):
        raise NothingToPropagate(shot_number)
    return jobs_service.create_propagation_job(session, film_id, chosen, shot.shot_index)
