"""The torch-free scene detectors: the scene rule on pretrained embeddings, and the
every-shot-a-scene baseline."""

from __future__ import annotations

import numpy as np

from app.core.config import SceneSettings
from app.scenes.detectors import SceneFinding, SceneMaterial
from app.scenes.rule import cosine_distance, link_distances, shot_vectors


def embedding_shot_vectors(material: SceneMaterial) -> list[np.ndarray | None]:
    """Each shot's mean frame embedding."""
    return shot_vectors(
        material.frame_shots, material.embeddings.astype(np.float32), len(material.shots)
    )


def embedding_scenes(settings: SceneSettings, material: SceneMaterial) -> SceneFinding:
    starts, distances = link_distances(
        embedding_shot_vectors(material),
        cosine_distance,
        settings.embedding_threshold,
        settings.window,
    )
    return SceneFinding(
        starts,
        {
            "threshold": settings.embedding_threshold,
            "window": settings.window,
            "distances": [None if d is None else round(d, 4) for d in distances],
        },
    )


def shot_scenes(settings: SceneSettings, material: SceneMaterial) -> SceneFinding:
    return SceneFinding(list(range(1, len(material.shots))))
