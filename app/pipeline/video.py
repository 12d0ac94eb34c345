"""Video access for the pipeline: probe a film, then decode it once, streaming, at the working
resolution, with the frame number and the presentation time of every frame.

Usage::

    info = probe(path)                      # VideoInfo, or VideoOpenFailure saying why not
    try:
        for frame in decode(path, info, working_size=320):
            ...                             # frame.index, frame.pts_s, frame.image (HxWx3 RGB)
    except DecodeError as damage:           # every frame before it was already yielded
        ...                                 # damage.last_frame_index, damage.last_pts_s, .cause

``decode`` runs one ffmpeg process that writes raw RGB frames to a pipe; it reads exactly one
frame at a time, so memory does not grow with the length of the film. Presentation times come
from ffmpeg's ``showinfo`` filter on stderr (read by a thread), which is exact for variable
frame rate films too. Closing the generator early kills ffmpeg.

``extract_frame`` is the other way in: one picture at full (bounded) size at a given time,
for overlays and pages, by one seek in its own short ffmpeg run.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import itertools
import os
import queue
import re
import shutil
import subprocess
import threading
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from statistics import median
from typing import IO, Any

import ffmpeg
import numpy as np
from PIL import Image

from app.pipeline.errors import DecodeError, FrameExtractionFailed, VideoOpenFailure

# Anything larger than a 16K square is not a film we can analyse (or a corrupt header).
MAX_PIXELS = 16384 * 16384
# Packets read by probe to judge whether the frame rate is variable (demux only, no decoding).
VFR_PROBE_PACKETS = 240
# Frame-to-frame spacing that varies more than this (relative to the median) means VFR;
# millisecond time bases alone make 29.97 fps spacing vary by ~3%.
VFR_SPACING_TOLERANCE = 0.1
VFR_TAIL_PACKETS_IGNORED = 4
# Rates a film may be edited at; a stream or time-base rate outside them is a clock, not a rate.
MIN_NOMINAL_RATE = Fraction(1)
MAX_NOMINAL_RATE = Fraction(120)
STANDARD_RATES = tuple(
    Fraction(rate)
    for rate in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50", "60000/1001", "60")
)
# Image formats ffprobe opens as one-frame "videos"; a still picture is not a film.
STILL_IMAGE_FORMATS = ("image2", "_pipe", "gif")
# ffmpeg's tty demuxer renders any text file (a .txt, a script) as ANSI art "video".
TEXT_FORMATS = ("tty",)
# ffmpeg stderr lines kept for error messages (the rest is discarded as it streams by).
STDERR_TAIL_LINES = 20
# How far ffmpeg may decode ahead of us, in pipe bytes (largest first; 1 MiB is Linux's limit
# for unprivileged processes): ~20 or ~6 frames at 320x180 instead of a 64 KiB pipe, less than
# one frame. While the analysing process is busy elsewhere (the models importing on another
# thread hold the GIL for long stretches, the shot detector's slower frames), ffmpeg keeps
# decoding on the other core instead of blocking on a full pipe.
PIPE_SIZES = (4 << 20, 1 << 20)
# A decode that ends this far short of the container's duration counts as truncated.
SHORTFALL_TOLERANCE_S = 1.0
SHORTFALL_TOLERANCE_SHARE = 0.02


@dataclass(frozen=True)
class VideoInfo:
    """What ffprobe says about a film's first video stream (and whether it has audio)."""

    path: str
    container: str  # ffprobe format_name, e.g. "matroska,webm" or "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str
    width: int  # coded picture size, before sample aspect ratio and rotation
    height: int
    sample_aspect_ratio: Fraction  # pixel shape; 1 for square pixels
    rotation: int  # degrees (0, 90, 180, 270) that players (and ffmpeg) apply
    fps: float  # average frame rate, or the nominal one when the container has no average
    # The rate the film is edited and timecoded at ("24000/1001"): the stream's r_frame_rate,
    # else its time base, when sane; differs from ``fps`` for variable-frame-rate films.
    nominal_rate: str
    variable_frame_rate: bool
    duration_s: float
    frame_count: int
    frame_count_estimated: bool  # True when the container does not record a frame count
    interlaced: bool
    has_audio: bool
    size_bytes: int

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as a player shows the picture: square pixels, rotation applied."""
        width = max(1, round(self.width * float(self.sample_aspect_ratio)))
        height = self.height
        if self.rotation in (90, 270):
            width, height = height, width
        return width, height


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame at working resolution."""

    index: int  # frame number from 0, in presentation order
    pts_s: float  # presentation time in seconds, as a player shows it
    image: np.ndarray  # (H, W, 3) uint8 RGB


