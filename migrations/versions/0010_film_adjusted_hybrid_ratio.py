"""Films cache the hybrid ratio adjusted for the models' measured error rates
(``app.pipeline.quantify``), beside the counted one, for queries, sorting and exports.
Films analysed before this revision have none (NULL) until they are analysed again: their
analyses were made without the rates.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("adjusted_hybrid_ratio", sa.Float(), nullable=True))
    op.create_index(op.f("ix_films_adjusted_hybrid_ratio"), "films", ["adjusted_hybrid_ratio"])


def downgrade() -> None:
    op.drop_index(op.f("ix_films_adjusted_hybrid_ratio"), table_name="films")
    with op.batch_alter_table("films") as batch:
        batch.drop_column("adjusted_hybrid_ratio")
