"""ELAN import and agreement: a scholar's tier stored as the film's ``elan`` range labels
(replacing the previous import's), and the analysis measured against them by running time.

The API (``POST /films/{id}/elan``, ``GET /films/{id}/elan/agreement``) and the CLI
(``hybridlens elan import|agreement``) both call these, so they give the same answers.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.analysis import repository as analysis_repository
from app.analysis import service as analysis_service
from app.annotations import elan
from app.annotations import service as annotations_service
from app.annotations.schemas import (
    ClassAgreement,
    ElanAgreement,
    ElanImport,
    ElanRange,
    ElanSkipped,
    LabelVersion,
)
from app.core.domain import FrameClass
from app.core.errors import ConflictError
from app.films import repository as films_repository
from app.films import service as films_service
from app.models.base import utcnow
from app.pipeline.timecode import frame_at

ELAN = "elan"
CLASS_ORDER = (FrameClass.P, FrameClass.NP, FrameClass.HYBRID)


class NothingMapped(elan.BadEafFile):
    """No value of the tier maps to a class: nothing would be imported (422)."""


class NoElanLabels(ConflictError):
    def __init__(self, film_id: int) -> None:
        super().__init__(f"film {film_id} has no imported ELAN labels: import an .eaf first")


def _active_elan(session: Session, film_id: int) -> list[LabelVersion]:
    return [
        label
        for label in annotations_service.active_labels(session, film_id)
        if label.source == ELAN and label.scope == "range"
    ]


def import_eaf(
    session: Session,
    film_id: int,
    data: bytes,
    *,
    tier: str,
    mapping: Iterable[str] = (),
    author: str | None,
    filename: str | None = None,
) -> ElanImport:
    """Store the annotations of ``tier`` as the film's ELAN labels, their values mapped to
    P / NP / hybrid (the default mapping, with ``mapping``'s ``Value=Class`` overrides).
    Values no mapping covers are reported, not guessed. The previous import's labels are
    reverted (their versions stay). ``BadEafFile`` (422) for a file or tier that cannot be
    imported."""
    overrides = elan.parse_mapping(mapping)
    film = films_repository.get(session, film_id)
    if film is None:
        raise films_service.FilmNotFound(film_id)
    document = elan.read_eaf(data)
    annotations = document.annotations(tier)
    duration_s = float(film.duration_s) if film.duration_s else None
    elan.check_tier(tier, annotations, duration_s)
    chosen = elan.mapping_with(overrides)
    fps = float(film.fps) if film.fps else 25.0

    ranges: list[ElanRange] = []
    skipped: dict[str, list[float]] = defaultdict(list)
    for annotation in annotations:
        start_s = annotation.start_ms / 1000
        end_s = annotation.end_ms / 1000
        if duration_s is not None:
            end_s = min(end_s, duration_s)
            if end_s <= start_s:  # wholly in the tolerance past the end: no film to label
                continue
        label = chosen.get(elan.normalise_value(annotation.value))
        if label is None:
            skipped[annotation.value or "(empty)"].append(end_s - start_s)
            continue
        start_frame = frame_at(start_s, fps)
        # Frames are inclusive: the span ends on the frame before the one shown at end_s.
        end_frame = max(start_frame, frame_at(end_s, fps) - 1)
        ranges.append(
            ElanRange(
                start_time=start_s,
                end_time=end_s,
                start_frame=start_frame,
                end_frame=end_frame,
                value=annotation.value,
                label=label,
            )
        )
    if not ranges:
        values = ", ".join(repr(value) for value in sorted(skipped)) or "none"
        raise NothingMapped(
            f"no value of tier {tier!r} maps to P, NP or hybrid (values: {values}); "
            "give a mapping such as 'Value=P'"
        )

    previous = _active_elan(session, film_id)
    for old in previous:
        annotations_service.add_range_label(
            session,
            film_id,
            start_frame=old.start_frame,
            end_frame=old.end_frame,
            start_time=old.start_time,
            end_time=old.end_time,
            label=None,
            source=ELAN,
            author=author,
            refresh=False,
        )
    imported_at = utcnow().isoformat()
    for item in ranges:
        annotations_service.add_range_label(
            session,
            film_id,
            start_frame=item.start_frame,
            end_frame=item.end_frame,
            start_time=item.start_time,
            end_time=item.end_time,
            label=item.label,
            source=ELAN,
            author=author,
            detail={"file": filename, "tier": tier, "value": item.value, "at": imported_at},
            refresh=False,
        )
    annotations_service.refresh_film_figures(session, film_id)
    return ElanImport(
        film_id=film_id,
        tier=tier,
        filename=filename,
        mapping={key: value for key, value in sorted(chosen.items())},
        imported=ranges,
        skipped=[
            ElanSkipped(value=value, count=len(lengths), duration_s=sum(lengths))
            for value, lengths in sorted(skipped.items())
        ],
        replaced=len(previous),
    )


@dataclass(frozen=True, slots=True)
class _Interval:
    start: float
    end: float
    label: FrameClass


def confusion_by_time(
    labels: Sequence[_Interval], frames: Sequence[_Interval]
) -> dict[FrameClass, dict[FrameClass, float]]:
    """Seconds of overlap of each (label class, frame class) pair. Neither side overlaps
    itself, so a label meets the frame that starts before it and those inside it."""
    ordered = sorted(frames, key=lambda f: f.start)
    starts = [frame.start for frame in ordered]
    confusion: dict[FrameClass, dict[FrameClass, float]] = {
        row: dict.fromkeys(CLASS_ORDER, 0.0) for row in CLASS_ORDER
    }
    for label in labels:
        index = max(0, bisect.bisect_right(starts, label.start) - 1)
        while index < len(ordered) and ordered[index].start < label.end:
            frame = ordered[index]
            overlap = min(label.end, frame.end) - max(label.start, frame.start)
            if overlap > 0:
                confusion[label.label][frame.label] += overlap
            index += 1
    return confusion


def agreement(session: Session, film_id: int, analysis_id: int | None = None) -> ElanAgreement:
    """The analysis's frame classes (the model's own, before any annotation) against the
    film's imported ELAN labels, by running time; 409 when nothing was imported."""
    chosen = analysis_service.resolve_analysis_id(session, film_id, analysis_id)
    imported = _active_elan(session, film_id)
    if not imported:
        raise NoElanLabels(film_id)
    film = films_repository.get(session, film_id)
    duration_s = float(film.duration_s) if film is not None and film.duration_s else None
    rows, _ = analysis_repository.list_frames(session, chosen, None)
    frames = []
    for row in rows:
        end = float(row.time_s) + float(row.weight_s)
        frames.append(
            _Interval(
                float(row.time_s),
                min(end, duration_s) if duration_s else end,
                FrameClass(row.frame_class),
            )
        )
    labels = [
        _Interval(label.start_time, label.end_time, FrameClass(label.label))
        for label in imported
        if label.label is not None
    ]
    confusion = confusion_by_time(labels, frames)
    labelled_s = sum(label.end - label.start for label in labels)
    compared_s = sum(sum(row.values()) for row in confusion.values())
    agreed_s = sum(confusion[item][item] for item in CLASS_ORDER)
    classes = []
    for item in CLASS_ORDER:
        elan_s = sum(confusion[item].values())
        analysis_s = sum(confusion[row][item] for row in CLASS_ORDER)
        agreed = confusion[item][item]
        classes.append(
            ClassAgreement(
                label=item,
                elan_s=elan_s,
                analysis_s=analysis_s,
                agreed_s=agreed,
                recall=agreed / elan_s if elan_s > 0 else None,
                precision=agreed / analysis_s if analysis_s > 0 else None,
            )
        )
    return ElanAgreement(
        film_id=film_id,
        analysis_id=chosen,
        labelled_s=labelled_s,
        compared_s=compared_s,
        agreed_s=agreed_s,
        agreement=agreed_s / compared_s if compared_s > 0 else None,
        unclassified_s=max(0.0, labelled_s - compared_s),
        confusion={
            row.value: {column.value: seconds for column, seconds in columns.items()}
            for row, columns in confusion.items()
        },
        classes=classes,
    )
