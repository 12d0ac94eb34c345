"""Small SQL helpers that need different spellings on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, UnaryExpression
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent writers of the same key never raise.

    Used where two uploads of one file, or two workers starting the same analysis, may race.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
        session.execute(pg_stmt, list(rows))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=conflict_columns)
        session.execute(lite_stmt, list(rows))
    else:  # pragma: no cover - only the two backends are supported
        raise NotImplementedError(f"no conflict-ignoring insert for {dialect}")


def nulls_last(column: ColumnElement[Any], descending: bool) -> UnaryExpression[Any]:
    """Order by ``column`` with NULLs last in both directions (PostgreSQL and SQLite >= 3.30)."""
    return (column.desc() if descending else column.asc()).nulls_last()
