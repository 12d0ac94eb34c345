"""Probe and decode of generated films, good and broken."""

from __future__ import annotations

import dataclasses
import subprocess
import tracemalloc
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.pipeline import video
from app.pipeline.errors import DecodeError, VideoOpenFailure
from app.pipeline.timecode import smpte, timestamp
from app.pipeline.video import decode, probe, working_dimensions
from tests.media import (
    GeneratedVideo,
    Segment,
    make_audio_only,
    make_empty_file,
    make_text_file,
    make_truncated,
    make_video,
)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def cfr_film(media_dir: Path) -> GeneratedVideo:
    return make_video(media_dir / "cfr.mkv", duration_s=2.0, fps=25, size=(160, 120))


@pytest.fixture(scope="module")
def vfr_film(media_dir: Path) -> GeneratedVideo:
    return make_video(media_dir / "vfr.mkv", duration_s=2.0, fps=25, size=(160, 120), vfr=True)


@pytest.fixture(scope="module")
def long_film(media_dir: Path) -> GeneratedVideo:
    return make_video(media_dir / "long.mkv", duration_s=4.0, fps=25, size=(160, 120))


def test_probe_reports_stream_facts_when_constant_rate(cfr_film: GeneratedVideo) -> None:
    info = probe(cfr_film.path)

    assert (info.width, info.height) == (160, 120)
    assert info.codec == "h264"
    assert "matroska" in info.container
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(2.0, abs=0.05)
    assert info.frame_count == 50
    assert info.sample_aspect_ratio == Fraction(1)
    assert not info.variable_frame_rate
    assert not info.interlaced
    assert not info.has_audio
    assert info.size_bytes == cfr_film.path.stat().st_size


def test_probe_reports_audio_and_exact_frame_count_when_mp4_has_sound(media_dir: Path) -> None:
    film = make_video(media_dir / "sound.mp4", duration_s=1.0, fps=25, audio=True)

    info = probe(film.path)

    assert info.has_audio
    assert info.frame_count == 25
    assert not info.frame_count_estimated


def test_probe_flags_variable_frame_rate_when_pts_spacing_changes(
    vfr_film: GeneratedVideo,
) -> None:
    assert probe(vfr_film.path).variable_frame_rate


def test_probe_rejects_audio_only_file(tmp_path: Path) -> None:
    path = make_audio_only(tmp_path / "sound.wav")

    with pytest.raises(VideoOpenFailure, match="audio only"):
        probe(path)


def test_probe_rejects_file_when_not_a_video(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "script.mp4")

    with pytest.raises(VideoOpenFailure, match="not a readable media file"):
        probe(path)


def test_probe_rejects_text_file_when_ffmpeg_reads_it_as_ansi_art(tmp_path: Path) -> None:
    path = make_text_file(tmp_path / "script.txt")

    with pytest.raises(VideoOpenFailure, match="a text file, not a video"):
        probe(path)


def test_probe_rejects_file_when_zero_bytes(tmp_path: Path) -> None:
    path = make_empty_file(tmp_path / "empty.mkv")

    with pytest.raises(VideoOpenFailure, match="empty"):
        probe(path)


def test_probe_rejects_path_when_missing(tmp_path: Path) -> None:
    with pytest.raises(VideoOpenFailure, match="no such file"):
        probe(tmp_path / "nowhere.mkv")


