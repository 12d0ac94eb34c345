"""Scenes: stored by the ``finish`` stage with the rest of an analysis's results, listed for
the API, the CLI, the exports and the page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.analysis import repository as analysis_repository
from app.analysis.service import AnalysisNotFound
from app.scenes import repository
from app.scenes.schemas import ScenePublic


def save_scenes(
    session: Session, analysis_id: int, scenes: Iterable[Mapping[str, Any]], method: str
) -> int:
    """Store scenes (mappings with index, frames, times and shot_indices)."""
    rows = [
        {
            "analysis_id": analysis_id,
            "scene_index": int(scene["index"]),
            "start_frame": int(scene["start_frame"]),
            "end_frame": int(scene["end_frame"]),
            "start_time": float(scene["start_time"]),
            "end_time": float(scene["end_time"]),
            "shot_indices": [int(shot) for shot in scene["shot_indices"]],
            "method": method,
        }
        for scene in scenes
    ]
    repository.insert_scenes(session, rows)
    return len(rows)


def list_scenes(session: Session, analysis_id: int) -> list[ScenePublic]:
    if analysis_repository.status_of(session, analysis_id) is None:
        raise AnalysisNotFound(analysis_id)
    return [ScenePublic.model_validate(row) for row in repository.list_scenes(session, analysis_id)]
