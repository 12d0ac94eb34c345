"""The models the ``infer`` stage runs, and the versions analyses are keyed on. Torch is
imported only when models are loaded or their versions computed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.core.config import ModelSettings, get_settings

if TYPE_CHECKING:
    from workers.ml.inference import Classifier, Segmenter


@dataclass(frozen=True)
class ModelVersions:
    """Digests of the weights an analysis is keyed on."""

    classifier: str
    segmenter: str


@dataclass(frozen=True)
class Models:
    """The classifier and segmenter, loaded once per process and shared by every film."""

    classifier: Classifier
    segmenter: Segmenter

    @classmethod
    def load(cls, settings: ModelSettings | None = None) -> Models:
        """Both models, on the configured device. Without ``cpu_threads``, torch gets half the
        cores: on a shared 2-core machine two OpenMP threads spin-waiting against ffmpeg and
        other processes classified 5x slower than one (bench/bench_pipeline.py)."""
        from workers.ml.inference import Classifier, Segmenter

        settings = settings or get_settings().model
        if settings.cpu_threads is None:
            threads = max(1, (os.cpu_count() or 2) // 2)
            settings = settings.model_copy(update={"cpu_threads": threads})
        return cls(Classifier.load(settings), Segmenter.load(settings))

    @property
    def versions(self) -> ModelVersions:
        return ModelVersions(self.classifier.version, self.segmenter.version)


def model_versions(settings: ModelSettings | None = None) -> ModelVersions:
    """The versions of the configured weights, without building the models."""
    from workers.ml.inference import (
        DEFAULT_CLASSIFIER_DIR,
        DEFAULT_SEGMENTER_DIR,
        weights_version,
    )

    settings = settings or get_settings().model
    return ModelVersions(
        weights_version(settings.classifier_path or DEFAULT_CLASSIFIER_DIR),
        weights_version(settings.segmenter_path or DEFAULT_SEGMENTER_DIR),
    )
