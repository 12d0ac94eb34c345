"""A film's annotations loaded once, and its frames and shots as they stand with them: the
effective class, P fraction and sources of each (``resolve.resolve_frame``), the
statistics recomputed from those, and how much of the film a person has checked."""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.annotations import repository
from app.annotations.resolve import (
    EffectiveFrame,
    FrameLayers,
    LabelSource,
    SpanLabel,
    most_trusted_label,
    most_trusted_mask,
    resolve_frame,
)
from app.core.domain import ClassThresholds, FrameClass
from app.pipeline import stats
from app.pipeline.quantify import HybridRates
from app.pipeline.shots import Shot


@dataclass(frozen=True)
class FilmAnnotations:
    """The active annotations of one film."""

    human_p: dict[int, float] = field(default_factory=dict)
    propagated_p: dict[int, float] = field(default_factory=dict)
    frame_labels: dict[int, FrameClass] = field(default_factory=dict)
    spans: list[SpanLabel] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.human_p or self.propagated_p or self.frame_labels or self.spans)

    def layers(self, row: Any) -> FrameLayers:
        """The layers of a frame row (``frame_index``, ``frame_class``, ``p_fraction``,
        ``has_mask``)."""
        index = int(row.frame_index)
        return FrameLayers(
            frame_index=index,
            model_class=FrameClass(row.frame_class),
            model_p_fraction=float(row.p_fraction),
            model_has_mask=bool(row.has_mask),
            human_p_fraction=self.human_p.get(index),
            propagated_p_fraction=self.propagated_p.get(index),
            human_label=self.frame_labels.get(index),
        )

    def shot_label(self, start_frame: int, end_frame: int) -> SpanLabel | None:
        """The label set on exactly this shot (human first), if any."""
        matching = [
            span
            for span in self.spans
            if span.scope == "shot"
            and span.start_frame == start_frame
            and span.end_frame == end_frame
        ]
        return min(matching, key=lambda s: s.source != LabelSource.HUMAN) if matching else None


def load(session: Session, film_id: int) -> FilmAnnotations:
    found = FilmAnnotations()
    for frame_index, source, p_fraction in repository.active_mask_fractions(session, film_id):
        target = found.human_p if source == "human" else found.propagated_p
        target[int(frame_index)] = float(p_fraction)
    for label in repository.active_labels(session, film_id):
        assert label.label is not None
        if label.scope == "frame" and label.source == "human":
            found.frame_labels[label.start_frame] = FrameClass(label.label)
        else:
            found.spans.append(
                SpanLabel(
                    scope=label.scope,
                    start_frame=label.start_frame,
                    end_frame=label.end_frame,
                    label=FrameClass(label.label),
                    source=LabelSource(label.source),
                )
            )
    return found


def thresholds_of(analysis_settings: dict[str, Any] | None) -> ClassThresholds:
    stored = (analysis_settings or {}).get("thresholds") or {}
    return ClassThresholds.model_validate(stored)


def resolve_rows(
    rows: Sequence[Any], annotations: FilmAnnotations, thresholds: ClassThresholds
) -> list[EffectiveFrame]:
    return [resolve_frame(annotations.layers(row), annotations.spans, thresholds) for row in rows]


@dataclass(frozen=True)
class EffectiveShot:
    stats: stats.ShotStats
    mask_source: str | None
    label_source: str


@dataclass(frozen=True)
class EffectiveFigures:
    """A film's figures from its effective frames, and the human-checked share of them."""

    shots: list[EffectiveShot]
    summary: dict[str, Any]
    timeline: list[stats.TimelineBin]
    human_checked_s: float
    human_checked_share: float | None


def figures(
    rows: Sequence[Any],
    effective: Sequence[EffectiveFrame],
    shot_rows: Sequence[Any],
    annotations: FilmAnnotations,
    *,
    duration_s: float,
    rates: HybridRates | None = None,
) -> EffectiveFigures:
    """Shot and film statistics recomputed from the effective frames (``rows`` are the
    stored frame rows, ``effective`` their resolution, in the same order)."""
    results = [
        stats.FrameResult(
            frame_index=int(row.frame_index),
            time_s=float(row.time_s),
            frame_class=frame.frame_class,
            p_fraction=frame.p_fraction,
            weight_s=float(row.weight_s),
        )
        for row, frame in zip(rows, effective, strict=True)
    ]
    spans = [
        Shot(
            index=shot.shot_index,
            start_frame=shot.start_frame,
            end_frame=shot.end_frame,
            start_time=shot.start_time,
            end_time=shot.end_time,
            transition=shot.transition,
            transition_frames=shot.transition_frames or 0,
        )
        for shot in shot_rows
    ]
    shot_figures = stats.shot_stats(results, spans)
    by_index = {int(row.frame_index): frame for row, frame in zip(rows, effective, strict=True)}
    indices = sorted(by_index)
    shots: list[EffectiveShot] = []
    for figure in shot_figures:
        # The shot's frames by bisection (this runs on every /frames and /stats request).
        first = bisect.bisect_left(indices, figure.start_frame)
        last = bisect.bisect_right(indices, figure.end_frame)
        inside = [by_index[index] for index in indices[first:last]]
        own = annotations.shot_label(figure.start_frame, figure.end_frame)
        if own is not None:
            figure = dataclasses.replace(figure, frame_class=own.label)
        label_source = (
            own.source if own is not None else most_trusted_label([f.label_source for f in inside])
        )
        mask_source = most_trusted_mask([f.mask_source for f in inside])
        shots.append(
            EffectiveShot(
                stats=figure,
                mask_source=mask_source.value if mask_source is not None else None,
                label_source=LabelSource(label_source).value,
            )
        )
    # The adjustment holds for the models' calls only: once any frame's class comes from a
    # person (or their propagated labels), the counted ratio with the corrections stands.
    only_model = all(frame.label_source is LabelSource.MODEL for frame in effective)
    film = stats.film_stats(
        results,
        [shot.stats for shot in shots],
        duration_s=duration_s,
        rates=rates if only_model else None,
    )
    checked_s = sum(
        float(row.weight_s)
        for row, frame in zip(rows, effective, strict=True)
        if frame.human_checked
    )
    total_s = sum(float(row.weight_s) for row in rows)
    summary = dataclasses.asdict(film)
    summary["human_checked_s"] = checked_s
    summary["human_checked_share"] = checked_s / total_s if total_s > 0 else None
    return EffectiveFigures(
        shots=shots,
        summary=summary,
        timeline=stats.timeline(results, duration_s=duration_s),
        human_checked_s=checked_s,
        human_checked_share=summary["human_checked_share"],
    )
