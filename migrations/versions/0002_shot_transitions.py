"""Shots keep how they begin: the transition kind (cut, dissolve, fade, wipe) and its length.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.add_column(sa.Column("transition", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("transition_frames", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("shots") as batch:
        batch.drop_column("transition_frames")
        batch.drop_column("transition")
