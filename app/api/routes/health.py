"""Liveness for load balancers and compose healthchecks; needs no token."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from fastapi import APIRouter, Response, status
from sqlalchemy import text

from app.api.deps import SettingsDep
from app.api.schemas import Health
from app.core.db import get_engine

router = APIRouter(tags=["health"])


def _version() -> str:
    try:
        return version("hybridlens")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


@router.get("/health", response_model=Health)
def health(settings: SettingsDep, response: Response) -> Health:
    database: Literal["ok", "unreachable"]
    try:
        with get_engine(settings.sqlalchemy_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "unreachable"
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if database == "ok" else "degraded",
        database=database,
        task_mode=settings.task_mode,
        version=_version(),
    )
