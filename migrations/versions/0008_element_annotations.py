"""Elements remember the film's annotations they were extracted with (the latest mask and
label annotation ids), so that a correction made since sends the film's elements to be
extracted again from the corrected masks and classes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("elements") as batch:
        batch.add_column(sa.Column("annotation_mark", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("elements") as batch:
        batch.drop_column("annotation_mark")
