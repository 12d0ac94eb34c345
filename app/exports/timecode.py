"""SMPTE timecodes for edit lists: non-drop-frame at the film's nominal (rounded) rate."""

from __future__ import annotations


def nominal_rate(fps: float | None) -> int:
    """The integer frame rate timecodes count in (29.97 counts as 30, non-drop)."""
    if fps is None or fps <= 0:
        return 25
    return max(1, round(fps))


def timecode(frame: int, rate: int) -> str:
    """``HH:MM:SS:FF`` of a frame count at ``rate`` frames per second."""
    frame = max(0, frame)
    seconds, frames = divmod(frame, rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours % 24:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"
