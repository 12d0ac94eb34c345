"""Frame numbers and seconds as people read them: SMPTE timecodes for edit lists and tables
(non-drop, or drop-frame at 29.97 and 59.94), ``HH:MM:SS.mmm`` timestamps for listings, and
the edit rate a film's timecodes count in."""

from __future__ import annotations

from fractions import Fraction

# Rates whose timecode may drop frame numbers to keep step with the clock.
DROP_FRAME_RATES = (Fraction(30000, 1001), Fraction(60000, 1001))


def nominal_rate(fps: float | Fraction | None) -> int:
    """The integer frame rate timecodes count in (29.97 counts as 30); 25 when the rate is
    unknown."""
    if fps is None or fps <= 0:
        return 25
    return max(1, round(fps))


def edit_rate(nominal: str | None, fps: float | None) -> Fraction:
    """The exact rate a film is edited at: its probed nominal rate ("24000/1001"), else its
    frame rate, else 25."""
    if nominal:
        try:
            rate = Fraction(nominal)
        except (ValueError, ZeroDivisionError):
            rate = Fraction(0)
        if rate > 0:
            return rate
    if fps and fps > 0:
        return Fraction(fps).limit_denominator(1001)
    return Fraction(25)


def is_drop_frame_rate(rate: float | Fraction) -> bool:
    return any(abs(float(rate) - float(drop)) < 0.005 for drop in DROP_FRAME_RATES)


def frame_at(seconds: float, rate: float | Fraction) -> int:
    """The frame number, at ``rate``, of the frame shown at ``seconds`` (its presentation
    time): what an editor's timeline counts, whatever frames a variable-rate file holds."""
    return max(0, round(seconds * float(rate)))


def smpte(frame_index: int, fps: float | Fraction | None, *, drop_frame: bool = False) -> str:
    """SMPTE timecode of a frame number counted at the nominal rate, as editing systems do:
    ``HH:MM:SS:FF``, or with ``drop_frame`` (29.97 and 59.94 only) ``HH:MM:SS;FF``, skipping
    the first 2 (4 at 59.94) frame numbers of every minute but each tenth. Hours wrap at 24
    as on a tape clock."""
    rate = nominal_rate(fps)
    frame = max(0, frame_index)
    if drop_frame:
        if fps is None or not is_drop_frame_rate(fps):
            raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, not {fps}")
        dropped = 2 * rate // 30
        per_ten_minutes = rate * 600 - dropped * 9
        per_minute = rate * 60 - dropped
        tens, rest = divmod(frame, per_ten_minutes)
        frame += dropped * 9 * tens
        if rest > dropped:
            frame += dropped * ((rest - dropped) // per_minute)
    seconds, frames = divmod(frame, rate)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    separator = ";" if drop_frame else ":"
    return f"{hours % 24:02d}:{minutes:02d}:{seconds:02d}{separator}{frames:02d}"


def timestamp(seconds: float) -> str:
    """A time in seconds as ``HH:MM:SS.mmm``."""
    milliseconds = round(seconds * 1000)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole_seconds, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole_seconds:02d}.{milliseconds:03d}"
