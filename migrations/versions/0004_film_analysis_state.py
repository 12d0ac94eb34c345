"""Films cache the state of the analysis behind their figures: its status (done or partial)
and its note (why it is partial, or "no analysable frames"), so the film list, the API
summary and the exports show a partial analysis as partial without reading analyses.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("analysis_status", sa.String(16), nullable=True))
        batch.add_column(sa.Column("analysis_note", sa.Text(), nullable=True))
    # Films analysed before this revision take the state of their analysis.
    op.execute(
        "UPDATE films SET "
        "analysis_status = (SELECT status FROM analyses WHERE analyses.id = films.last_analysis_id), "
        "analysis_note = (SELECT error FROM analyses WHERE analyses.id = films.last_analysis_id) "
        "WHERE last_analysis_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.drop_column("analysis_note")
        batch.drop_column("analysis_status")
