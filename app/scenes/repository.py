"""Every query on stored scenes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import Scene


def insert_scenes(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Scene), rows)


def list_scenes(session: Session, analysis_id: int) -> list[Scene]:
    return list(
        session.scalars(
            select(Scene).where(Scene.analysis_id == analysis_id).order_by(Scene.scene_index)
        ).all()
    )
