"""The Celery task that embeds a still for ``POST /frames/similar`` in celery mode
(``hybridlens.embed_still``, gpu queue); the API's in-process mode calls
``workers.stages.embed.embed_still`` directly."""

from __future__ import annotations

import base64
from typing import Any

from app.jobs.dispatch import TASK_EMBED_STILL
from workers.celery_app import app
from workers.stages.embed import embed_still


@app.task(name=TASK_EMBED_STILL, ignore_result=False, acks_late=False)
def embed_still_task(png_b64: str) -> dict[str, Any]:
    vector, version = embed_still(base64.b64decode(png_b64))
    return {"vector": vector, "version": version}
