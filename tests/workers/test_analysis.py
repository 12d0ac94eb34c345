"""The analysis stages and the embedded ``analyze_path``, on SQLite and PostgreSQL.

The models are the shipped default weights, loaded once; tests check the plumbing (what is
stored, where, how often), never how accurate the weights are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameQuery
from app.core.config import ModelSettings, PipelineSettings, SamplingSettings, Settings
from app.core.db import dispose_engine, session_scope
from app.core.domain import RunStatus
from app.films import service as films_service
from app.films.schemas import FilmQuery
from app.jobs import service as jobs_service
from app.pipeline.hashing import sha256_of_file
from app.pipeline.masks import decode_mask
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.figures import burn_subtitle, faded_print, neutral_points, paste, photo_background
from tests.media import (
    GeneratedVideo,
    Segment,
    make_audio_only,
    make_empty_file,
    make_lossless_video,
    make_text_file,
    make_tiny_video,
    make_truncated,
    make_video,
)
from workers.orchestrator import analyze_path, start
from workers.stages import base as stage_base
from workers.stages import early as early_module
from workers.stages import infer as infer_module
from workers.stages import prepare as prepare_module
from workers.stages.base import ModelMismatch, StageCall, StageOutcome, analysis_settings
from workers.stages.finish import finish
from workers.stages.infer import infer
from workers.stages.models import Models, ModelVersions
from workers.stages.prepare import prepare
from workers.stages.spool import Spool, SpoolMissing


@pytest.fixture(scope="module")
def models() -> Models:
    return Models.load(ModelSettings(cpu_threads=1))


@pytest.fixture(scope="module")
def three_shot_film(tmp_path_factory: pytest.TempPathFactory) -> GeneratedVideo:
    """6 s, 160x120, cuts at frames 50 and 100."""
    return make_video(
        tmp_path_factory.mktemp("media") / "three_shots.mkv",
        segments=[
            Segment(source="testsrc2", frames=50),
            Segment(source="smptebars", frames=50),
            Segment(source="mandelbrot", frames=50),
        ],
    )


@pytest.fixture
def settings(db_url: str) -> Settings:  # noqa: F811
    return Settings(database_url=db_url)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh SQLite file (migrated by ``analyze_path``), for tests that need
    one backend only."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'analysis.sqlite3'}")
    yield settings
    dispose_engine(settings.sqlalchemy_url)


def _frames(settings: Settings, analysis_id: int) -> list[Any]:
    with session_scope(settings.sqlalchemy_url) as session:
        return analysis_service.list_frames(session, analysis_id, FrameQuery(limit=10_000)).items


def _analysis(settings: Settings, analysis_id: int) -> Any:
    with session_scope(settings.sqlalchemy_url) as session:
        return analysis_service.get_analysis(session, analysis_id)


def _film_id(settings: Settings, path: Path) -> int:
    with session_scope(settings.sqlalchemy_url) as session:
        return films_service.register_film(session, path, sha256_of_file(path)[0]).film_id


# ----------------------------------------------------------------------------------------------
# End to end


def test_analyze_path_stores_shots_frames_and_summary_when_film_is_whole(
    settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    result = analyze_path(three_shot_film.path, settings, models=models)

    assert result.status is RunStatus.DONE, result.error
    assert result.film_id is not None and result.analysis_id is not None
    with session_scope(settings.sqlalchemy_url) as session:
        report = analysis_service.get_film_report(session, result.film_id)
    assert report.analysis is not None and report.analysis.id == result.analysis_id
    starts = [shot.start_frame for shot in report.shots]
    assert len(starts) == 3
    for found, made in zip(starts[1:], three_shot_film.cut_frames, strict=True):
        assert abs(found - made) <= 2
    summary = report.analysis.summary
    assert summary is not None
    assert len(report.frames) == summary["sampled_frames"] >= 6
    shares = summary["p_time_share"] + summary["np_time_share"] + summary["hybrid_time_share"]
    assert shares == pytest.approx(1.0)
    assert summary["duration_s"] == pytest.approx(6.0, abs=0.05)
    # The shipped classifier carries hybrid rates for the shipped segmenter: the ratio is
    # adjusted by them, the rates are kept with the summary and the film caches the result.
    rates = models.classifier.hybrid_rates
    assert rates is not None and summary["hybrid_rates"] == rates.as_meta()
    assert summary["adjusted_hybrid_ratio"] == pytest.approx(rates.adjust(summary["hybrid_ratio"]))
    assert report.film.adjusted_hybrid_ratio == summary["adjusted_hybrid_ratio"]
    # Where the true share plausibly lies, holding the adjusted ratio.
    low, high = summary["hybrid_ratio_range"]
    assert 0.0 <= low <= summary["adjusted_hybrid_ratio"] <= high <= 1.0
    assert (report.film.hybrid_ratio_low, report.film.hybrid_ratio_high) == (low, high)
    assert all(frame.shot_index is not None for frame in report.frames)
    assert report.film.sha256 and report.film.frame_count == 150
    assert report.analysis.detector and report.analysis.detector["detector"] == "transnetv2"
    timings = report.analysis.timings or {}
    assert {"prepare_s", "decode_s", "infer_s", "classify_s", "finish_s", "total_s"} <= set(timings)
    assert report.analysis.progress == 1.0
    assert not Spool(settings.data_dir, result.analysis_id).exists()


def test_analyze_path_records_a_job_when_run_embedded(
    sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    result = analyze_path(three_shot_film.path, sqlite_settings, models=models)

    assert result.job_id is not None
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        job = jobs_service.get_job(session, result.job_id)
    assert job.status is RunStatus.DONE and job.film_id == result.film_id
    assert job.analysis_id == result.analysis_id and job.attempts == 1


def test_analyze_path_replaces_results_when_film_is_analysed_again(
    settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    first = analyze_path(three_shot_film.path, settings, models=models)
    second = analyze_path(three_shot_film.path, settings, models=models)

    assert (second.film_id, second.analysis_id) == (first.film_id, first.analysis_id)
    assert second.analysis_id is not None
    frames = _frames(settings, second.analysis_id)
    assert len(frames) == len({frame.frame_index for frame in frames})
    assert len(frames) == (second.summary or {})["sampled_frames"]
    with session_scope(settings.sqlalchemy_url) as session:
        assert len(analysis_service.list_shots(session, second.analysis_id)) == 3
        assert len(analysis_service.list_analyses(session, second.film_id or 0)) == 1


def test_analyze_path_keeps_frames_before_damage_when_film_is_truncated(
    tmp_path: Path, sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    damaged = make_truncated(three_shot_film.path, tmp_path / "damaged.mkv", keep_share=0.5)

    result = analyze_path(damaged, sqlite_settings, models=models)

    assert result.status is RunStatus.PARTIAL
    assert result.analysis_id is not None
    analysis = _analysis(sqlite_settings, result.analysis_id)
    assert analysis.error and "decoding stopped" in analysis.error
    assert analysis.error_frame is not None and 0 < analysis.error_frame < 150
    assert analysis.error_time_s == pytest.approx(analysis.error_frame / 25.0, abs=0.05)
    frames = _frames(sqlite_settings, result.analysis_id)
    assert frames and all(frame.frame_index <= analysis.error_frame for frame in frames)
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        film = films_service.get_film(session, result.film_id or 0)
    assert film.last_analysis_id == result.analysis_id  # partial figures are the film's figures
    # The film says its figures are partial, and why (the film list and exports show it).
    assert film.analysis_status is RunStatus.PARTIAL
    assert film.analysis_note == analysis.error


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: make_text_file(path / "script.mp4"), "not a readable media file"),
        (lambda path: make_empty_file(path / "empty.mkv"), "empty"),
        (lambda path: make_audio_only(path / "sound.wav"), "audio only"),
    ],
    ids=["not-a-video", "zero-byte", "audio-only"],
)
def test_analyze_path_fails_with_reason_when_file_is_not_a_video(
    tmp_path: Path, sqlite_settings: Settings, models: Models, make: Any, reason: str
) -> None:
    path = make(tmp_path)

    result = analyze_path(path, sqlite_settings, models=models)

    assert result.status is RunStatus.FAILED
    assert result.error and reason in result.error
    assert result.analysis_id is not None
    analysis = _analysis(sqlite_settings, result.analysis_id)
    assert analysis.status is RunStatus.FAILED and analysis.error == result.error
    assert not Spool(sqlite_settings.data_dir, result.analysis_id).exists()


def test_analyze_path_fails_with_reason_when_picture_is_below_the_minimum_size(
    tmp_path: Path, sqlite_settings: Settings, models: Models
) -> None:
    tiny = make_tiny_video(tmp_path / "one_pixel.mkv", size=(1, 1))

    result = analyze_path(tiny, sqlite_settings, models=models)

    assert result.status is RunStatus.FAILED
    assert result.error == (
        "the picture is too small to analyse: 1x1 pixels (at least 16 on each side)"
    )
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        film = films_service.get_film(session, result.film_id or 0)
    # No figures; the film shows its failed analysis and why.
    assert film.hybrid_ratio is None and film.last_analysis_id == result.analysis_id
    assert (film.analysis_status, film.analysis_note) == (RunStatus.FAILED, result.error)


def test_analyze_path_is_done_with_null_ratios_when_every_frame_is_blank(
    tmp_path: Path, sqlite_settings: Settings, models: Models
) -> None:
    black = make_video(
        tmp_path / "black.mkv", segments=[Segment(source="color", color="black", frames=50)]
    )

    result = analyze_path(black.path, sqlite_settings, models=models)

    assert result.status is RunStatus.DONE
    assert result.error == "no analysable frames: all 50 decoded frames are blank"
    summary = result.summary or {}
    assert summary["sampled_frames"] == 0
    shares = ("hybrid_ratio", "p_time_share", "np_time_share", "hybrid_time_share")
    assert [summary[key] for key in shares] == [None, None, None, None]
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        film = films_service.get_film(session, result.film_id or 0)
        # Not a 0 % film: no ratio query finds it, though it was analysed.
        low = films_service.query_films(session, FilmQuery(max_hybrid_ratio=1.0))
        analysed = films_service.query_films(session, FilmQuery(analyzed=True))
    assert film.hybrid_ratio is None and film.last_analysis_id == result.analysis_id
    assert film.analysis_status is RunStatus.DONE and film.analysis_note == result.error
    assert low.total == 0 and [item.id for item in analysed.items] == [film.id]


def test_analyze_path_fails_without_registering_when_file_is_missing(
    tmp_path: Path, sqlite_settings: Settings, models: Models
) -> None:
    result = analyze_path(tmp_path / "nowhere.mkv", sqlite_settings, models=models)

    assert result.status is RunStatus.FAILED and result.error == "no such file"
    assert result.film_id is None and result.analysis_id is None


def test_analyze_path_segments_every_frame_when_segment_all_is_set(
    sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    pipeline = PipelineSettings(segment_all=True, mask_size=40)
    settings = sqlite_settings.model_copy(update={"pipeline": pipeline})

    result = analyze_path(three_shot_film.path, settings, models=models)

    assert result.status is RunStatus.DONE and result.analysis_id is not None
    frames = _frames(settings, result.analysis_id)
    assert frames and all(frame.has_mask for frame in frames)
    assert (result.summary or {})["segmented_frames"] == len(frames)
    # The segmenter decides every frame here: the classifier's rates do not hold.
    assert (result.summary or {})["hybrid_rates"] is None
    assert (result.summary or {})["adjusted_hybrid_ratio"] is None
    with session_scope(settings.sqlalchemy_url) as session:
        mask = decode_mask(
            analysis_service.get_frame_mask(session, result.analysis_id, frames[0].frame_index)
        )
    assert mask.shape == (30, 40)  # 160x120 shrunk to a 40-pixel long side
    # The stored P fraction is the segmenter's, measured at working resolution.
    assert frames[0].p_fraction == pytest.approx(mask.mean(), abs=0.1)


def test_a_pillarboxed_film_gets_the_classes_of_its_picture(
    sqlite_settings: Settings, models: Models, tmp_path: Path
) -> None:
    """The same frames with and without black bars, losslessly: every frame is judged as its
    picture (the models look inside the bars), hybrids segmented alike."""
    paper = np.full((180, 240, 3), 235, np.uint8)
    pictures = [
        photo_background(1, (240, 180)),
        paste(paper, [("star", 20, 30, 70), ("face", 130, 60, 80)]).image,
        paste(photo_background(2, (240, 180)), [("house", 10, 10, 90)]).image,
    ]
    frames = [picture for picture in pictures for _ in range(2)]  # 2 s each at 1 fps
    plain = make_lossless_video(frames, tmp_path / "plain.mkv")
    barred = make_lossless_video(
        [np.pad(frame, ((0, 0), (40, 40), (0, 0))) for frame in frames], tmp_path / "barred.mkv"
    )
    settings = sqlite_settings.model_copy(update={"pipeline": PipelineSettings(segment_all=True)})
    found = {}
    for path in (plain, barred):
        result = analyze_path(path, settings, models=models)
        assert result.status is RunStatus.DONE and result.analysis_id is not None, result.error
        found[path] = {frame.frame_index: frame for frame in _frames(settings, result.analysis_id)}
        # The summary says how many frames were judged inside bars.
        summary = result.summary or {}
        in_bars = summary["sampled_frames"] if path == barred else 0
        assert summary["frames_in_bars"] == in_bars
    common = sorted(set(found[plain]) & set(found[barred]))
    assert len(common) >= 3
    for index in common:
        alone, inside = found[plain][index], found[barred][index]
        assert inside.frame_class == alone.frame_class
        assert inside.p_fraction == pytest.approx(alone.p_fraction, abs=1e-4)
        assert inside.confidence == pytest.approx(alone.confidence, abs=1e-4)


def test_a_subtitled_film_is_judged_above_its_subtitles(
    sqlite_settings: Settings, models: Models, tmp_path: Path
) -> None:
    """Burned-in subtitles belong to the print: the models look at the picture above them
    (``skip_subtitles``, on by default) and the summary says how many frames had them."""
    paper = np.full((180, 240, 3), 235, np.uint8)
    pictures = [
        photo_background(1, (240, 180)),
        paste(paper, [("star", 20, 30, 70), ("face", 130, 20, 80)]).image,
        photo_background(3, (240, 180)),
    ]
    lines = [["where were you last night"], ["I waited", "at the station"], ["never again"]]
    subtitled = [burn_subtitle(p, text) for p, text in zip(pictures, lines, strict=True)]
    # Each frame gets the class of the same frame without its subtitle.
    summaries = _same_classes_as_plain(
        sqlite_settings, models, tmp_path, pictures, subtitled, "frames_with_subtitles"
    )
    assert [summary["frames_in_bars"] for summary in summaries] == [0, 0]


def _same_classes_as_plain(
    settings: Settings,
    models: Models,
    tmp_path: Path,
    plain: list[np.ndarray],
    dressed: list[np.ndarray],
    counted: str,
) -> list[dict[str, Any]]:
    """Films of the ``plain`` pictures and of the same ``dressed`` (2 s each), analysed:
    each dressed frame gets the plain frame's class, and the summaries' ``counted`` is every
    sampled frame of the dressed film and none of the plain one. The two summaries."""
    found, summaries = [], []
    for number, frames in enumerate((plain, dressed)):
        film = make_lossless_video(
            [f for f in frames for _ in range(2)], tmp_path / f"{number}.mkv"
        )
        result = analyze_path(film, settings, models=models)
        assert result.status is RunStatus.DONE and result.analysis_id is not None, result.error
        summary = result.summary or {}
        assert summary[counted] == (summary["sampled_frames"] if number else 0)
        summaries.append(summary)
        found.append({f.frame_index: f.frame_class for f in _frames(settings, result.analysis_id)})
    common = sorted(set(found[0]) & set(found[1]))
    assert len(common) >= 3
    assert [found[1][i] for i in common] == [found[0][i] for i in common]
    return summaries


def test_a_faded_print_is_judged_with_its_colour_cast_taken_out(
    sqlite_settings: Settings, models: Models, tmp_path: Path
) -> None:
    """A faded colour print (magenta cast, lifted blacks) gets the classes of the print
    before it faded, and the summary counts the frames whose cast was taken out."""
    pictures = [neutral_points(photo_background(seed, (240, 180)), (12, 16)) for seed in (4, 5, 6)]
    faded = [faded_print(picture) for picture in pictures]
    _same_classes_as_plain(
        sqlite_settings, models, tmp_path, pictures, faded, "frames_colour_balanced"
    )


def test_a_worker_that_looks_at_frames_otherwise_does_not_take_the_analysis(
    sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    """An analysis started with subtitles skipped is not finished by models that keep them."""
    keep = sqlite_settings.model_copy(
        update={"model": sqlite_settings.model.model_copy(update={"skip_subtitles": False})}
    )
    result = analyze_path(three_shot_film.path, keep, models=models)
    assert result.status is RunStatus.FAILED
    assert "skip_subtitles off" in (result.error or "")
    assert "skip_subtitles on" in (result.error or "")


def _context(settings: Settings, models: Models, picture: dict[str, Any] | None) -> Any:
    """A running analysis of ``models`` that stored ``picture`` settings."""
    from workers.stages.store import AnalysisContext

    return AnalysisContext(
        analysis_id=1,
        film_id=1,
        film_path="film.mkv",
        status=RunStatus.RUNNING,
        pipeline=PipelineSettings(),
        thresholds=settings.model.thresholds,
        classifier_version=models.versions.classifier,
        segmenter_version=models.versions.segmenter,
        picture=picture,
    )


def test_an_analysis_stored_without_picture_settings_runs_with_any(
    sqlite_settings: Settings, models: Models
) -> None:
    """Analyses started before the picture settings were stored are not refused for them."""
    from workers.stages.base import check_models

    context = _context(sqlite_settings, models, None)
    check_models(context, models)  # no picture stored: no refusal
    other = dataclasses.replace(context, picture={"crop_borders": True, "skip_subtitles": False})
    with pytest.raises(ModelMismatch, match="skip_subtitles off"):
        check_models(other, models)
    older = dataclasses.replace(context, picture={"crop_borders": True})  # fewer settings kept
    check_models(older, models)
    # An analysis started with colour casts kept is not finished by models that take them out.
    assert models.picture["balance_colour"] is True
    cast_kept = dataclasses.replace(context, picture={**models.picture, "balance_colour": False})
    with pytest.raises(ModelMismatch, match="balance_colour off"):
        check_models(cast_kept, models)


def test_an_analysis_started_with_burn_in_regions_runs_only_with_the_same(
    sqlite_settings: Settings, models: Models
) -> None:
    import json

    from workers.ml.inference import Classifier
    from workers.stages.base import check_models
    from workers.stages.models import Models as LoadedModels

    regions = [(0, 0.84, 1, 0.92)]
    windowed = sqlite_settings.model_copy(
        update={"model": ModelSettings(device="cpu", burn_in_regions=regions)}
    )
    stored = json.loads(json.dumps(analysis_settings(windowed)))["picture"]
    context = _context(sqlite_settings, models, stored)
    same = LoadedModels(
        Classifier.load(windowed.model), models.pending_segmenter, models.segmenter_version
    )
    check_models(context, same)  # the stored JSON and the loaded settings agree
    with pytest.raises(ModelMismatch, match="burn_in_regions none"):
        check_models(context, models)  # a worker without the regions
    plain = dataclasses.replace(context, picture=analysis_settings(sqlite_settings)["picture"])
    assert "burn_in_regions" not in plain.picture  # none: the key analyses had before
    with pytest.raises(ModelMismatch, match="burn_in_regions"):
        check_models(plain, same)  # a worker with regions for an analysis without


# ----------------------------------------------------------------------------------------------
# Stages one by one


def test_stages_run_one_by_one_when_called_separately(
    settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    film_id = _film_id(settings, three_shot_film.path)
    analysis_id = start(film_id, settings=settings, versions=models.versions)
    spool = Spool(settings.data_dir, analysis_id)

    prepared = prepare(analysis_id, StageCall(settings))
    assert prepared.proceed
    manifest = spool.read_manifest()
    assert manifest.frames_decoded == 150 and len(manifest.shots) == 3
    assert _analysis(settings, analysis_id).stage == "prepare"
    with pytest.raises(SpoolMissing):
        finish(analysis_id, StageCall(settings))  # infer has not run

    inferred = infer(analysis_id, StageCall(settings, models=models))
    assert inferred.proceed
    assert spool.read_inference_done().frames == len(manifest.frames)

    finished = finish(analysis_id, StageCall(settings))
    assert finished.status is RunStatus.DONE and not finished.proceed
    assert len(_frames(settings, analysis_id)) == len(manifest.frames)
    assert not spool.exists()
    # A late duplicate of the last task finds the analysis finished and leaves it alone.
    assert finish(analysis_id, StageCall(settings)).status is RunStatus.DONE


def test_stages_overwrite_their_output_when_run_twice(
    sqlite_settings: Settings,
    models: Models,
    three_shot_film: GeneratedVideo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analysis_service_finish = analysis_service.finish_analysis
    analyze_path(three_shot_film.path, sqlite_settings, models=models)  # migrates, registers
    film_id = _film_id(sqlite_settings, three_shot_film.path)
    analysis_id = start(film_id, settings=sqlite_settings, versions=models.versions)
    for _ in range(2):
        assert prepare(analysis_id, StageCall(sqlite_settings)).proceed
    for _ in range(2):
        assert infer(analysis_id, StageCall(sqlite_settings, models=models)).proceed

    # The storing stage dies after writing its rows, before the commit: nothing is kept,
    # the spool stays, and the retry stores every row once.
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("worker lost")

    monkeypatch.setattr(analysis_service, "finish_analysis", crash)
    with pytest.raises(RuntimeError, match="worker lost"):
        finish(analysis_id, StageCall(sqlite_settings))
    assert _frames(sqlite_settings, analysis_id) == []
    monkeypatch.setattr(analysis_service, "finish_analysis", analysis_service_finish)

    assert finish(analysis_id, StageCall(sqlite_settings)).status is RunStatus.DONE
    frames = _frames(sqlite_settings, analysis_id)
    assert len(frames) == len({frame.frame_index for frame in frames}) >= 6


def test_spool_holds_frames_in_chunks_when_film_has_more_frames_than_a_chunk(
    sqlite_settings: Settings,
    models: Models,
    three_shot_film: GeneratedVideo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(prepare_module, "FRAMES_PER_CHUNK", 4)
    analyze_path(three_shot_film.path, sqlite_settings, models=models)
    film_id = _film_id(sqlite_settings, three_shot_film.path)
    analysis_id = start(film_id, settings=sqlite_settings, versions=models.versions)

    prepare(analysis_id, StageCall(sqlite_settings))
    manifest = Spool(sqlite_settings.data_dir, analysis_id).read_manifest()
    assert manifest.chunk_count == -(-len(manifest.frames) // 4) >= 2
    chunk = Spool(sqlite_settings.data_dir, analysis_id).read_frames(0)
    assert chunk.shape == (4, 120, 160, 3)
    infer(analysis_id, StageCall(sqlite_settings, models=models))

    assert finish(analysis_id, StageCall(sqlite_settings)).status is RunStatus.DONE
    assert len(_frames(sqlite_settings, analysis_id)) == len(manifest.frames)


def _frame_results(settings: Settings, analysis_id: int) -> list[tuple[Any, ...]]:
    results = []
    with session_scope(settings.sqlalchemy_url) as session:
        for frame in _frames(settings, analysis_id):
            mask = (
                analysis_service.get_frame_mask(session, analysis_id, frame.frame_index)
                if frame.has_mask
                else None
            )
            results.append(
                (frame.frame_index, frame.frame_class, frame.p_fraction, frame.confidence, mask)
            )
    return results


@pytest.fixture(scope="module")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Tiny models where the segmenter was trained on the classifier's frozen encoder (one
    encoder run serves both), the classifier calling every frame hybrid."""
    import torch

    from workers.ml.inference import Classifier, Segmenter
    from workers.ml.models import (
        ClassifierConfig,
        SegmenterConfig,
        build_classifier,
        build_segmenter,
        save_model,
    )
    from workers.ml.train import copy_encoder

    directory = tmp_path_factory.mktemp("shared_models")
    classifier = build_classifier(
        ClassifierConfig(encoder="lite0", image_size=64, embedding_dim=32, frame_head=True)
    )
    assert classifier.frame_head is not None
    with torch.no_grad():
        classifier.frame_head.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    save_model(classifier.eval(), directory / "clf")
    segmenter = build_segmenter(
        SegmenterConfig(encoder="lite0", image_size=64, decoder_hidden_size=32)
    )
    copied = copy_encoder(segmenter, directory / "clf")
    save_model(segmenter.eval(), directory / "seg", extra={"training": {"encoder_from": copied}})
    settings = ModelSettings(cpu_threads=1, device="cpu")
    loaded = Segmenter.load(settings, directory / "seg")
    pair = Models(Classifier.load(settings, directory / "clf"), loaded, loaded.version)
    assert pair.shared_encoder
    return pair


