"""Enum column types, declared once so models and migrations agree on names and lengths."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum

from app.core.domain import FrameClass, RunStatus


def _values(enum_cls: type[StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]


def run_status_type() -> Enum:
    # A VARCHAR plus CHECK rather than a native PostgreSQL enum: adding a status later is
    # then a constraint change, not an ALTER TYPE that cannot run inside a transaction.
    return Enum(
        RunStatus,
        name="run_status",
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=_values,
        validate_strings=True,
    )


def frame_class_type() -> Enum:
    return Enum(
        FrameClass,
        name="frame_class",
        native_enum=False,
        create_constraint=True,
        length=8,
        values_callable=_values,
        validate_strings=True,
    )
