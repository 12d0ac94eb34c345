"""Hybrid segments as W3C Web Annotations (JSON-LD), which archive annotation tools load.

Two kinds of segment, each one annotation whose target is the film with a media fragment
(``#t=start,end``, seconds) and whose bodies tag it "hybrid composition" and say what it is:

* a run of consecutive shots classified hybrid (``hybrid_segments``);
* a run of sampled frames classified hybrid within one shot: the hybrid runs of the ELAN
  export's frames tier (``app.exports.eaf.frame_runs``, the one function for both), so a film
  with hybrid frames but no hybrid shot is annotated too.

Annotations are ordered by start time (shot segments before frame runs starting together).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.analysis.schemas import FramePublic, ShotPublic
from app.core.domain import FrameClass
from app.exports.eaf import frame_runs

CONTEXT = "http://www.w3.org/ns/anno.jsonld"
MEDIA_FRAGMENTS = "http://www.w3.org/TR/media-frags/"
TAG = "hybrid composition"


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    first_shot: int
    last_shot: int
    mean_hybrid_ratio: float


def hybrid_segments(shots: Sequence[ShotPublic]) -> list[Segment]:
    """Maximal runs of consecutive hybrid shots (by shot index)."""
    segments: list[Segment] = []
    run: list[ShotPublic] = []

    def close() -> None:
        if run:
            span = sum(shot.end_time - shot.start_time for shot in run)
            weighted = sum(shot.hybrid_ratio * (shot.end_time - shot.start_time) for shot in run)
            segments.append(
                Segment(
                    start_s=run[0].start_time,
                    end_s=run[-1].end_time,
                    first_shot=run[0].number,
                    last_shot=run[-1].number,
                    mean_hybrid_ratio=weighted / span if span > 0 else run[0].hybrid_ratio,
                )
            )
            run.clear()

    for shot in sorted(shots, key=lambda item: item.shot_index):
        if shot.frame_class is FrameClass.HYBRID and (
            not run or shot.shot_index == run[-1].shot_index + 1
        ):
            run.append(shot)
            continue
        close()
        if shot.frame_class is FrameClass.HYBRID:
            run.append(shot)
    close()
    return segments


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def hybrid_frame_runs(
    frames: Sequence[FramePublic], shots: Sequence[ShotPublic]
) -> list[tuple[float, float]]:
    """(start s, end s) of the runs of sampled frames classified hybrid: the "Hybrid Image"
    annotations of the ELAN export's frames tier, at the same millisecond times."""
    return [
        (start_ms / 1000, end_ms / 1000)
        for start_ms, end_ms, frame_class in frame_runs(frames, shots)
        if frame_class is FrameClass.HYBRID
    ]


def _shot_at(shots: Sequence[ShotPublic], time_s: float) -> ShotPublic | None:
    return next((s for s in shots if s.start_time <= time_s < s.end_time), None)


def _annotation(
    annotation_id: str, media_url: str, generator: str, start_s: float, end_s: float, text: str
) -> dict[str, Any]:
    fragment = f"t={_seconds(start_s)},{_seconds(end_s)}"
    return {
        "id": annotation_id,
        "type": "Annotation",
        "motivation": "tagging",
        "generator": generator,
        "body": [
            {"type": "TextualBody", "purpose": "tagging", "value": TAG},
            {"type": "TextualBody", "purpose": "describing", "format": "text/plain", "value": text},
        ],
        "target": {
            "id": f"{media_url}#{fragment}",
            "type": "SpecificResource",
            "source": {"id": media_url, "type": "Video"},
            "selector": {
                "type": "FragmentSelector",
                "conformsTo": MEDIA_FRAGMENTS,
                "value": fragment,
            },
        },
    }


def annotation_collection(
    shots: Sequence[ShotPublic],
    frames: Sequence[FramePublic] = (),
    *,
    collection_id: str,
    media_url: str,
    label: str,
    generator: str = "hybridlens",
) -> dict[str, Any]:
    """An ``AnnotationCollection`` with all the film's hybrid segments on one page: runs of
    hybrid shots, and runs of hybrid sampled frames (as in the ELAN export)."""
    found: list[tuple[float, int, float, str]] = []
    for segment in hybrid_segments(shots):
        text = (
            f"shots {segment.first_shot}-{segment.last_shot}, "
            f"hybrid ratio {segment.mean_hybrid_ratio:.3f}"
        )
        found.append((segment.start_s, 0, segment.end_s, text))
    for start_s, end_s in hybrid_frame_runs(frames, shots):
        # A run lies within one shot: its middle finds the shot whatever the rounding.
        shot = _shot_at(shots, (start_s + end_s) / 2)
        where = f" in shot {shot.number}" if shot is not None else ""
        found.append((start_s, 1, end_s, f"sampled frames classified hybrid{where}"))
    items = [
        _annotation(f"{collection_id}#annotation-{number}", media_url, generator, start, end, text)
        for number, (start, _, end, text) in enumerate(sorted(found), start=1)
    ]
    return {
        "@context": CONTEXT,
        "id": collection_id,
        "type": "AnnotationCollection",
        "label": label,
        "total": len(items),
        "first": {
            "id": f"{collection_id}#page-1",
            "type": "AnnotationPage",
            "startIndex": 0,
            "items": items,
        },
    }
