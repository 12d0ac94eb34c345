"""The analysis as an ELAN document, so scholars can check it beside their own tiers: one
tier of shots and one of the sampled frames' classes over time (runs of one class inside a
shot merged), each in the vocabulary of the method's "Image Type" tier (Live-Action,
Animation, Hybrid Image). The classes are the effective ones: annotations over the model.
"""

from __future__ import annotations

import mimetypes
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from app.analysis.schemas import FramePublic, ShotPublic
from app.annotations.elan import ELAN_VALUES
from app.core.domain import FrameClass

SHOT_TIER = "hybridlens shots"
FRAME_TIER = "hybridlens frames"


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def frame_runs(
    frames: Sequence[FramePublic], shots: Sequence[ShotPublic]
) -> list[tuple[int, int, FrameClass]]:
    """(start ms, end ms, class) of runs of sampled frames of one class within one shot;
    each frame stands for [time, time + weight), cut at the next frame and its shot's end."""
    ordered = sorted(frames, key=lambda f: f.time_s)
    shot_end = {shot.shot_index: shot.end_time for shot in shots}
    runs: list[tuple[int, int, FrameClass]] = []
    last_shot: int | None = None
    for position, frame in enumerate(ordered):
        end = frame.time_s + frame.weight_s
        if position + 1 < len(ordered):
            end = min(end, ordered[position + 1].time_s)
        if frame.shot_index in shot_end:
            end = min(end, shot_end[frame.shot_index])
        start_ms, end_ms = _ms(frame.time_s), _ms(end)
        if end_ms <= start_ms:
            continue
        if (
            runs
            and runs[-1][2] == frame.frame_class
            and runs[-1][1] == start_ms
            and last_shot == frame.shot_index
        ):
            runs[-1] = (runs[-1][0], end_ms, frame.frame_class)
        else:
            runs.append((start_ms, end_ms, frame.frame_class))
        last_shot = frame.shot_index
    return runs


def analysis_eaf(
    shots: Sequence[ShotPublic],
    frames: Sequence[FramePublic],
    *,
    media_url: str,
    media_name: str,
    created: datetime | None,
) -> str:
    """The EAF document (ELAN 2.8 format, read by ELAN and pympi-ling)."""
    from pympi.Elan import Eaf, to_adocument

    eaf = Eaf(author="hybridlens")
    eaf.adocument["DATE"] = (created or datetime(1970, 1, 1)).replace(microsecond=0).isoformat()
    eaf.remove_tier("default")
    eaf.header.update({"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    mime = mimetypes.guess_type(media_name)[0] or "video/mp4"
    # ELAN looks for the film beside the .eaf when the URL does not answer.
    eaf.add_linked_file(media_url, relpath=f"./{quote(media_name, safe='')}", mimetype=mime)
    eaf.add_tier(SHOT_TIER)
    for shot in shots:
        start_ms, end_ms = _ms(shot.start_time), _ms(shot.end_time)
        if shot.frame_class is not None and end_ms > start_ms:
            eaf.add_annotation(SHOT_TIER, start_ms, end_ms, ELAN_VALUES[shot.frame_class])
    eaf.add_tier(FRAME_TIER)
    for start_ms, end_ms, frame_class in frame_runs(frames, shots):
        eaf.add_annotation(FRAME_TIER, start_ms, end_ms, ELAN_VALUES[frame_class])
    # ELAN numbers the annotations it adds after this one.
    eaf.properties = [("lastUsedAnnotation", eaf.maxaid)]
    document = to_adocument(eaf, pretty=True)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(document, encoding="unicode")
