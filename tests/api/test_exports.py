"""Export builders (pure): timecodes, CMX3600 EDL, OpenTimelineIO JSON, Web Annotations.

The EDL and the .otio written here were checked by hand to load in OpenTimelineIO 0.18
(otio_json and the cmx_3600 adapter) with the same clip ranges as these assertions.
"""

from __future__ import annotations

import pytest

from app.analysis.schemas import ShotPublic
from app.exports.edl import shots_edl
from app.exports.otio import shots_timeline
from app.exports.web_annotations import annotation_collection, hybrid_segments
from app.pipeline.timecode import nominal_rate, smpte


def _shots(classes: list[str | None], *, frames: int = 50, fps: float = 25.0) -> list[ShotPublic]:
    return [
        ShotPublic(
            shot_index=index,
            start_frame=index * frames,
            end_frame=index * frames + frames - 1,
            start_time=index * frames / fps,
            end_time=(index + 1) * frames / fps,
            frame_class=frame_class,  # type: ignore[arg-type]
            hybrid_ratio=1.0 if frame_class == "hybrid" else 0.0,
            mean_p_fraction=0.5,
            classified_s=frames / fps,
            sampled_frames=2,
        )
        for index, frame_class in enumerate(classes)
    ]


@pytest.mark.parametrize(
    ("frame", "rate", "expected"),
    [(0, 25, "00:00:00:00"), (24, 25, "00:00:00:24"), (25, 25, "00:00:01:00"),
     (90_000, 25, "01:00:00:00"), (1799, 30, "00:00:59:29")],
)  # fmt: skip
def test_timecode_counts_frames_at_the_nominal_rate(frame: int, rate: int, expected: str) -> None:
    assert smpte(frame, rate) == expected


def test_nominal_rate_rounds_ntsc_and_defaults() -> None:
    assert (nominal_rate(29.97), nominal_rate(23.976), nominal_rate(None)) == (30, 24, 25)


def test_edl_has_one_cut_event_per_shot_laid_end_to_end() -> None:
    edl = shots_edl(_shots(["P", "hybrid"]), title="Reel\n1", fps=25.0, clip_name="a.mp4")
    lines = edl.splitlines()
    assert lines[:2] == ["TITLE: Reel 1", "FCM: NON-DROP FRAME"]
    assert (
        lines[3] == "001  AX       V     C        00:00:00:00 00:00:02:00 00:00:00:00 00:00:02:00"
    )
    assert (
        lines[7] == "002  AX       V     C        00:00:02:00 00:00:04:00 00:00:02:00 00:00:04:00"
    )
    assert "* FROM CLIP NAME: a.mp4" in lines
    assert "CLASS hybrid" in lines[9]


def test_otio_timeline_has_a_clip_per_shot_with_its_range() -> None:
    timeline = shots_timeline(
        _shots(["P", "hybrid", None]), name="t", fps=25.0, media_url="http://h/films/1/media"
    )
    track = timeline["tracks"]["children"][0]
    assert (timeline["OTIO_SCHEMA"], track["OTIO_SCHEMA"], track["kind"]) == (
        "Timeline.1", "Track.1", "Video",
    )  # fmt: skip
    second = track["children"][1]
    assert second["source_range"]["start_time"] == {
        "OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 50.0,
    }  # fmt: skip
    assert second["source_range"]["duration"]["value"] == 50.0
    assert second["media_references"]["DEFAULT_MEDIA"]["target_url"] == "http://h/films/1/media"
    assert second["metadata"]["hybridlens"]["class"] == "hybrid"
    assert track["children"][2]["metadata"]["hybridlens"]["class"] is None


def test_hybrid_segments_merge_consecutive_hybrid_shots() -> None:
    segments = hybrid_segments(_shots(["hybrid", "hybrid", "P", "hybrid", None]))
    # Shots are numbered from 1.
    assert [(s.first_shot, s.last_shot, s.start_s, s.end_s) for s in segments] == [
        (1, 2, 0.0, 4.0),
        (4, 4, 6.0, 8.0),
    ]


def test_web_annotations_target_media_fragments() -> None:
    collection = annotation_collection(
        _shots(["P", "hybrid"]),
        collection_id="http://h/films/1/export?format=annotations",
        media_url="http://h/films/1/media",
        label="Hybrid compositions in t",
    )
    assert collection["@context"] == "http://www.w3.org/ns/anno.jsonld"
    assert collection["type"] == "AnnotationCollection" and collection["total"] == 1
    annotation = collection["first"]["items"][0]
    assert annotation["type"] == "Annotation" and annotation["motivation"] == "tagging"
    target = annotation["target"]
    assert target["id"] == "http://h/films/1/media#t=2,4"
    assert target["selector"] == {
        "type": "FragmentSelector",
        "conformsTo": "http://www.w3.org/TR/media-frags/",
        "value": "t=2,4",
    }
