"""Shots as a CMX3600 edit decision list: one event per shot, the film as the source (reel
``AX``, the usual name for a file source), laid end to end on the record side. A shot that
begins with a dissolve or a fade is a dissolve event (``D nnn``, nnn its length in frames), one
that begins with a wipe a wipe event (``W001 nnn``): a zero-length line for the outgoing side,
then the incoming shot."""

from __future__ import annotations

from collections.abc import Sequence

from app.analysis.schemas import ShotPublic
from app.pipeline.timecode import smpte

REEL = "AX"


def _clean(text: str) -> str:
    # One event field per line: no line breaks or control characters inside a comment.
    return "".join(char if char.isprintable() else " " for char in text).strip()


def shots_edl(shots: Sequence[ShotPublic], *, title: str, fps: float | None, clip_name: str) -> str:
    lines = [f"TITLE: {_clean(title)[:70] or 'hybridlens'}", "FCM: NON-DROP FRAME", ""]
    record = 0
    for number, shot in enumerate(shots, start=1):
        source_in = shot.start_frame
        source_out = shot.end_frame + 1  # EDL out points are exclusive
        length = source_out - source_in
        effect = _effect(shot)
        if effect is not None:
            # The outgoing side: the same film, up to where this shot starts.
            lines.append(
                f"{number:03d}  {REEL:<8} {'V':<5} {'C':<8} "
                f"{smpte(source_in, fps)} {smpte(source_in, fps)} "
                f"{smpte(record, fps)} {smpte(record, fps)}"
            )
        lines.append(
            f"{number:03d}  {REEL:<8} {'V':<5} {effect or 'C':<8} "
            f"{smpte(source_in, fps)} {smpte(source_out, fps)} "
            f"{smpte(record, fps)} {smpte(record + length, fps)}"
        )
        if effect is not None:
            lines.append(f"* HYBRIDLENS TRANSITION: {shot.transition}")
        lines.append(f"* FROM CLIP NAME: {_clean(clip_name)}")
        shot_class = shot.frame_class.value if shot.frame_class else "unclassified"
        lines.append(
            f"* HYBRIDLENS SHOT {shot.shot_index}: CLASS {shot_class}, "
            f"HYBRID RATIO {shot.hybrid_ratio:.3f}"
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