@pytest.mark.parametrize("pair", ["models", "shared_models"])
def test_analyze_path_classifies_during_prepare_with_the_results_of_separate_stages(
    sqlite_settings: Settings,
    pair: str,
    three_shot_film: GeneratedVideo,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    """The same results whether infer runs as its own stage or during prepare; with the
    shared pair, both decide batch by batch from one encoder run."""
    models: Models = request.getfixturevalue(pair)
    monkeypatch.setattr(prepare_module, "FRAMES_PER_CHUNK", 5)
    pipeline = PipelineSettings(
        segment_all=pair == "models", mask_size=40, sampling=SamplingSettings(max_interval_s=0.25)
    )
    settings = sqlite_settings.model_copy(update={"pipeline": pipeline})
    apart = analyze_path(three_shot_film.path, settings, models=models)  # migrates, registers
    film_id = _film_id(settings, three_shot_film.path)
    separate = start(film_id, settings=settings, versions=models.versions)
    assert prepare(separate, StageCall(settings)).proceed
    assert infer(separate, StageCall(settings, models=models)).proceed
    assert finish(separate, StageCall(settings)).status is RunStatus.DONE

    # Within one process infer only waits for what prepare's inference thread wrote.
    def no_second_pass(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("infer classified the spool again")

    monkeypatch.setattr(infer_module, "_infer_spool", no_second_pass)
    together = analyze_path(three_shot_film.path, settings, models=models)

    assert together.status is RunStatus.DONE and together.analysis_id is not None
    expected = _frame_results(settings, separate)
    assert len(expected) > 10 and all(mask is not None for *_, mask in expected)
    assert _frame_results(settings, together.analysis_id) == expected
    assert apart.summary == together.summary


def test_analyze_path_infers_from_the_spool_when_inference_during_prepare_fails(
    sqlite_settings: Settings,
    models: Models,
    three_shot_film: GeneratedVideo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = analyze_path(three_shot_film.path, sqlite_settings, models=models)
    assert reference.analysis_id is not None
    expected = _frame_results(sqlite_settings, reference.analysis_id)

    def broken(self: Any) -> None:
        raise RuntimeError("out of memory on the inference thread")

    monkeypatch.setattr(early_module.EarlyInference, "_work", broken)
    again = analyze_path(three_shot_film.path, sqlite_settings, models=models)

    assert again.status is RunStatus.DONE and again.analysis_id is not None
    assert _frame_results(sqlite_settings, again.analysis_id) == expected


def test_infer_refuses_when_models_are_not_those_the_analysis_was_started_with(
    sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    analyze_path(three_shot_film.path, sqlite_settings, models=models)
    film_id = _film_id(sqlite_settings, three_shot_film.path)
    analysis_id = start(
        film_id, settings=sqlite_settings, versions=ModelVersions("other", "weights")
    )
    prepare(analysis_id, StageCall(sqlite_settings))

    with pytest.raises(ModelMismatch, match="other"):
        infer(analysis_id, StageCall(sqlite_settings, models=models))


def test_prepare_stops_and_cleans_up_when_analysis_is_cancelled_mid_way(
    sqlite_settings: Settings,
    models: Models,
    three_shot_film: GeneratedVideo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    analyze_path(three_shot_film.path, sqlite_settings, models=models)
    film_id = _film_id(sqlite_settings, three_shot_film.path)
    analysis_id = start(film_id, settings=sqlite_settings, versions=models.versions)
    monkeypatch.setattr(stage_base, "PROGRESS_INTERVAL_S", 0.0)
    seen: list[int] = []

    def cancel_at_frame_ten(stage: str, done: int, total: int | None) -> None:
        seen.append(done)
        if done == 10:
            with session_scope(sqlite_settings.sqlalchemy_url) as session:
                analysis_service.finish_analysis(session, analysis_id, RunStatus.CANCELLED)

    outcome = prepare(analysis_id, StageCall(sqlite_settings, progress=cancel_at_frame_ten))

    assert outcome.status is RunStatus.CANCELLED and not outcome.proceed
    assert max(seen) < 150
    assert not Spool(sqlite_settings.data_dir, analysis_id).exists()
    assert infer(analysis_id, StageCall(sqlite_settings, models=models)).status is (
        RunStatus.CANCELLED
    )


def test_stage_outcome_is_cancelled_when_analysis_no_longer_exists(
    sqlite_settings: Settings, models: Models, three_shot_film: GeneratedVideo
) -> None:
    result = analyze_path(three_shot_film.path, sqlite_settings, models=models)
    with session_scope(sqlite_settings.sqlalchemy_url) as session:
        films_service.delete_film(session, result.film_id or 0)

    outcome = prepare(result.analysis_id or 0, StageCall(sqlite_settings))

    assert outcome.status is RunStatus.CANCELLED and "no longer exists" in (outcome.error or "")


def test_analysis_settings_key_analyses_on_what_changes_results_only(
    sqlite_settings: Settings,
) -> None:
    faster = sqlite_settings.model_copy(
        update={"model": ModelSettings(batch_size=64, device="cpu")}
    )
    coarser = sqlite_settings.model_copy(update={"pipeline": PipelineSettings(working_size=160)})
    with_subtitles = sqlite_settings.model_copy(
        update={"model": ModelSettings(skip_subtitles=False)}
    )

    base = analysis_settings(sqlite_settings)

    assert analysis_settings(faster) == base
    assert analysis_settings(coarser) != base
    assert analysis_settings(with_subtitles) != base
    windowed = sqlite_settings.model_copy(
        update={"model": ModelSettings(burn_in_regions=[(0.6, 0.85, 0.95, 0.95)])}
    )
    assert analysis_settings(windowed)["picture"]["burn_in_regions"] == [[0.6, 0.85, 0.95, 0.95]]
    assert PipelineSettings.model_validate(base["pipeline"]) == sqlite_settings.pipeline


def test_stage_outcome_proceeds_only_while_running() -> None:
    outcome = StageOutcome(1, "prepare", RunStatus.RUNNING, 0.1)

    assert outcome.proceed
    assert not dataclasses.replace(outcome, status=RunStatus.FAILED).proceed
