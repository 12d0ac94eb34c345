"""Variable-frame-rate films get edit timecodes at their nominal rate, from real presentation
times: a generated 23.976 fps clip with every third frame of its middle shot dropped (average
21.3 fps) is probed, decoded and cut by the pipeline, exported, and read back with
``opentimelineio``; drop-frame timecode for 29.97."""

from __future__ import annotations

import json
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

from app.analysis.schemas import ShotPublic
from app.core.config import PipelineSettings, ShotSettings
from app.exports.edl import shots_edl
from app.exports.otio import shots_timeline
from app.pipeline.detectors import create_detector
from app.pipeline.timecode import edit_rate, frame_at, smpte
from app.pipeline.video import decode, probe

RATE = Fraction(24000, 1001)
SHOT_FRAMES = 48  # nominal frames per shot: cuts at 00:00:02:00 and 00:00:04:00


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vfr") / "vfr-drop3.mp4"
    sources = ("testsrc2", "mandelbrot", "smptebars")
    chains = [
        f"{source}=s=160x120:r=24000/1001,trim=end_frame={SHOT_FRAMES},setpts=PTS-STARTPTS[s{n}]"
        for n, source in enumerate(sources)
    ]
    # Every third frame of the middle shot dropped, the others keep their times.
    drop = f"not(between(n\\,{SHOT_FRAMES}\\,{2 * SHOT_FRAMES - 1})*eq(mod(n\\,3)\\,2))"
    chains.append(f"[s0][s1][s2]concat=n=3:v=1:a=0,select='{drop}',format=yuv420p[v]")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-filter_complex", ";".join(chains),
         "-map", "[v]", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _shots(path: Path) -> tuple[list[ShotPublic], Fraction, float]:
    info = probe(path)
    pipeline = PipelineSettings(shots=ShotSettings(detector="content"))
    detector = create_detector(pipeline.shots, fps=info.fps)
    for frame in decode(path, info, pipeline.working_size):
        detector.process(frame)
    shots = [
        ShotPublic(
            shot_index=shot.index,
            start_frame=shot.start_frame,
            end_frame=shot.end_frame,
            start_time=shot.start_time,
            end_time=shot.end_time,
            frame_class=None,
            hybrid_ratio=0.0,
            mean_p_fraction=None,
            classified_s=None,
            sampled_frames=None,
        )
        for shot in detector.finish()
    ]
    return shots, edit_rate(info.nominal_rate, info.fps), info.fps


def test_probe_keeps_the_nominal_rate_apart_from_the_average_when_frames_are_dropped(
    vfr_clip: Path,
) -> None:
    info = probe(vfr_clip)
    assert info.variable_frame_rate
    assert info.nominal_rate == "24000/1001"
    assert info.fps == pytest.approx(21.31, abs=0.05)


def test_otio_timecodes_of_a_vfr_film_are_within_one_frame_of_the_pts_truth(
    vfr_clip: Path,
) -> None:
    shots, rate, average = _shots(vfr_clip)
    assert rate == RATE and average < 22
    assert len(shots) == 3

    document = shots_timeline(shots, name="vfr", fps=rate, media_url="http://h/films/1/media")
    timeline = otio.adapters.read_from_string(json.dumps(document), "otio_json")
    clips = list(timeline.find_clips())
    truth = [0, SHOT_FRAMES, 2 * SHOT_FRAMES]  # where a player shows each cut, in 23.976 frames
    errors = [
        abs(clip.source_range.start_time.to_frames() - expected)
        for clip, expected in zip(clips, truth, strict=True)
    ]
    assert max(errors) <= 1, errors
    # to_timecode works at the nominal rate (it raises on a 21.3 fps average).
    starts = [clip.source_range.start_time.to_timecode() for clip in clips]
    assert starts[1] in ("00:00:01:23", "00:00:02:00", "00:00:02:01")
    assert starts[2] in ("00:00:03:23", "00:00:04:00", "00:00:04:01")
    with pytest.raises(ValueError):
        otio.opentime.RationalTime(80, average).to_timecode()


def test_edl_events_of_a_vfr_film_match_the_otio_clips(vfr_clip: Path) -> None:
    shots, rate, _ = _shots(vfr_clip)
    edl = shots_edl(shots, title="vfr", fps=rate, clip_name="vfr-drop3.mp4")
    document = shots_timeline(shots, name="vfr", fps=rate, media_url="http://h/films/1/media")
    timeline = otio.adapters.read_from_string(json.dumps(document), "otio_json")
    events = re.findall(r"^(\d{3})  AX\s+V\s+C\s+(\S+) (\S+) (\S+) (\S+)$", edl, re.MULTILINE)
    clips = list(timeline.find_clips())
    assert [int(number) for number, *_ in events] == [1, 2, 3]
    for (_, source_in, source_out, _, _), clip in zip(events, clips, strict=True):
        assert source_in == clip.source_range.start_time.to_timecode()
        assert source_out == clip.source_range.end_time_exclusive().to_timecode()
    assert "* HYBRIDLENS SHOT 1:" in edl and "* HYBRIDLENS SHOT 3:" in edl


def test_drop_frame_timecode_matches_opentimelineio_at_29_97() -> None:
    rate = Fraction(30000, 1001)
    for frame in (0, 1799, 1800, 17981, 17982, 107892):
        expected = otio.opentime.RationalTime(frame, float(rate)).to_timecode(
            rate=float(rate), drop_frame=True
        )
        assert smpte(frame, rate, drop_frame=True) == expected
    assert frame_at(60.06, rate) == 1800
    with pytest.raises(ValueError, match=r"29\.97 or 59\.94"):
        smpte(10, Fraction(25), drop_frame=True)