# Films probed by this process, by file identity (device, inode, size, modification time):
# ``hybridlens analyze`` registers a film and its ``prepare`` stage then probes it again, a
# few tenths of a second of ffprobe each time. A file that changed is probed afresh.
PROBE_CACHE_FILES = 16
_probed: OrderedDict[tuple[int, int, int, int], VideoInfo] = OrderedDict()
_probed_lock = threading.Lock()


def probe(path: str | Path) -> VideoInfo:
    """Describe a film, or raise ``VideoOpenFailure`` saying why it is not a decodable video."""
    path = Path(path)
    if not path.is_file():
        raise VideoOpenFailure(path, "no such file")
    stat = path.stat()
    if stat.st_size == 0:
        raise VideoOpenFailure(path, "the file is empty (0 bytes)")
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _probed_lock:
        known = _probed.get(key)
    if known is not None:
        return known if known.path == str(path) else replace(known, path=str(path))
    info = _probe(path, stat.st_size)
    with _probed_lock:
        _probed[key] = info
        while len(_probed) > PROBE_CACHE_FILES:
            _probed.popitem(last=False)
    return info


def _probe(path: Path, size_bytes: int) -> VideoInfo:
    try:
        probed = ffmpeg.probe(
            _ffmpeg_url(path),
            v="error",
            show_entries="packet=stream_index,pts_time",
            read_intervals=f"%+#{VFR_PROBE_PACKETS}",
        )
    except ffmpeg.Error as exc:
        message = _last_lines(exc.stderr, 3) or "ffprobe could not read it"
        raise VideoOpenFailure(path, f"not a readable media file ({message})") from exc

    fmt: dict[str, Any] = probed.get("format", {})
    streams: list[dict[str, Any]] = probed.get("streams", [])
    container = str(fmt.get("format_name", "unknown"))
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    has_audio = any(s.get("codec_type") == "audio" for s in streams)
    if not videos:
        what = "audio only" if has_audio else "no video stream"
        raise VideoOpenFailure(path, f"not a video: {what} (format {container})")
    if any(container.startswith(f) or container.endswith(f) for f in STILL_IMAGE_FORMATS):
        raise VideoOpenFailure(path, f"a still image, not a video (format {container})")
    if container in TEXT_FORMATS:
        raise VideoOpenFailure(path, f"a text file, not a video (format {container})")
    video = videos[0]

    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise VideoOpenFailure(path, f"the video stream has no picture size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise VideoOpenFailure(path, f"absurd picture size {width}x{height}")

    avg_rate = _rate(video.get("avg_frame_rate"))
    nominal_rate = _rate(video.get("r_frame_rate"))
    fps_fraction = avg_rate or nominal_rate
    if fps_fraction is None:
        raise VideoOpenFailure(path, "the video stream has no frame rate")
    fps = float(fps_fraction)
    nominal = nominal_frame_rate(nominal_rate, _rate(_inverse(video.get("time_base"))), avg_rate)

    duration_s = _video_duration(video) or _float(fmt.get("duration")) or 0.0
    frame_count, estimated = _frame_count(video, duration_s, fps)
    if frame_count <= 0:
        raise VideoOpenFailure(path, "the video stream has no frames")

    video_index = video.get("index")
    packet_times = [
        t
        for p in probed.get("packets", [])
        if p.get("stream_index") == video_index and (t := _float(p.get("pts_time"))) is not None
    ]
    return VideoInfo(
        path=str(path),
        container=container,
        codec=str(video.get("codec_name", "unknown")),
        width=width,
        height=height,
        sample_aspect_ratio=_sample_aspect_ratio(video.get("sample_aspect_ratio")),
        rotation=_rotation(video),
        fps=fps,
        nominal_rate=f"{nominal.numerator}/{nominal.denominator}",
        variable_frame_rate=_is_variable_rate(packet_times, avg_rate, nominal_rate),
        duration_s=duration_s,
        frame_count=frame_count,
        frame_count_estimated=estimated,
        interlaced=str(video.get("field_order", "progressive")) not in ("progressive", "unknown"),
        has_audio=has_audio,
        size_bytes=size_bytes,
    )


def working_dimensions(info: VideoInfo, working_size: int) -> tuple[int, int]:
    """(width, height) of decoded frames: display aspect kept, longer side at most
    ``working_size``, never enlarged, both even (what most filters and codecs expect)."""
    display_width, display_height = info.display_size
    scale = min(1.0, working_size / max(display_width, display_height))
    # Round down to even (the epsilon keeps 320.0 from flooring to 318 through float error).
    width = max(2, int(display_width * scale + 1e-6) // 2 * 2)
    height = max(2, int(display_height * scale + 1e-6) // 2 * 2)
    return width, height


def decode(path: str | Path, info: VideoInfo, working_size: int) -> Iterator[DecodedFrame]:
    """Yield every frame of the film once, in order, at the working resolution.

    Raises ``DecodeError`` after the last good frame when the film is damaged (ffmpeg failed,
    reported an error after the first frame, or stopped well short of the probed duration),
    and ``VideoOpenFailure`` when not a single frame could be decoded.
    """
    width, height = working_dimensions(info, working_size)
    frame_bytes = width * height * 3
    filters = []
    if info.interlaced:
        # Combing would read as texture to the shot detector and the classifier.
        filters.append("yadif=mode=send_frame:deint=interlaced")
    # Scale and convert in one swscale pass; showinfo then logs each frame's pts to stderr
    # (without its per-plane checksums and statistics: the pts is all we read).
    filters += [
        f"scale={width}:{height}:flags=area",
        "setsar=1",
        "format=rgb24",
        "showinfo=checksum=0",
    ]
    command = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-nostats",
        # level+info prefixes every line with its level so errors can be told from chatter.
        "-loglevel",
        "level+info",
        "-i",
        _ffmpeg_url(Path(path)),
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-vf",
        ",".join(filters),
        # One output frame per decoded frame: no duplicates or drops for VFR films.
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    _widen_pipe(process.stdout)
    log = _StderrReader(process.stderr)
    frames_decoded = 0
    last_pts_s: float | None = None
    try:
        while True:
            buffer = bytearray(frame_bytes)
            if _read_exactly(process.stdout, buffer) < frame_bytes:
                break  # end of stream; a partial frame at the end is damage, judged below
            pts_s = log.next_pts()
            if pts_s is None:  # showinfo said nothing usable: fall back to the nominal rate
                previous = -1 / info.fps if last_pts_s is None else last_pts_s
                pts_s = previous + 1 / info.fps
            image = np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
            yield DecodedFrame(index=frames_decoded, pts_s=pts_s, image=image)
            frames_decoded += 1
            last_pts_s = pts_s
        return_code = process.wait()
        log.join()
        problem = _decode_problem(info, return_code, log, frames_decoded, last_pts_s)
        if frames_decoded == 0:
            raise VideoOpenFailure(path, f"no frame could be decoded: {problem or 'no frames'}")
        if problem is not None:
            raise DecodeError(path, problem, frames_decoded=frames_decoded, last_pts_s=last_pts_s)
    finally:
        # Also reached when the consumer stops early (generator close): never leave ffmpeg
        # blocked on a full pipe.
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        log.join()
        process.stderr.close()


def extract_frame(path: Path, time_s: float, *, max_size: int, timeout_s: float) -> Image.Image:
    """The picture shown at ``time_s``, square pixels, longer side at most ``max_size``."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FrameExtractionFailed("ffmpeg is not installed")
    scale = (
        f"scale=w='min({max_size},iw*sar)':h='min({max_size},ih)':"
        "force_original_aspect_ratio=decrease,setsar=1"
    )
    command = [
        ffmpeg,
        "-nostdin",
        "-v",
        "error",
        # Input seeking: fast (from the nearest keyframe) and exact, ffmpeg decodes up to it.
        "-ss",
        f"{max(time_s, 0.0):.6f}",
        "-i",
        _ffmpeg_url(path),
        "-frames:v",
        "1",
        "-vf",
        scale,
        "-f",
        "image2pipe",
        "-vcodec",
        "png",
        "-",
    ]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise FrameExtractionFailed(f"ffmpeg took longer than {timeout_s:g} s") from exc
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FrameExtractionFailed(reason[-1] if reason else "no frame at that time")
    with Image.open(io.BytesIO(done.stdout)) as image:
        return image.convert("RGB")


# ----------------------------------------------------------------------------------------------
# Helpers


_SHOWINFO_PTS = re.compile(r"\bn:\s*\d+\s+pts:\s*\S+\s+pts_time:(\S+)")
_END_OF_LOG = object()
_ADDRESS = re.compile(r" @ 0x[0-9a-f]+")
_LEVEL = re.compile(r"\[(panic|fatal|error|warning|info|verbose|debug|trace)\]")


class _StderrReader:
    """Drains ffmpeg's stderr in a thread: frame times go to a queue, a few other lines are
    kept for error messages, nothing else is stored (so stderr stays bounded)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        # Items: a frame's time, None for a frame without one, or _END_OF_LOG.
        self._pts: queue.Queue[float | object | None] = queue.Queue()
        self._frames_logged = 0
        self._finished = False
        self.tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        # Errors logged once frames were flowing mean damage; before that they are usually
        # start-of-stream noise (e.g. a transport stream joined mid-GOP).
        self.errors_after_first_frame: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._thread = threading.Thread(target=self._run, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for raw in iter(self._stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                match = _SHOWINFO_PTS.search(line)
                if match and "showinfo" in line:
                    self._frames_logged += 1
                    self._pts.put(_float(match.group(1)))
                    continue
                if "showinfo" in line:
                    continue  # showinfo's side-data lines
                self.tail.append(line)
                level = _LEVEL.search(line)
                is_error = bool(level and level.group(1) in ("panic", "fatal", "error"))
                if is_error and self._frames_logged > 0:
                    self.errors_after_first_frame.append(line)
        except (OSError, ValueError):
            pass  # the stream was closed under us after the process was killed
        finally:
            self._pts.put(_END_OF_LOG)  # wakes a consumer waiting for a time that never comes

    def next_pts(self) -> float | None:
        """The next frame's time; None when ffmpeg logged none (or stopped logging)."""
        if self._finished:
            return None
        pts = self._pts.get()
        if pts is _END_OF_LOG:
            self._finished = True
            return None
        assert pts is None or isinstance(pts, float)
        return pts

    def join(self) -> None:
        self._thread.join(timeout=5.0)

    def last_words(self, count: int = 3) -> str:
        lines = [_clean(line) for line in self.tail if line.strip()]
        # Prefer error lines; ffmpeg ends with a summary that says nothing about why.
        errors = [
            _clean(line)
            for line in self.tail
            if (m := _LEVEL.search(line)) and m.group(1) in ("panic", "fatal", "error")
        ]
        chosen = errors[-count:] if errors else lines[-count:]
        return " | ".join(chosen)


def _decode_problem(
    info: VideoInfo,
    return_code: int,
    log: _StderrReader,
    frames_decoded: int,
    last_pts_s: float | None,
) -> str | None:
    """Why a finished decode counts as damaged, or None when it is whole."""
    if return_code != 0:
        return f"ffmpeg exited with code {return_code}: {log.last_words() or 'no message'}"
    if log.errors_after_first_frame:
        return " | ".join(_clean(line) for line in list(log.errors_after_first_frame)[-3:])
    if last_pts_s is not None and info.duration_s > 0:
        decoded_until = last_pts_s + 1 / info.fps
        tolerance = max(SHORTFALL_TOLERANCE_S, SHORTFALL_TOLERANCE_SHARE * info.duration_s)
        if decoded_until < info.duration_s - tolerance:
            return (
                f"the stream ended at {decoded_until:.2f}s of {info.duration_s:.2f}s "
                "(truncated file?)"
            )
    return None


def _clean(line: str) -> str:
    """An ffmpeg log line without its level tag and the context's memory address."""
    return " ".join(_ADDRESS.sub("", _LEVEL.sub("", line)).split())


def _widen_pipe(stream: IO[bytes]) -> None:
    """Enlarge a pipe's buffer to the first of ``PIPE_SIZES`` allowed (Linux only; elsewhere,
    or when none is allowed, it stays as it was)."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    for size in PIPE_SIZES:
        try:
            fcntl.fcntl(stream.fileno(), set_size, size)
            return
        except OSError:
            continue


def _read_exactly(stream: IO[bytes], buffer: bytearray) -> int:
    """Fill ``buffer`` from a pipe; returns the byte count (short only at end of stream)."""
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        count = stream.readinto(view[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    return filled


def _ffmpeg_url(path: Path) -> str:
    # The file: protocol stops names with a colon or a leading dash being read as options.
    return "file:" + os.fspath(path.resolve())


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _rate(value: Any) -> Fraction | None:
    """A positive frame rate from ffprobe's "num/den", else None ("0/0" means unknown)."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate > 0 else None


def _inverse(value: Any) -> str | None:
    """ "1/24" -> "24/1" (a time base as a rate)."""
    numerator, _, denominator = str(value or "").partition("/")
    return f"{denominator}/{numerator}" if numerator and denominator else None


def nominal_frame_rate(
    stream_rate: Fraction | None, time_base_rate: Fraction | None, average: Fraction | None
) -> Fraction:
    """The rate a film's timecodes count in: the stream's own rate (``r_frame_rate``), else
    the rate its time base implies, each only when sane (a rate, not a 1/1000 or 1/90000
    clock); else the average. Within 0.1 % of a standard rate it is that rate exactly."""
    for candidate in (stream_rate, time_base_rate, average):
        if candidate is not None and MIN_NOMINAL_RATE <= candidate <= MAX_NOMINAL_RATE:
            for standard in STANDARD_RATES:
                if abs(candidate - standard) <= standard / 1000:
                    return standard
            return candidate
    return average or stream_rate or Fraction(25)


def _sample_aspect_ratio(value: Any) -> Fraction:
    try:
        numerator, denominator = (int(part) for part in str(value).split(":"))
    except ValueError:
        return Fraction(1)
    return Fraction(numerator, denominator) if numerator > 0 and denominator > 0 else Fraction(1)


def _rotation(video: dict[str, Any]) -> int:
    degrees: float | None = None
    for side_data in video.get("side_data_list", []) or []:
        if "rotation" in side_data:
            degrees = _float(side_data["rotation"])
    if degrees is None:
        degrees = _float(video.get("tags", {}).get("rotate"))
    return round(degrees or 0) % 360


def _video_duration(video: dict[str, Any]) -> float | None:
    duration = _float(video.get("duration"))
    if duration:
        return duration
    # Matroska keeps per-stream durations as a tag, "HH:MM:SS.nnnnnnnnn".
    tag = video.get("tags", {}).get("DURATION")
    if isinstance(tag, str):
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def _frame_count(video: dict[str, Any], duration_s: float, fps: float) -> tuple[int, bool]:
    """(frame count, estimated?): the container's own count when it records one."""
    for value in (video.get("nb_frames"), video.get("tags", {}).get("NUMBER_OF_FRAMES")):
        with contextlib.suppress(ValueError):
            return int(str(value)), False
    return round(duration_s * fps), True


def _is_variable_rate(
    packet_times: list[float], avg_rate: Fraction | None, nominal_rate: Fraction | None
) -> bool:
    """Judge from real packet spacing when there is enough of it, else from the two rates."""
    times = sorted(set(packet_times))
    # The probe window (or a truncated file) ends mid-GOP: in decode order the last packets'
    # times leave gaps where reordered frames were not read. Judge without them.
    times = times[:-VFR_TAIL_PACKETS_IGNORED]
    if len(times) >= 8:
        spacing = [later - earlier for earlier, later in itertools.pairwise(times)]
        typical = median(spacing)
        return typical > 0 and (max(spacing) - min(spacing)) > VFR_SPACING_TOLERANCE * typical
    if avg_rate and nominal_rate:
        return abs(float(avg_rate) - float(nominal_rate)) > 0.01 * float(nominal_rate)
    return False


def _last_lines(stderr: bytes | None, count: int) -> str:
    text = (stderr or b"").decode("utf-8", errors="replace").strip().splitlines()
    return " | ".join(line.strip() for line in text[-count:] if line.strip())
