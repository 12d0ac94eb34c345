"""Recurring drawn elements: elements per analysis (box, crop, embedding, track), runs of
the elements job per collection (state, refined head), and their clusters with members.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_STATUSES = ("queued", "running", "done", "partial", "failed", "cancelled")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "elements",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("region_index", sa.Integer(), nullable=False),
        sa.Column("shot_index", sa.Integer(), nullable=True),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("box", _json(), nullable=False),
        sa.Column("area", sa.Float(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("embedding_version", sa.String(length=128), nullable=False),
        sa.Column("crop_jpeg", sa.LargeBinary(), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_elements_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["film_id"], ["films.id"], name=op.f("fk_elements_film_id_films"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elements")),
        sa.UniqueConstraint(
            "analysis_id",
            "frame_index",
            "region_index",
            name=op.f("uq_elements_analysis_id_frame_index_region_index"),
        ),
    )
    op.create_index(op.f("ix_elements_film_id"), "elements", ["film_id"])
    op.create_index("ix_elements_analysis_id_track_id", "elements", ["analysis_id", "track_id"])

    op.create_table(
        "element_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *RUN_STATUSES,
                name="run_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("stage", sa.String(length=32), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("options", _json(), nullable=False),
        sa.Column("summary", _json(), nullable=True),
        sa.Column("head", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_version", sa.String(length=128), nullable=True),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("heartbeat_at", _timestamp(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_element_runs_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_element_runs")),
    )
    op.create_index(op.f("ix_element_runs_collection_id"), "element_runs", ["collection_id"])

    op.create_table(
        "element_clusters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("exemplar_element_id", _big_id(), nullable=True),
        sa.Column("centroid", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["element_runs.id"],
            name=op.f("fk_element_clusters_run_id_element_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_element_clusters_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["exemplar_element_id"],
            ["elements.id"],
            name=op.f("fk_element_clusters_exemplar_element_id_elements"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_element_clusters")),
    )
    op.create_index(op.f("ix_element_clusters_run_id"), "element_clusters", ["run_id"])
    op.create_index(
        op.f("ix_element_clusters_collection_id"), "element_clusters", ["collection_id"]
    )

    op.create_table(
        "element_cluster_members",
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("element_id", _big_id(), nullable=False),
        sa.Column("similarity", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["element_clusters.id"],
            name=op.f("fk_element_cluster_members_cluster_id_element_clusters"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["element_id"],
            ["elements.id"],
            name=op.f("fk_element_cluster_members_element_id_elements"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "cluster_id", "element_id", name=op.f("pk_element_cluster_members")
        ),
    )
    op.create_index(
        op.f("ix_element_cluster_members_element_id"), "element_cluster_members", ["element_id"]
    )


def downgrade() -> None:
    op.drop_table("element_cluster_members")
    op.drop_table("element_clusters")
    op.drop_table("element_runs")
    op.drop_table("elements")