def test_probe_rejects_picture_when_size_is_absurd(
    cfr_film: GeneratedVideo, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_probe = video.ffmpeg.probe

    def huge_probe(url: str, **kwargs: Any) -> dict[str, Any]:
        probed = real_probe(url, **kwargs)
        probed["streams"][0].update(width=100_000, height=100_000)
        return probed

    monkeypatch.setattr(video.ffmpeg, "probe", huge_probe)
    monkeypatch.setattr(video, "_probed", type(video._probed)())  # not what an earlier test saw

    with pytest.raises(VideoOpenFailure, match="absurd picture size"):
        probe(cfr_film.path)


def test_probe_answers_again_from_memory_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "film.mkv"
    make_video(path, duration_s=1.0)
    first = probe(path)
    assert probe(path) is first
    make_video(path, duration_s=2.0)  # replaced: another size and modification time
    assert probe(path).frame_count == 2 * first.frame_count


def test_decode_yields_every_frame_with_index_and_pts_when_constant_rate(
    cfr_film: GeneratedVideo,
) -> None:
    frames = list(decode(cfr_film.path, probe(cfr_film.path), working_size=320))

    assert [f.index for f in frames] == list(range(50))
    assert [f.pts_s for f in frames] == pytest.approx([i / 25 for i in range(50)], abs=1e-3)
    assert all(f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8 for f in frames)


def test_decode_returns_real_pts_when_variable_frame_rate(vfr_film: GeneratedVideo) -> None:
    frames = list(decode(vfr_film.path, probe(vfr_film.path), working_size=320))

    pts = [f.pts_s for f in frames]
    assert pts == pytest.approx(_container_pts(vfr_film.path), abs=1e-3)
    # The encoder jitters single frames; on average the second half runs at half the rate.
    assert np.mean(np.diff(pts[:25])) == pytest.approx(0.04, abs=5e-3)
    assert np.mean(np.diff(pts[25:])) == pytest.approx(0.08, abs=5e-3)


def test_decode_scales_to_working_size_keeping_aspect_when_size_is_odd(tmp_path: Path) -> None:
    film = make_video(tmp_path / "odd.mkv", duration_s=0.2, fps=25, size=(323, 241))

    frame = next(iter(decode(film.path, probe(film.path), working_size=160)))

    assert frame.image.shape == (118, 160, 3)


def test_decode_keeps_native_size_rounded_to_even_when_smaller_than_working_size(
    tmp_path: Path,
) -> None:
    film = make_video(tmp_path / "odd.mkv", duration_s=0.2, fps=25, size=(323, 241))

    frame = next(iter(decode(film.path, probe(film.path), working_size=640)))

    assert frame.image.shape == (240, 322, 3)


def test_working_dimensions_apply_sample_aspect_ratio_when_pixels_are_not_square(
    cfr_film: GeneratedVideo,
) -> None:
    anamorphic = dataclasses.replace(probe(cfr_film.path), sample_aspect_ratio=Fraction(2, 1))

    assert working_dimensions(anamorphic, working_size=160) == (160, 60)


def test_decode_yields_one_frame_when_film_has_one_frame(tmp_path: Path) -> None:
    film = make_video(tmp_path / "one.mkv", segments=[Segment(frames=1)])
    info = probe(film.path)

    frames = list(decode(film.path, info, working_size=320))

    assert info.frame_count == 1
    assert [(f.index, f.pts_s) for f in frames] == [(0, 0.0)]


def test_decode_keeps_frames_then_raises_decode_error_when_file_is_truncated(
    long_film: GeneratedVideo, tmp_path: Path
) -> None:
    path = make_truncated(long_film.path, tmp_path / "cut.mkv", keep_share=0.5)
    info = probe(path)
    frames = []

    with pytest.raises(DecodeError) as raised:
        for frame in decode(path, info, working_size=320):
            frames.append(frame)

    assert 10 < len(frames) < long_film.frame_count
    assert raised.value.frames_decoded == len(frames)
    assert raised.value.last_frame_index == frames[-1].index
    assert raised.value.last_pts_s == frames[-1].pts_s
    assert "ended prematurely" in raised.value.cause


def test_decode_kills_ffmpeg_when_consumer_stops_early(
    long_film: GeneratedVideo, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        process = real_popen(*args, **kwargs)
        started.append(process)
        return process

    info = probe(long_film.path)
    monkeypatch.setattr(video.subprocess, "Popen", recording_popen)
    frames = decode(long_film.path, info, working_size=320)
    next(frames)
    next(frames)

    frames.close()  # type: ignore[attr-defined]

    assert len(started) == 1
    assert started[0].poll() is not None


def test_decode_memory_stays_flat_when_film_is_longer(
    cfr_film: GeneratedVideo, media_dir: Path
) -> None:
    longer = make_video(media_dir / "longer.mkv", duration_s=8.0, fps=25, size=(160, 120))

    def peak_bytes(film: GeneratedVideo) -> int:
        info = probe(film.path)
        tracemalloc.start()
        try:
            for _frame in decode(film.path, info, working_size=320):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    short_peak, long_peak = peak_bytes(cfr_film), peak_bytes(longer)

    frame_bytes = 160 * 120 * 3
    assert long_peak < short_peak + 2 * frame_bytes


def test_smpte_formats_hours_minutes_seconds_frames() -> None:
    assert smpte(3 * 3600 * 25 + 2 * 60 * 25 + 5 * 25 + 7, 25.0) == "03:02:05:07"


def test_smpte_counts_at_nominal_rate_when_rate_is_ntsc() -> None:
    assert smpte(30, 30000 / 1001) == "00:00:01:00"


def test_smpte_wraps_hours_when_timecode_passes_a_day() -> None:
    assert smpte(25 * 3600 * 25 + 3, 25.0) == "01:00:00:03"


def test_timestamp_formats_milliseconds() -> None:
    assert timestamp(3723.4567) == "01:02:03.457"


def _container_pts(path: Path) -> list[float]:
    """Presentation times the file stores for its video packets (demuxed, not decoded)."""
    listing = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted(float(line) for line in listing.split())


def test_probe_reason_hides_ffmpeg_addresses_and_server_paths_when_file_is_broken(
    tmp_path: Path,
) -> None:
    source = make_video(tmp_path / "whole.mp4", duration_s=1.0).path
    broken = tmp_path / "deep" / "store" / "broken.mp4"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(source.read_bytes()[: source.stat().st_size // 3])  # moov atom lost

    with pytest.raises(VideoOpenFailure) as failure:
        probe(broken)

    assert "@ 0x" not in failure.value.reason and str(tmp_path) not in failure.value.reason
    assert "not a readable media file" in failure.value.reason
    assert str(broken) in str(failure.value)  # the log keeps the whole story
