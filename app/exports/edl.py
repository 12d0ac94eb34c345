"""Shots as a CMX3600 edit decision list: one event per shot, the film as the source (reel
``AX``, the usual name for a file source), laid end to end on the record side. A shot that
begins with a dissolve or a fade is a dissolve event (``D nnn``, nnn its length in frames), one
that begins with a wipe a wipe event (``W001 nnn``): a zero-length line for the outgoing side,
then the incoming shot.

Timecodes count at the film's nominal (edit) rate and come from the shots' presentation
times, not from how many frames the file holds: a variable-frame-rate film's cuts land where
a player shows them. With ``drop_frame`` (29.97 and 59.94 only) they are drop-frame."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import partial

from app.analysis.schemas import ShotPublic
from app.pipeline.timecode import frame_at, smpte

REEL = "AX"


def _clean(text: str) -> str:
    # One event field per line: no line breaks or control characters inside a comment.
    return "".join(char if char.isprintable() else " " for char in text).strip()


def shots_edl(
    shots: Sequence[ShotPublic],
    *,
    title: str,
    fps: float | Fraction | None,
    clip_name: str,
    drop_frame: bool = False,
    note: str | None = None,
) -> str:
    """The EDL of ``shots`` at edit rate ``fps`` (the film's nominal rate); ``note`` (that the
    analysis is partial, and why) becomes a comment above the events."""
    rate = fps if fps and fps > 0 else 25
    tc = partial(smpte, fps=rate, drop_frame=drop_frame)
    mode = "DROP FRAME" if drop_frame else "NON-DROP FRAME"
    lines = [f"TITLE: {_clean(title)[:70] or 'hybridlens'}", f"FCM: {mode}"]
    if note:
        lines.append(f"* HYBRIDLENS ANALYSIS: {_clean(note)}")
    lines.append("")
    record = 0
    for shot in shots:
        number = shot.number
        source_in = frame_at(shot.start_time, rate)
        # EDL out points are exclusive: the next shot's first frame.
        source_out = max(source_in + 1, frame_at(shot.end_time, rate))
        length = source_out - source_in
        effect = _effect(shot)
        if effect is not None:
            # The outgoing side: the same film, up to where this shot starts.
            lines.append(
                f"{number:03d}  {REEL:<8} {'V':<5} {'C':<8} "
                f"{tc(source_in)} {tc(source_in)} {tc(record)} {tc(record)}"
            )
        lines.append(
            f"{number:03d}  {REEL:<8} {'V':<5} {effect or 'C':<8} "
            f"{tc(source_in)} {tc(source_out)} {tc(record)} {tc(record + length)}"
        )
        if effect is not None:
            lines.append(f"* HYBRIDLENS TRANSITION: {shot.transition}")
        lines.append(f"* FROM CLIP NAME: {_clean(clip_name)}")
        shot_class = shot.frame_class.value if shot.frame_class else "unclassified"
        lines.append(
            f"* HYBRIDLENS SHOT {number}: CLASS {shot_class}, HYBRID RATIO {shot.hybrid_ratio:.3f}"
        )
        lines.append("")
        record += length
    return "\n".join(lines)


def _effect(shot: ShotPublic) -> str | None:
    """The transition field of a gradual transition into the shot, None for a cut."""
    if shot.transition in (None, "cut") or shot.transition_frames <= 0:
        return None
    frames = min(shot.transition_frames, 999)  # three digits in CMX 3600
    code = "W001" if shot.transition == "wipe" else "D"
    return f"{code:<4} {frames:03d}"
