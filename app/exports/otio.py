"""Shots as an OpenTimelineIO timeline (``.otio`` JSON), written without the library: one
video track, one clip per shot, each referring to the film by URL, with the shot's class
and hybrid ratio in the clip's metadata under ``hybridlens``, and a ``Transition`` between two
clips where a shot begins with a dissolve, fade or wipe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.analysis.schemas import ShotPublic


def _rational(value: float, rate: float) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": float(rate), "value": float(value)}


def _range(start: float, duration: float, rate: float) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "duration": _rational(duration, rate),
        "start_time": _rational(start, rate),
    }


def _item(schema: str, name: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": schema,
        "metadata": metadata or {},
        "name": name,
        "source_range": None,
        "effects": [],
        "markers": [],
        "enabled": True,
    }


def _transition(shot: ShotPublic, rate: float) -> dict[str, Any]:
    """The gradual transition into a shot; the shot starts in its middle, so it reaches half
    its length into each neighbour. OTIO names only the dissolve; fades and wipes are custom
    with their kind in the metadata."""
    before = shot.transition_frames // 2
    return {
        "OTIO_SCHEMA": "Transition.1",
        "metadata": {"hybridlens": {"kind": shot.transition, "frames": shot.transition_frames}},
        "name": f"{shot.transition} into shot {shot.shot_index}",
        "transition_type": "SMPTE_Dissolve"
        if shot.transition == "dissolve"
        else "Custom_Transition",
        "in_offset": _rational(before, rate),
        "out_offset": _rational(shot.transition_frames - before, rate),
    }


def shots_timeline(
    shots: Sequence[ShotPublic],
    *,
    name: str,
    fps: float | None,
    media_url: str,
    frame_count: int | None = None,
) -> dict[str, Any]:
    """The timeline as a JSON-ready dict (serialise with ``json.dumps``)."""
    rate = float(fps) if fps and fps > 0 else 25.0
    available = (
        _range(0, frame_count, rate)
        if frame_count
        else (_range(0, shots[-1].end_frame + 1, rate) if shots else None)
    )
    clips: list[dict[str, Any]] = []
    for shot in shots:
        if clips and shot.transition not in (None, "cut") and shot.transition_frames > 0:
            clips.append(_transition(shot, rate))
        clip = _item(
            "Clip.2",
            f"shot {shot.shot_index}",
            {
                "hybridlens": {
                    "shot_index": shot.shot_index,
                    "class": shot.frame_class.value if shot.frame_class else None,
                    "hybrid_ratio": shot.hybrid_ratio,
                    "mean_p_fraction": shot.mean_p_fraction,
                    "start_time_s": shot.start_time,
                    "end_time_s": shot.end_time,
                    "transition": shot.transition,
                }
            },
        )
        clip["source_range"] = _range(shot.start_frame, shot.end_frame - shot.start_frame + 1, rate)
        clip["media_references"] = {
            "DEFAULT_MEDIA": {
                "OTIO_SCHEMA": "ExternalReference.1",
                "metadata": {},
                "name": name,
                "available_range": available,
                "available_image_bounds": None,
                "target_url": media_url,
            }
        }
        clip["active_media_reference_key"] = "DEFAULT_MEDIA"
        clips.append(clip)
    track = _item("Track.1", "V1")
    track["kind"] = "Video"
    track["children"] = clips
    stack = _item("Stack.1", "tracks")
    stack["children"] = [track]
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "metadata": {"hybridlens": {"source": media_url}},
        "name": name,
        "global_start_time": None,
        "tracks": stack,
    }
