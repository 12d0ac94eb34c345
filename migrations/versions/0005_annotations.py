"""Annotations: human (and propagated, and imported) masks and labels of a film's frames and
shots, versioned, beside the model's output; jobs gain a kind ("analysis" or "propagate"),
parameters and their own progress; collections may name their own model weights.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mask_annotations",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("mask_png", sa.LargeBinary(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("p_fraction", sa.Float(), nullable=True),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("detail", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["film_id"],
            ["films.id"],
            name=op.f("fk_mask_annotations_film_id_films"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_mask_annotations_job_id_jobs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mask_annotations")),
        sa.UniqueConstraint(
            "film_id",
            "frame_index",
            "source",
            "version",
            name=op.f("uq_mask_annotations_film_id_frame_index_source_version"),
        ),
    )
    op.create_index("ix_mask_annotations_film_id_source", "mask_annotations", ["film_id", "source"])
    op.create_table(
        "label_annotations",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Float(), nullable=False),
        sa.Column("end_time", sa.Float(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(8), nullable=True),
        sa.Column("author", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["film_id"],
            ["films.id"],
            name=op.f("fk_label_annotations_film_id_films"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_annotations")),
        sa.UniqueConstraint(
            "film_id",
            "scope",
            "start_frame",
            "end_frame",
            "source",
            "version",
            name=op.f("uq_label_annotations_film_id_scope_start_frame_end_frame_source_version"),
        ),
    )
    op.create_index("ix_label_annotations_film_id_scope", "label_annotations", ["film_id", "scope"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="analysis")
        )
        batch.add_column(sa.Column("params", _json(), nullable=True))
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("classifier_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("segmenter_path", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("segmenter_path")
        batch.drop_column("classifier_path")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("progress")
        batch.drop_column("params")
        batch.drop_column("kind")
    op.drop_index("ix_label_annotations_film_id_scope", table_name="label_annotations")
    op.drop_table("label_annotations")
    op.drop_index("ix_mask_annotations_film_id_source", table_name="mask_annotations")
    op.drop_table("mask_annotations")
