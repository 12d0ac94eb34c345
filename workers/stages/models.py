"""The models the ``infer`` stage runs, and the versions analyses are keyed on. Torch is
imported only when models are loaded (``Models.load``, or ``ModelLoader`` on a thread of its
own); versions are digests of the weight files and need no torch."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.config import ModelSettings, get_settings
from workers.loading import MODEL_LOADING
from workers.ml.checkpoint import (
    DEFAULT_CLASSIFIER_DIR,
    DEFAULT_SEGMENTER_DIR,
    encoder_source,
    weights_version,
)

if TYPE_CHECKING:
    from app.pipeline.borders import PictureOptions
    from workers.ml.inference import Classifier, Segmenter


@dataclass(frozen=True)
class ModelVersions:
    """Digests of the weights an analysis is keyed on."""

    classifier: str
    segmenter: str


@dataclass(frozen=True)
class Models:
    """The classifier and segmenter, loaded once per process and shared by every film.

    The segmenter may load on first use (``ModelLoader``): its decode head imports
    transformers, seconds of every start that a film with nothing to segment never needs.
    """

    classifier: Classifier
    pending_segmenter: Segmenter | SegmenterOnFirstUse
    segmenter_version: str

    @classmethod
    def load(cls, settings: ModelSettings | None = None) -> Models:
        """Both models, on the configured device, loaded here and now."""
        from workers.ml.inference import Classifier, Segmenter

        settings = _threaded(settings or get_settings().model)
        with MODEL_LOADING:
            classifier = Classifier.load(settings)
            segmenter = Segmenter.load(settings)
        return cls(classifier, segmenter, segmenter.version)

    @property
    def segmenter(self) -> Segmenter:
        if isinstance(self.pending_segmenter, SegmenterOnFirstUse):
            return self.pending_segmenter()
        return self.pending_segmenter

    @property
    def versions(self) -> ModelVersions:
        return ModelVersions(self.classifier.version, self.segmenter_version)

    @property
    def picture(self) -> dict[str, Any]:
        """What of each frame the models look at (``picture_settings``)."""
        return picture_settings(self.classifier)

    @property
    def shared_encoder(self) -> bool:
        """Whether one encoder run serves both models (loaded together, same encoder)."""
        segmenter = self.pending_segmenter
        return not isinstance(
            segmenter, SegmenterOnFirstUse
        ) and self.classifier.shares_encoder_with(segmenter)


class SegmenterOnFirstUse:
    """Loads the segmenter the first time it is called, once, whichever thread calls."""

    def __init__(self, settings: ModelSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._segmenter: Segmenter | None = None

    def __call__(self) -> Segmenter:
        from workers.ml.inference import Segmenter

        with self._lock:
            if self._segmenter is None:
                with MODEL_LOADING:
                    self._segmenter = Segmenter.load(self._settings)
            return self._segmenter


class ModelLoader:
    """Loads the classifier on a thread of its own, so that an analysis probes, decodes and
    finds shots while torch imports; calling the loader waits for it and returns the models,
    whose segmenter loads when a frame is first segmented.

    (Not the segmenter on that thread too: importing transformers there, against the
    classification, slowed it several times over on a busy 2-core machine, bench_pipeline.py.)
    ``versions`` are known at once, from the weight files. A classifier that fails to load
    raises its error from every call, where the ``infer`` stage's failure policy records it.
    """

    def __init__(self, settings: ModelSettings | None = None) -> None:
        settings = _threaded(settings or get_settings().model)
        self.versions = model_versions(settings)
        self._settings = settings
        self._classifier: Future[Classifier] = Future()
        self._lock = threading.Lock()
        self._models: Models | None = None
        # Not a daemon: a process that ends while this thread is inside torch's import or
        # its thread pools aborts ("terminate called without an active exception", exit 134:
        # `hybridlens analyze` of a file that is not a video did so 4 times in 6). Exiting
        # waits for the load instead, a few seconds on that path only.
        threading.Thread(target=self._load, name="hybridlens-models").start()

    def _load(self) -> None:
        try:
            with MODEL_LOADING:
                from workers.ml.inference import Classifier

                classifier = Classifier.load(self._settings)
            self._classifier.set_result(classifier)
        except BaseException as exc:  # raised to whoever waits for the classifier
            self._classifier.set_exception(exc)

    def __call__(self) -> Models:
        classifier = self._classifier.result()
        with self._lock:
            if self._models is None:
                on_first_use = SegmenterOnFirstUse(self._settings)
                segmenter: Segmenter | SegmenterOnFirstUse = on_first_use
                if shares_encoder(self._settings, self.versions):
                    segmenter = on_first_use()  # one encoder run serves both: load it now
                self._models = Models(classifier, segmenter, self.versions.segmenter)
            return self._models


def shares_encoder(settings: ModelSettings, versions: ModelVersions) -> bool:
    """Whether one of the configured models was trained on the other's frozen encoder (read
    from the weight directories, without torch)."""
    classifier_dir = settings.classifier_path or DEFAULT_CLASSIFIER_DIR
    segmenter_dir = settings.segmenter_path or DEFAULT_SEGMENTER_DIR
    return (
        encoder_source(classifier_dir) == versions.segmenter
        or encoder_source(segmenter_dir) == versions.classifier
    )


def _threaded(settings: ModelSettings) -> ModelSettings:
    """Without ``cpu_threads``, torch gets half the cores: on a shared 2-core machine two
    OpenMP threads spin-waiting against ffmpeg and other processes classified 5x slower than
    one (bench/bench_pipeline.py)."""
    if settings.cpu_threads is not None:
        return settings
    threads = max(1, (os.cpu_count() or 2) // 2)
    return settings.model_copy(update={"cpu_threads": threads})


def model_versions(settings: ModelSettings | None = None) -> ModelVersions:
    """The versions of the configured weights, without building the models (or importing
    torch)."""
    settings = settings or get_settings().model
    return ModelVersions(
        weights_version(settings.classifier_path or DEFAULT_CLASSIFIER_DIR),
        weights_version(settings.segmenter_path or DEFAULT_SEGMENTER_DIR),
    )


def picture_settings(options: PictureOptions) -> dict[str, Any]:
    """What of each frame the models look at, as an analysis stores it (JSON): inside black
    bars, above subtitles, colour cast taken out, without burned-in regions (stored only when
    there are some, so that analyses without keep the settings key they had)."""
    settings: dict[str, Any] = {
        "crop_borders": options.crop_borders,
        "skip_subtitles": options.skip_subtitles,
        "balance_colour": options.balance_colour,
    }
    if options.burn_in_regions:
        settings["burn_in_regions"] = [
            [float(x) for x in region] for region in options.burn_in_regions
        ]
    return settings
