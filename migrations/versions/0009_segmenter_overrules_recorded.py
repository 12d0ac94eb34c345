"""Analyses made before ``PipelineSettings.segmenter_overrules`` existed ran with the segmenter
overruling the classifier's "hybrid" (the only rule then), but their stored settings lack the
key, so reading them back gave the new default (false): a resumed old analysis would have
switched rules half way, and its settings said the wrong thing. The key is written in, true,
and the settings hash recomputed (canonical JSON, as ``app.analysis.service.settings_hash``).
An analysis whose new key would collide with one run since with the same models and settings
is left as it was (its row keeps the old hash, and is reported in the log); so is one whose
settings have no pipeline or an empty one (those read back as the configured settings).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_analyses = sa.table(
    "analyses",
    sa.column("id", sa.Integer),
    sa.column("film_id", sa.Integer),
    sa.column("classifier_version", sa.String),
    sa.column("segmenter_version", sa.String),
    sa.column("settings", _JSON),
    sa.column("settings_hash", sa.String),
)


def _hash(settings: dict[str, Any]) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_analyses)).mappings().all()

    def models(row: Any) -> tuple[Any, ...]:
        return (row["film_id"], row["classifier_version"], row["segmenter_version"])

    keys = {(*models(r), r["settings_hash"]) for r in rows}
    for row in rows:
        settings = row["settings"]
        pipeline = settings.get("pipeline") if isinstance(settings, dict) else None
        # No pipeline or an empty one reads back as the configured settings: left alone.
        if not isinstance(pipeline, dict) or not pipeline or "segmenter_overrules" in pipeline:
            continue
        updated = {**settings, "pipeline": {**pipeline, "segmenter_overrules": True}}
        new_hash = _hash(updated)
        if (*models(row), new_hash) in keys:
            log.warning(
                "analysis %s (film %s, classifier %s, segmenter %s) left as it was: an analysis "
                "of the same film, models and settings with the rule written in exists",
                row["id"],
                *models(row),
            )
            continue
        keys.discard((*models(row), row["settings_hash"]))
        keys.add((*models(row), new_hash))
        connection.execute(
            sa.update(_analyses)
            .where(_analyses.c.id == row["id"])
            .values(settings=updated, settings_hash=new_hash)
        )


def downgrade() -> None:
    # The key stays: the code of revision 0008 already knows it, and true is what those
    # analyses ran with.
    pass
