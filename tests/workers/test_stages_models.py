"""The models of the ``infer`` stage: loaded now (``Models.load``) or behind the film's decoding
(``ModelLoader``), keyed on the same versions; the loader's segmenter loads on first use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.core.config import ModelSettings, PipelineSettings, Settings
from app.core.db import dispose_engine
from app.core.domain import RunStatus
from tests.media import Segment, make_video
from workers.orchestrator import analyze_path
from workers.stages.models import ModelLoader, Models, SegmenterOnFirstUse, model_versions

SETTINGS = ModelSettings(cpu_threads=1)


def test_loader_gives_the_versions_and_verdicts_of_models_loaded_now() -> None:
    loaded = Models.load(SETTINGS)
    loader = ModelLoader(SETTINGS)
    frames = [np.full((90, 160, 3), value, np.uint8) for value in (0, 128, 255)]

    models = loader()

    assert loader.versions == models.versions == loaded.versions == model_versions(SETTINGS)
    assert [v.frame_class for v in models.classifier.classify(frames)] == [
        v.frame_class for v in loaded.classifier.classify(frames)
    ]


def test_loader_loads_the_segmenter_when_first_used() -> None:
    models = ModelLoader(SETTINGS)()
    assert isinstance(models.pending_segmenter, SegmenterOnFirstUse)

    segmenter = models.segmenter

    assert segmenter is models.segmenter
    assert segmenter.version == models.versions.segmenter


def test_loader_raises_the_load_error_when_called_when_classifier_fails(tmp_path: Path) -> None:
    broken = tmp_path / "classifier"
    broken.mkdir()
    (broken / "model.safetensors").write_bytes(b"not weights")  # hashable, not loadable
    loader = ModelLoader(SETTINGS.model_copy(update={"classifier_path": broken}))

    with pytest.raises(Exception, match="hybridlens checkpoint"):
        loader()


def test_analyze_path_runs_with_a_loader_when_every_frame_is_segmented(tmp_path: Path) -> None:
    film = make_video(
        tmp_path / "two_shots.mkv",
        segments=[Segment(source="testsrc2", frames=25), Segment(source="smptebars", frames=25)],
    )
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'analysis.sqlite3'}",
        pipeline=PipelineSettings(segment_all=True),
    )
    try:
        result = analyze_path(film.path, settings, models=ModelLoader(SETTINGS))
    finally:
        dispose_engine(settings.sqlalchemy_url)

    assert result.status is RunStatus.DONE
    assert (result.summary or {})["segmented_frames"] == (result.summary or {})["sampled_frames"]
