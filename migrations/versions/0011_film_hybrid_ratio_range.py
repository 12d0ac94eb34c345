"""Films cache the range their true hybrid share plausibly lies in (90 %:
``app.pipeline.quantify.ratio_range``), beside the adjusted ratio, for the film list and the
exports. Films analysed before this revision have none (NULL) until they are analysed
again, or their figures are recomputed (a correction, an imported label), which copies the
range their analysis stored, if any.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.add_column(sa.Column("hybrid_ratio_low", sa.Float(), nullable=True))
        batch.add_column(sa.Column("hybrid_ratio_high", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("films") as batch:
        batch.drop_column("hybrid_ratio_high")
        batch.drop_column("hybrid_ratio_low")
