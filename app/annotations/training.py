"""What fine-tuning learns from: an archive's annotated frames, chosen by film or collection,
as plain values (the film's file, the frame's time, its mask or label, where it came from),
split into frames to train on and human frames held out to measure the gain.

The split is by shot, so frames of one shot never sit on both sides: a shot is held out
when a stable hash of (film, shot) falls under ``holdout``. Held-out frames are human
masks only (propagated masks are guesses, not truth); training takes human and, unless
told not to, propagated masks of the other shots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.analysis import repository as analysis_repository
from app.annotations import effective, repository
from app.core.domain import FrameClass
from app.models import CollectionFilm, Film, MaskAnnotation


@dataclass(frozen=True)
class AnnotatedFrame:
    film_id: int
    film_path: str
    frame_index: int
    time_s: float
    shot_index: int | None
    source: str  # "human" or "propagated" (masks); "human" or "elan" (labels)
    mask_png: bytes | None = None
    label: FrameClass | None = None


@dataclass(frozen=True)
class AnnotationSplit:
    train: list[AnnotatedFrame]
    held_out: list[AnnotatedFrame]


def film_ids_for(
    session: Session, film_ids: Sequence[int] = (), collection_ids: Sequence[int] = ()
) -> list[int]:
    """The films named, and every film of the collections named; all films when neither."""
    if not film_ids and not collection_ids:
        return list(session.scalars(select(Film.id).order_by(Film.id)).all())
    chosen = set(film_ids)
    if collection_ids:
        chosen.update(
            session.scalars(
                select(CollectionFilm.film_id).where(
                    CollectionFilm.collection_id.in_(collection_ids)
                )
            ).all()
        )
    return sorted(chosen)


def _sampled(session: Session, film: Film) -> dict[int, tuple[float, int | None]]:
    """frame index -> (time, shot index) of the sampled frames of the film's analysis."""
    analysis_id = film.last_analysis_id or analysis_repository.latest_id_for_film(session, film.id)
    if analysis_id is None:
        return {}
    rows, _ = analysis_repository.list_frames(session, analysis_id, None)
    return {int(row.frame_index): (float(row.time_s), row.shot_index) for row in rows}


def annotated_masks(
    session: Session, film_ids: Sequence[int], *, propagated: bool = True
) -> list[AnnotatedFrame]:
    """The masks in force (human, and propagated unless ``propagated`` is False) of the
    films' sampled frames."""
    found: list[AnnotatedFrame] = []
    sources = ("human", "propagated") if propagated else ("human",)
    for film_id in film_ids:
        film = session.get(Film, film_id)
        if film is None:
            continue
        sampled = _sampled(session, film)
        human: set[int] = set()
        for source in sources:
            for frame_index, (time_s, shot_index) in sampled.items():
                if source == "propagated" and frame_index in human:
                    continue  # the human mask is the one in force
                latest = repository.latest_mask(session, film_id, frame_index, source)
                if latest is None or latest.p_fraction is None:
                    continue
                png = session.scalar(
                    select(MaskAnnotation.mask_png).where(MaskAnnotation.id == latest.id)
                )
                if png is None:
                    continue
                if source == "human":
                    human.add(frame_index)
                found.append(
                    AnnotatedFrame(
                        film_id, film.stored_path, frame_index, time_s, shot_index, source, png
                    )
                )
    return found


def labelled_frames(session: Session, film_ids: Sequence[int]) -> list[AnnotatedFrame]:
    """Sampled frames whose class a person gave (a frame, shot or range label, human or
    imported; a human mask counts too), with that class."""
    found: list[AnnotatedFrame] = []
    for film_id in film_ids:
        film = session.get(Film, film_id)
        if film is None:
            continue
        annotations = effective.load(session, film_id)
        analysis_id = film.last_analysis_id or analysis_repository.latest_id_for_film(
            session, film_id
        )
        if analysis_id is None or annotations.empty:
            continue
        rows, _ = analysis_repository.list_frames(session, analysis_id, None)
        analysis = analysis_repository.get(session, analysis_id)
        thresholds = effective.thresholds_of(analysis.settings if analysis else None)
        for row, frame in zip(
            rows, effective.resolve_rows(rows, annotations, thresholds), strict=True
        ):
            if frame.human_checked:
                found.append(
                    AnnotatedFrame(
                        film_id,
                        film.stored_path,
                        int(row.frame_index),
                        float(row.time_s),
                        row.shot_index,
                        frame.label_source.value,
                        label=frame.frame_class,
                    )
                )
    return found


def _held_out(frame: AnnotatedFrame, holdout: float) -> bool:
    key = f"{frame.film_id}:{frame.shot_index}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) / 0xFFFFFFFF < holdout


def split(frames: Sequence[AnnotatedFrame], holdout: float) -> AnnotationSplit:
    """Train / held-out by shot; only human frames are held out (see the module doc)."""
    train, held_out = [], []
    for frame in frames:
        if _held_out(frame, holdout):
            if frame.source != "propagated":
                held_out.append(frame)
        else:
            train.append(frame)
    return AnnotationSplit(train, held_out)
