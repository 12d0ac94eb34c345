"""Test media factories: small films made with ffmpeg's lavfi sources, with known cuts, fades,
dissolves and frame rates, plus broken files (truncated, empty, audio only, not a video).

Every helper is keyword-only and returns what the test needs to know about the file it made.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Segment:
    """One shot of a generated film.

    ``source`` is a lavfi video source (``testsrc2``, ``smptebars``, ``mandelbrot``,
    ``rgbtestsrc``, ``color``...); ``extra`` is appended to its filter chain (e.g. ``hue=h=90``).
    """

    source: str = "testsrc2"
    frames: int = 25
    color: str = "gray"  # for source="color"
    noise: int = 0  # temporal noise strength, so flat colours still look like footage
    extra: str = ""
    fade_in_frames: int = 0  # from black
    fade_out_frames: int = 0  # to black
    # Frames of cross-dissolve from the previous segment (0 = hard cut). The film gets
    # shorter by that many frames; the boundary is put in the middle of the dissolve.
    dissolve_frames: int = 0


@dataclass(frozen=True)
class GeneratedVideo:
    path: Path
    fps: float
    size: tuple[int, int]
    frame_count: int
    # Frame numbers where a new shot starts (not 0), where the segments were joined.
    cut_frames: list[int] = field(default_factory=list)


def make_video(
    path: Path,
    *,
    duration_s: float = 2.0,
    fps: float = 25.0,
    size: tuple[int, int] = (160, 120),
    segments: Sequence[Segment] | None = None,
    audio: bool = False,
    vfr: bool = False,
    codec: str = "libx264",
) -> GeneratedVideo:
    """Encode a film; the container follows the suffix (.mkv, .mp4, .ts).

    Without ``segments`` it is one ``testsrc2`` shot of ``duration_s``. With ``vfr`` the
    second half runs at half the frame rate (frames keep coming, pts spacing doubles).
    """
    width, height = size
    if segments is None:
        segments = [Segment(frames=max(1, round(duration_s * fps)))]
    chains = []
    for number, segment in enumerate(segments):
        chains.append(f"{_source(segment, size, fps)}[s{number}]")

    # Join pairwise, concat for hard cuts and xfade for dissolves, in one time base throughout
    # (xfade insists).
    joined, frames_so_far, cut_frames = "s0", segments[0].frames, []
    for number, segment in enumerate(segments[1:], start=1):
        out = f"j{number}"
        if segment.dissolve_frames:
            offset_s = (frames_so_far - segment.dissolve_frames) / fps
            chains.append(
                f"[{joined}][s{number}]xfade=transition=fade:"
                f"duration={segment.dissolve_frames / fps}:offset={offset_s},settb=1/{fps}[{out}]"
            )
            cut_frames.append(frames_so_far - segment.dissolve_frames // 2)
            frames_so_far += segment.frames - segment.dissolve_frames
        else:
            chains.append(f"[{joined}][s{number}]concat=n=2:v=1:a=0,settb=1/{fps}[{out}]")
            cut_frames.append(frames_so_far)
            frames_so_far += segment.frames
        joined = out
    # Odd sizes cannot be 4:2:0 subsampled; 4:4:4 keeps them exact.
    pixel_format = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    tail = f"format={pixel_format}"
    if vfr:
        half = frames_so_far // 2
        tail += f",setpts='if(lt(N,{half}),N/{fps},{half}/{fps}+(N-{half})*2/{fps})/TB'"
    chains.append(f"[{joined}]{tail}[v]")

    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-filter_complex", ";".join(chains)]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={frames_so_far / fps}"]
    command += ["-map", "[v]"]
    if audio:
        command += ["-map", "0:a", "-c:a", "aac"]
    command += ["-c:v", codec]
    if codec == "libx264":
        command += ["-preset", "ultrafast"]
    # VFR keeps the pts set above; CFR pins the rate the factories promise.
    command += ["-fps_mode", "vfr"] if vfr else ["-fps_mode", "cfr", "-r", str(fps)]
    command.append(str(path))
    _run(command)
    return GeneratedVideo(
        path=path, fps=fps, size=size, frame_count=frames_so_far, cut_frames=cut_frames
    )


def make_tiny_video(path: Path, *, size: tuple[int, int] = (1, 1), frames: int = 25) -> Path:
    """A film whose picture is only ``size`` pixels (scaled down from a test pattern)."""
    width, height = size
    _run(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"),
            *("-i", f"testsrc2=s=64x64:r=25,trim=end_frame={frames}"),
            *("-vf", f"scale={width}:{height},format=yuv444p"),
            *("-c:v", "libx264", "-preset", "ultrafast", str(path)),
        ]
    )
    return path


def make_audio_only(path: Path, *, duration_s: float = 1.0) -> Path:
    _run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
          f"sine=frequency=440:duration={duration_s}", str(path)])  # fmt: skip
    return path


def make_truncated(source: Path, path: Path, *, keep_share: float = 0.5) -> Path:
    """A copy of ``source`` cut after ``keep_share`` of its bytes (use .mkv or .ts: an mp4
    keeps its index at the end and becomes unreadable as a whole)."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_share)])
    return path


def make_text_file(path: Path) -> Path:
    path.write_text("This is a screenplay, not a film.\n" * 20)
    return path


def make_empty_file(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def make_lossless_video(frames: Sequence[np.ndarray], path: Path, *, fps: int = 1) -> Path:
    """RGB uint8 frames as a lossless (FFV1) video at ``fps``, pixel for pixel; the PNGs it is
    made from are left beside it."""
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(path.parent / f"{path.stem}_{index:03d}.png")
    _run(
        ["ffmpeg", "-v", "error", "-y", "-framerate", str(fps),
         "-i", str(path.parent / f"{path.stem}_%03d.png"),
         "-c:v", "ffv1", "-pix_fmt", "bgr0", str(path)]
    )  # fmt: skip
    return path


def _source(segment: Segment, size: tuple[int, int], fps: float) -> str:
    width, height = size
    if segment.source == "color":
        chain = f"color=c={segment.color}:s={width}x{height}:r={fps}"
    else:
        chain = f"{segment.source}=s={width}x{height}:r={fps}"
    # trim by frame count: exact, unlike a duration in seconds.
    chain += f",trim=end_frame={segment.frames},setpts=PTS-STARTPTS,settb=1/{fps}"
    chain += ",format=yuv444p,setsar=1"
    if segment.noise:
        chain += f",noise=alls={segment.noise}:allf=t"
    if segment.extra:
        chain += f",{segment.extra}"
    if segment.fade_in_frames:
        chain += f",fade=t=in:s=0:n={segment.fade_in_frames}"
    if segment.fade_out_frames:
        start = segment.frames - segment.fade_out_frames
        chain += f",fade=t=out:s={start}:n={segment.fade_out_frames}"
    return chain


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {' '.join(command)}\n{result.stderr[-2000:]}")
