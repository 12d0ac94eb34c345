"""Hybrid segments as W3C Web Annotations (JSON-LD), which archive annotation tools load.

A segment is a run of consecutive shots classified hybrid. Each becomes one annotation whose
target is the film with a media fragment (``#t=start,end``, seconds), and whose bodies tag
it "hybrid composition" and give the figures as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.analysis.schemas import ShotPublic
from app.core.domain import FrameClass

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


def annotation_collection(
    shots: Sequence[ShotPublic],
    *,
    collection_id: str,
    media_url: str,
    label: str,
    generator: str = "hybridlens",
) -> dict[str, Any]:
    """An ``AnnotationCollection`` with all the film's hybrid segments on one page."""
    items = []
    for number, segment in enumerate(hybrid_segments(shots), start=1):
        fragment = f"t={_seconds(segment.start_s)},{_seconds(segment.end_s)}"
        items.append(
            {
                "id": f"{collection_id}#annotation-{number}",
                "type": "Annotation",
                "motivation": "tagging",
                "generator": generator,
                "body": [
                    {"type": "TextualBody", "purpose": "tagging", "value": TAG},
                    {
                        "type": "TextualBody",
                        "purpose": "describing",
                        "format": "text/plain",
                        "value": (
                            f"shots {segment.first_shot}-{segment.last_shot}, "
                            f"hybrid ratio {segment.mean_hybrid_ratio:.3f}"
                        ),
                    },
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
        )
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
