"""Initial schema: films, collections, analyses with shots and frames, batches, jobs, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Types are spelled out here rather than imported from ``app.models``, so this migration keeps
creating the same schema when the models move on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_STATUSES = ("queued", "running", "done", "partial", "failed", "cancelled")
FRAME_CLASSES = ("P", "NP", "hybrid")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    # SQLite auto-increments only a column declared exactly INTEGER PRIMARY KEY.
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _run_status() -> sa.Enum:
    return sa.Enum(
        *RUN_STATUSES, name="run_status", native_enum=False, create_constraint=True, length=16
    )


def _frame_class() -> sa.Enum:
    return sa.Enum(
        *FRAME_CLASSES, name="frame_class", native_enum=False, create_constraint=True, length=8
    )


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("last_used_at", _timestamp(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("name", name=op.f("uq_collections_name")),
    )
    # films.last_analysis_id gets its foreign key once analyses exists (the two refer to
    # each other).
    op.create_table(
        "films",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("original_filename", sa.String(length=1024), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("probe", _json(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("has_audio", sa.Boolean(), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("hybrid_ratio", sa.Float(), nullable=True),
        sa.Column("p_time_share", sa.Float(), nullable=True),
        sa.Column("np_time_share", sa.Float(), nullable=True),
        sa.Column("hybrid_time_share", sa.Float(), nullable=True),
        sa.Column("mean_p_fraction", sa.Float(), nullable=True),
        sa.Column("hybrid_shot_count", sa.Integer(), nullable=True),
        sa.Column("last_analysis_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_films")),
        sa.UniqueConstraint("sha256", name=op.f("uq_films_sha256")),
    )
    for column in (
        "created_at",
        "hybrid_ratio",
        "hybrid_shot_count",
        "np_time_share",
        "p_time_share",
        "year",
    ):
        op.create_index(op.f(f"ix_films_{column}"), "films", [column])

    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("classifier_version", sa.String(length=128), nullable=False),
        sa.Column("segmenter_version", sa.String(length=128), nullable=False),
        sa.Column("settings", _json(), nullable=False),
        sa.Column("settings_hash", sa.String(length=64), nullable=False),
        sa.Column("status", _run_status(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_frame", sa.Integer(), nullable=True),
        sa.Column("error_time_s", sa.Float(), nullable=True),
        sa.Column("detector", _json(), nullable=True),
        sa.Column("timings", _json(), nullable=True),
        sa.Column("summary", _json(), nullable=True),
        sa.Column("timeline", _json(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["film_id"],
            ["films.id"],
            name=op.f("fk_analyses_film_id_films"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analyses")),
        sa.UniqueConstraint(
            "film_id",
            "classifier_version",
            "segmenter_version",
            "settings_hash",
            name="uq_analyses_film_id_versions_settings_hash",
        ),
    )
    op.create_index(op.f("ix_analyses_status"), "analyses", ["status"])

    # Batch mode: on SQLite this rebuilds the (still empty) films table with the key.
    with op.batch_alter_table("films") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_films_last_analysis_id_analyses"),
            "analyses",
            ["last_analysis_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "shots",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("shot_index", sa.Integer(), nullable=False),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column("start_time", sa.Float(), nullable=False),
        sa.Column("end_time", sa.Float(), nullable=False),
        sa.Column("frame_class", _frame_class(), nullable=True),
        sa.Column("hybrid_ratio", sa.Float(), nullable=False),
        sa.Column("mean_p_fraction", sa.Float(), nullable=True),
        sa.Column("classified_s", sa.Float(), nullable=True),
        sa.Column("sampled_frames", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_shots_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shots")),
        sa.UniqueConstraint(
            "analysis_id", "shot_index", name=op.f("uq_shots_analysis_id_shot_index")
        ),
    )
    op.create_table(
        "frames",
        sa.Column("id", _big_id(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("shot_index", sa.Integer(), nullable=True),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("time_s", sa.Float(), nullable=False),
        sa.Column("frame_class", _frame_class(), nullable=False),
        sa.Column("p_fraction", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("weight_s", sa.Float(), nullable=False),
        sa.Column("mask_png", sa.LargeBinary(), nullable=True),
        sa.Column("np_grid", _json(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_frames_analysis_id_analyses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frames")),
        sa.UniqueConstraint(
            "analysis_id", "frame_index", name=op.f("uq_frames_analysis_id_frame_index")
        ),
    )
    op.create_index(
        "ix_frames_analysis_id_frame_class_time_s",
        "frames",
        ["analysis_id", "frame_class", "time_s"],
    )
    op.create_index("ix_frames_analysis_id_time_s", "frames", ["analysis_id", "time_s"])
    op.create_index("ix_frames_analysis_id_shot_index", "frames", ["analysis_id", "shot_index"])

    op.create_table(
        "collection_films",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("added_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_collection_films_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["film_id"],
            ["films.id"],
            name=op.f("fk_collection_films_film_id_films"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "film_id", name=op.f("pk_collection_films")),
    )
    op.create_index(op.f("ix_collection_films_film_id"), "collection_films", ["film_id"])

    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("options", _json(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("cancelled_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_batches_collection_id_collections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_collection_id"), "batches", ["collection_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("film_id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=True),
        sa.Column("status", _run_status(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=True),
        sa.Column("finished_at", _timestamp(), nullable=True),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["analyses.id"],
            name=op.f("fk_jobs_analysis_id_analyses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["batches.id"],
            name=op.f("fk_jobs_batch_id_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["film_id"], ["films.id"], name=op.f("fk_jobs_film_id_films"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_analysis_id"), "jobs", ["analysis_id"])
    op.create_index("ix_jobs_batch_id_status", "jobs", ["batch_id", "status"])
    op.create_index(op.f("ix_jobs_film_id"), "jobs", ["film_id"])
    op.create_index("ix_jobs_status", "jobs", ["status"])


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("batches")
    op.drop_table("collection_films")
    op.drop_table("frames")
    op.drop_table("shots")
    # Break the films <-> analyses cycle before dropping either.
    with op.batch_alter_table("films") as batch_op:
        batch_op.drop_constraint(op.f("fk_films_last_analysis_id_analyses"), type_="foreignkey")
    op.drop_table("analyses")
    op.drop_table("films")
    op.drop_table("collections")
    op.drop_table("api_tokens")
