"""Export builders (pure): timecodes, CMX3600 EDL, OpenTimelineIO JSON, Web Annotations.

The EDL and the .otio written here were checked by hand to load in OpenTimelineIO 0.18
(otio_json and the cmx_3600 adapter) with the same clip ranges as these assertions.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from app.analysis.schemas import AnalysisDetail, FilmDetail, FilmReport, FramePublic, ShotPublic
from app.annotations.elan import read_eaf
from app.core.domain import RunStatus
from app.exports.edl import shots_edl
from app.exports.otio import shots_timeline
from app.exports.registry import EXPORTS, ExportTarget, export_film
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


def _frames(classes: list[str], *, every_s: float = 1.0, shot_s: float = 2.0) -> list[FramePublic]:
    """One sampled frame a second (at 25 fps), in the 2 s shots of ``_shots``."""
    return [
        FramePublic(
            frame_index=round(index * every_s * 25),
            time_s=index * every_s,
            shot_index=int(index * every_s // shot_s),
            frame_class=frame_class,  # type: ignore[arg-type]
            p_fraction=0.5,
            confidence=0.9,
            weight_s=every_s,
            np_grid=None,
            has_mask=frame_class == "hybrid",
        )
        for index, frame_class in enumerate(classes)
    ]


def _fragments(collection: dict[str, object]) -> list[str]:
    page = collection["first"]
    assert isinstance(page, dict)
    return [item["target"]["selector"]["value"] for item in page["items"]]


def test_web_annotations_annotate_hybrid_frame_runs_without_hybrid_shots() -> None:
    # The demo film's case: no shot is hybrid, two sampled frames of shot 2 are.
    shots = _shots(["P", "P", "NP"])
    frames = _frames(["P", "P", "hybrid", "hybrid", "NP", "NP"])

    collection = annotation_collection(
        shots, frames, collection_id="c", media_url="http://h/films/1/media", label="t"
    )

    assert collection["total"] == 1
    assert _fragments(collection) == ["t=2,4"]
    (annotation,) = collection["first"]["items"]
    assert annotation["body"][1]["value"] == "sampled frames classified hybrid in shot 2"


def test_web_annotations_keep_shot_segments_beside_frame_runs_in_time_order() -> None:
    shots = _shots(["hybrid", "P", "P"])
    frames = _frames(["hybrid", "P", "P", "P", "hybrid", "P"])

    collection = annotation_collection(
        shots, frames, collection_id="c", media_url="http://h/films/1/media", label="t"
    )

    assert _fragments(collection) == ["t=0,2", "t=0,1", "t=4,5"]
    texts = [item["body"][1]["value"] for item in collection["first"]["items"]]
    assert texts[0].startswith("shots 1-1, hybrid ratio")
    assert [item["id"] for item in collection["first"]["items"]] == [
        "c#annotation-1", "c#annotation-2", "c#annotation-3",
    ]  # fmt: skip


def _report(shots: list[ShotPublic], frames: list[FramePublic]) -> FilmReport:
    film = FilmDetail.model_construct(id=1, title="Demo", original_filename="demo.mp4", probe={})
    analysis = AnalysisDetail.model_construct(
        id=1, status=RunStatus.DONE, error=None, created_at=datetime(2024, 1, 1), finished_at=None
    )
    return FilmReport.model_construct(
        film=film, analysis=analysis, shots=shots, frames=frames, labels=[], scenes=[]
    )


def test_annotations_export_covers_the_elan_exports_hybrid_frame_runs() -> None:
    # Hybrid frames across a shot cut: ELAN has two "Hybrid Image" runs, one per shot.
    report = _report(_shots(["P", "NP", "P"]), _frames(["P", "hybrid", "hybrid", "NP", "P", "P"]))
    target = ExportTarget(film_id=1, base_url="http://h")

    elan = read_eaf(export_film(report, "eaf", target).body.encode())
    collection = json.loads(export_film(report, "annotations", target).body)

    hybrid = [a for a in elan.annotations("hybridlens frames") if a.value == "Hybrid Image"]
    assert [f"t={a.start_ms / 1000:g},{a.end_ms / 1000:g}" for a in hybrid] == ["t=1,2", "t=2,3"]
    assert _fragments(collection) == ["t=1,2", "t=2,3"]
    assert collection["total"] == 2
    # The API reads the sampled frames for this export.
    assert EXPORTS.get("annotations").frames
