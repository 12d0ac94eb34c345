"""Transitions in the exports: an EDL dissolve or wipe event, an OTIO ``Transition``."""

from __future__ import annotations

from app.analysis.schemas import ShotPublic
from app.exports.edl import shots_edl
from app.exports.otio import shots_timeline


def _shots(transitions: list[tuple[str | None, int]], *, frames: int = 50) -> list[ShotPublic]:
    return [
        ShotPublic(
            shot_index=index,
            start_frame=index * frames,
            end_frame=index * frames + frames - 1,
            start_time=index * frames / 25,
            end_time=(index + 1) * frames / 25,
            frame_class=None,
            hybrid_ratio=0.0,
            mean_p_fraction=None,
            classified_s=None,
            sampled_frames=0,
            transition=transition,  # type: ignore[arg-type]
            transition_frames=length,
        )
        for index, (transition, length) in enumerate(transitions)
    ]


def test_edl_writes_a_dissolve_event_for_a_shot_that_dissolves_in() -> None:
    edl = shots_edl(
        _shots([(None, 0), ("dissolve", 12), ("cut", 0)]), title="t", fps=25.0, clip_name="a"
    )
    lines = edl.splitlines()
    assert "002  AX       V     C        00:00:02:00 00:00:02:00 00:00:02:00 00:00:02:00" in lines
    assert "002  AX       V     D    012 00:00:02:00 00:00:04:00 00:00:02:00 00:00:04:00" in lines
    assert "003  AX       V     C        00:00:04:00 00:00:06:00 00:00:04:00 00:00:06:00" in lines


def test_edl_writes_a_fade_as_a_dissolve_and_a_wipe_as_a_wipe_event() -> None:
    edl = shots_edl(
        _shots([(None, 0), ("fade", 30), ("wipe", 8)]), title="t", fps=25.0, clip_name="a"
    )
    assert " D    030 00:00:02:00" in edl
    assert " W001 008 00:00:04:00" in edl


def test_otio_puts_a_transition_between_the_clips_it_joins() -> None:
    timeline = shots_timeline(
        _shots([(None, 0), ("dissolve", 13), ("wipe", 8), ("cut", 0)]),
        name="t", fps=25.0, media_url="http://h/films/1/media",
    )  # fmt: skip
    children = timeline["tracks"]["children"][0]["children"]
    assert [child["OTIO_SCHEMA"] for child in children] == [
        "Clip.2", "Transition.1", "Clip.2", "Transition.1", "Clip.2", "Clip.2",
    ]  # fmt: skip
    dissolve, wipe = children[1], children[3]
    assert dissolve["transition_type"] == "SMPTE_Dissolve"
    assert (dissolve["in_offset"]["value"], dissolve["out_offset"]["value"]) == (6, 7)
    assert wipe["transition_type"] == "Custom_Transition"
    assert wipe["metadata"]["hybridlens"]["kind"] == "wipe"
