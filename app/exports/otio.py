"""Shots as an OpenTimelineIO timeline (``.otio`` JSON), written without the library: one
video track, one clip per shot, each referring to the film by URL, with the shot's class
and hybrid ratio in the clip's metadata under ``hybridlens``, and a ``Transition`` between two
clips where a shot begins with a dissolve, fade or wipe.

The timeline runs at the film's nominal (edit) rate, as a float OpenTimelineIO accepts as a
timecode rate (23.976..., not a variable-frame-rate file's average of 16.05), and each clip's
range comes from its shot's presentation times, so ``to_timecode()`` lands on the cut a
player shows."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from app.analysis.schemas import ShotPublic
from app.pipeline.timecode import frame_at
from app.scenes.schemas import ScenePublic


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
        "name": f"{shot.transition} into shot {shot.number}",
        "transition_type": "SMPTE_Dissolve"
        if shot.transition == "dissolve"
        else "Custom_Transition",
        "in_offset": _rational(before, rate),
        "out_offset": _rational(shot.transition_frames - before, rate),
    }


def _scene_marker(scene: ScenePublic, rate: float) -> dict[str, Any]:
    start = frame_at(scene.start_time_s, rate)
    end = max(start + 1, frame_at(scene.end_time_s, rate))
    return {
        "OTIO_SCHEMA": "Marker.2",
        "metadata": {
            "hybridlens": {
                "scene_number": scene.index + 1,
                "shot_numbers": [shot + 1 for shot in scene.shot_indices],
                "start_time_s": scene.start_time_s,
                "end_time_s": scene.end_time_s,
            }
        },
        "name": f"scene {scene.index + 1}",
        "color": "PURPLE",
        "marked_range": _range(start, end - start, rate),
        "comment": "",
    }


def shots_timeline(
    shots: Sequence[ShotPublic],
    *,
    name: str,
    fps: float | Fraction | None,
    media_url: str,
    duration_s: float | None = None,
    drop_frame: bool = False,
    analysis: dict[str, Any] | None = None,
    scenes: Sequence[ScenePublic] = (),
) -> dict[str, Any]:
    """The timeline at edit rate ``fps`` (the film's nominal rate) as a JSON-ready dict
    (serialise with ``json.dumps``); ``drop_frame`` is recorded for timecode displays, and
    ``analysis`` (its status and note: why it is partial) in the timeline's metadata.
    ``scenes`` become markers on the track, one spanning each scene."""
    rate = float(fps) if fps and fps > 0 else 25.0
    end_s = duration_s or (shots[-1].end_time if shots else 0.0)
    available = _range(0, frame_at(end_s, rate), rate) if end_s else None
    clips: list[dict[str, Any]] = []
    for shot in shots:
        if clips and shot.transition not in (None, "cut") and shot.transition_frames > 0:
            clips.append(_transition(shot, rate))
        clip = _item(
            "Clip.2",
            f"shot {shot.number}",
            {
                "hybridlens": {
                    "shot_number": shot.number,
                    "class": shot.frame_class.value if shot.frame_class else None,
                    "hybrid_ratio": shot.hybrid_ratio,
                    "mean_p_fraction": shot.mean_p_fraction,
                    "start_time_s": shot.start_time,
                    "end_time_s": shot.end_time,
                    "transition": shot.transition,
                }
            },
        )
        start = frame_at(shot.start_time, rate)
        end = max(start + 1, frame_at(shot.end_time, rate))  # exclusive: the next shot's start
        clip["source_range"] = _range(start, end - start, rate)
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
    track["markers"] = [_scene_marker(scene, rate) for scene in scenes]
    stack = _item("Stack.1", "tracks")
    stack["children"] = [track]
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "metadata": {
            "hybridlens": {
                "source": media_url,
                "rate": rate,
                "drop_frame": drop_frame,
                **({"analysis": analysis} if analysis else {}),
            }
        },
        "name": name,
        "global_start_time": None,
        "tracks": stack,
    }
