"""Scene detectors by name (``SceneSettings.detector``), like the shot detectors: a factory
named by dotted path, imported only when the ``scenes`` stage runs, so this registry (and the
settings that check names against it) never imports torch.

A detector is a callable ``(settings: SceneSettings, material: SceneMaterial) -> SceneFinding``
plus one ``_register`` line below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from app.core.registry import Registry, load_object

if TYPE_CHECKING:
    from app.core.config import SceneSettings
    from app.scenes.rule import ShotSpan


@dataclass(frozen=True)
class SceneMaterial:
    """What a detector may look at: the shots, the sampled frames' shot indices and
    embeddings (manifest order), and the sampled frames' pictures, read on demand."""

    shots: Sequence[ShotSpan]
    frame_shots: Sequence[int | None]
    embeddings: np.ndarray  # (n, D) float, unit rows
    images: Callable[[], Iterator[np.ndarray]]  # HxWx3 uint8, manifest order


@dataclass(frozen=True)
class SceneFinding:
    """The shot indices that start a new scene (never 0), and figures to keep."""

    starts: list[int]
    detail: dict[str, Any] = field(default_factory=dict)


class SceneDetector(Protocol):
    def __call__(self, settings: SceneSettings, material: SceneMaterial) -> SceneFinding: ...


@dataclass(frozen=True)
class SceneDetectorEntry:
    name: str
    factory: str  # "package.module:callable", imported when the stage runs
    description: str = ""

    def load(self) -> SceneDetector:
        detector: SceneDetector = load_object(self.factory)
        return detector


SCENE_DETECTORS: Registry[SceneDetectorEntry] = Registry("scene detector")


def _register(entry: SceneDetectorEntry) -> None:
    SCENE_DETECTORS.register(entry.name, entry)


_register(
    SceneDetectorEntry(
        "embedding",
        "app.scenes.methods:embedding_scenes",
        description="the scene rule on mean pretrained frame embeddings per shot",
    )
)
_register(
    SceneDetectorEntry(
        "repro_vae",
        "workers.ml.repro_vae:vae_scenes",
        description="the scene rule on mean latents of a repro-VAE trained on the film's frames",
    )
)
_register(
    SceneDetectorEntry(
        "shots",
        "app.scenes.methods:shot_scenes",
        description="baseline: every shot is a scene",
    )
)
