"""Frame numbers and seconds as people read them: SMPTE timecodes for edit lists and tables,
``HH:MM:SS.mmm`` timestamps for listings."""

from __future__ import annotations


def nominal_rate(fps: float | None) -> int:
    """The integer frame rate timecodes count in (29.97 counts as 30, non-drop); 25 when the
    rate is unknown."""
    if fps is None or fps <= 0:
        return 25
    return max(1, round(fps))


def smpte(frame_index: int, fps: float | None) -> str:
    """Non-drop-frame SMPTE timecode ``HH:MM:SS:FF`` of a frame number, counted at the nominal
    rate as editing systems do; hours wrap at 24 as on a tape clock."""
    rate = nominal_rate(fps)
    seconds, frames = divmod(max(0, frame_index), rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours % 24:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def timestamp(seconds: float) -> str:
    """A time in seconds as ``HH:MM:SS.mmm``."""
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole_seconds, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole_seconds:02d}.{milliseconds:03d}"
