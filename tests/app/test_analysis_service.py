"""Starting, re-running, recording and reading analyses."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis.schemas import AnalysisSummary, FrameQuery, FrameRecord
from app.core.domain import FrameClass, RunStatus
from app.core.errors import InvalidRequestError
from app.films import service as films_service
from app.models import Analysis, Frame, Shot
from tests.app.factories import (
    DEFAULT_SETTINGS,
    HALF_MASK,
    frame_records,
    make_analysis,
    make_film,
    shot_records,
    summary,
)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_start_analysis_replaces_results_when_versions_and_settings_match(
    session: Session,
) -> None:
    film_id = make_film(session)
    first = make_analysis(session, film_id=film_id, frames=9, shots=3)
    session.commit()

    second = make_analysis(session, film_id=film_id, frames=6, shots=2)
    session.commit()

    assert second == first
    assert _count(session, Analysis) == 1
    assert _count(session, Frame) == 6
    assert _count(session, Shot) == 2


def test_start_analysis_resets_status_and_results_of_previous_run(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id)
    session.commit()

    again = analysis_service.start_analysis(
        session, film_id, "vit-proxy-1", "segformer-1", DEFAULT_SETTINGS
    )
    session.commit()

    analysis = analysis_service.get_analysis(session, again)
    assert again == analysis_id
    assert analysis.status is RunStatus.RUNNING
    assert (analysis.progress, analysis.summary, analysis.error) == (0.0, None, None)
    assert _count(session, Frame) == 0 and _count(session, Shot) == 0


def test_settings_hash_ignores_key_order() -> None:
    a = {"x": 1, "nested": {"b": 2, "a": [1, 2]}}
    b = {"nested": {"a": [1, 2], "b": 2}, "x": 1}
    assert analysis_service.settings_hash(a) == analysis_service.settings_hash(b)
    assert analysis_service.settings_hash(a) != analysis_service.settings_hash({"x": 2})


def test_start_analysis_creates_new_analysis_when_settings_or_versions_differ(
    session: Session,
) -> None:
    film_id = make_film(session)
    base = make_analysis(session, film_id=film_id)
    other_settings = make_analysis(session, film_id=film_id, settings={"working_size": 640})
    other_model = make_analysis(session, film_id=film_id, classifier_version="vit-proxy-2")
    session.commit()

    assert len({base, other_settings, other_model}) == 3
    assert _count(session, Analysis) == 3
    assert _count(session, Frame) == 18
    assert [a.id for a in analysis_service.list_analyses(session, film_id)] == sorted(
        [base, other_settings, other_model]
    )


def test_start_analysis_raises_when_film_is_missing(session: Session) -> None:
    with pytest.raises(films_service.FilmNotFound):
        analysis_service.start_analysis(session, 999, "c", "s", {})


def test_update_progress_clamps_and_stops_after_finish(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})

    assert analysis_service.update_progress(session, analysis_id, "classify", 1.7)
    analysis = analysis_service.get_analysis(session, analysis_id)
    assert (analysis.stage, analysis.progress) == ("classify", 1.0)

    analysis_service.finish_analysis(session, analysis_id, RunStatus.FAILED, error="boom")
    assert not analysis_service.update_progress(session, analysis_id, "segment", 0.5)
    assert not analysis_service.update_progress(session, 12345, "segment", 0.5)


def test_finish_analysis_partial_keeps_frames_and_error_location(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    analysis_service.save_frames(session, analysis_id, frame_records(4))
    analysis_service.finish_analysis(
        session,
        analysis_id,
        "partial",
        summary=summary(hybrid_ratio=0.5),
        error="decode error: invalid NAL unit",
        error_frame=100,
        error_time_s=4.0,
    )
    session.commit()

    analysis = analysis_service.get_analysis(session, analysis_id)
    assert analysis.status is RunStatus.PARTIAL
    assert (analysis.error_frame, analysis.error_time_s) == (100, 4.0)
    assert analysis.error is not None and "NAL" in analysis.error
    assert _count(session, Frame) == 4
    # Partial figures are real figures: the film is queryable by them.
    assert films_service.get_film(session, film_id).hybrid_ratio == 0.5


def test_finish_analysis_keeps_extra_summary_keys_and_rejects_running(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})

    with pytest.raises(InvalidRequestError):
        analysis_service.finish_analysis(session, analysis_id, RunStatus.RUNNING)
    analysis_service.finish_analysis(
        session, analysis_id, RunStatus.DONE, summary=AnalysisSummary(**summary())
    )

    stored = analysis_service.get_analysis(session, analysis_id).summary
    assert stored is not None and stored["longest_hybrid_run_s"] == 4.0


def test_save_frames_rejects_duplicate_frame_index(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    analysis_service.save_frames(session, analysis_id, frame_records(2))
    session.commit()

    with pytest.raises(IntegrityError):
        analysis_service.save_frames(session, analysis_id, frame_records(1))


def test_save_frames_inserts_generator_in_chunks(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    records = (record for record in frame_records(25))

    saved = analysis_service.save_frames(session, analysis_id, records, chunk_size=7)

    assert saved == 25
    assert _count(session, Frame) == 25


def test_list_frames_filters_by_class_time_and_p_fraction(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id, frames=12)
    session.commit()

    def frames(**query: object) -> list[int]:
        page = analysis_service.list_frames(session, analysis_id, FrameQuery(**query))
        return [frame.frame_index for frame in page.items]

    assert frames(frame_class=FrameClass.HYBRID) == [25, 100, 175, 250]
    assert frames(min_time_s=2.0, max_time_s=4.0) == [50, 75, 100]
    assert frames(max_p_fraction=0.0) == [50, 125, 200, 275]
    assert frames(shot_index=1) == [75, 100, 125]
    page = analysis_service.list_frames(session, analysis_id, FrameQuery(limit=5, offset=10))
    assert page.total == 12 and [f.frame_index for f in page.items] == [250, 275]
    hybrid = analysis_service.list_frames(
        session, analysis_id, FrameQuery(frame_class="hybrid", limit=1)
    ).items[0]
    assert hybrid.has_mask and hybrid.np_grid == [[0.5, 0.0], [0.0, 0.5]]


def test_get_frame_mask_returns_bytes_or_typed_errors(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id, frames=3)
    session.commit()

    assert analysis_service.get_frame_mask(session, analysis_id, 25) == HALF_MASK
    with pytest.raises(analysis_service.MaskNotFound):
        analysis_service.get_frame_mask(session, analysis_id, 0)
    with pytest.raises(analysis_service.FrameNotFound):
        analysis_service.get_frame_mask(session, analysis_id, 1)


def test_get_film_report_gathers_film_analysis_shots_and_frames(session: Session) -> None:
    film_id = make_film(session, title="Report")
    analysis_id = make_analysis(session, film_id=film_id, frames=6, shots=2)
    session.commit()

    report = analysis_service.get_film_report(session, film_id)

    assert report.film.title == "Report" and report.film.probe["codec"] == "h264"
    assert report.analysis is not None and report.analysis.id == analysis_id
    assert report.analysis.timeline == {"time_s": [0.0, 1.0], "hybrid": [0.0, 1.0]}
    assert report.analysis.detector == {"name": "adaptive", "threshold": 3.0}
    assert [shot.shot_index for shot in report.shots] == [0, 1]
    assert [frame.frame_index for frame in report.frames] == [0, 25, 50, 75, 100, 125]
    assert '"hybrid_ratio":0.3' in report.model_dump_json()


def test_get_film_report_is_empty_when_film_never_analysed(session: Session) -> None:
    film_id = make_film(session)

    report = analysis_service.get_film_report(session, film_id)

    assert report.analysis is None and report.shots == [] and report.frames == []


def test_resolve_analysis_id_refuses_analysis_of_another_film(session: Session) -> None:
    film_a, film_b = make_film(session), make_film(session)
    analysis_b = make_analysis(session, film_id=film_b)

    with pytest.raises(analysis_service.AnalysisNotFound):
        analysis_service.resolve_analysis_id(session, film_a, analysis_b)
    assert analysis_service.resolve_analysis_id(session, film_b) == analysis_b


def test_save_frames_accepts_mappings(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    record = FrameRecord(frame_index=3, time_s=0.12, frame_class="NP", p_fraction=0.0, weight_s=1)

    analysis_service.save_frames(
        session,
        analysis_id,
        [
            record,
            {
                "frame_index": 4,
                "time_s": 0.16,
                "frame_class": "P",
                "p_fraction": 1.0,
                "weight_s": 1.0,
            },
        ],
    )
    analysis_service.save_shots(session, analysis_id, shot_records(1))

    page = analysis_service.list_frames(session, analysis_id, FrameQuery())
    assert [(f.frame_index, f.frame_class) for f in page.items] == [
        (3, FrameClass.NP),
        (4, FrameClass.P),
    ]


@dataclass(frozen=True)
class _PipelineShot:
    """Shaped like the pipeline's shot statistics: no class when nothing was classified."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    frame_class: FrameClass | None
    hybrid_ratio: float
    mean_p_fraction: float | None
    classified_s: float
    sampled_frames: int


@dataclass(frozen=True)
class _PipelineFilmStats:
    duration_s: float
    hybrid_ratio: float
    p_time_share: float
    np_time_share: float
    hybrid_time_share: float
    mean_p_fraction: float | None
    shot_count: int
    hybrid_shot_count: int
    ratio: Fraction


@dataclass(frozen=True)
class _TimelineBin:
    start_s: float
    end_s: float
    hybrid_share: float


def test_finish_analysis_accepts_pipeline_dataclasses(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    analysis_service.save_shots(
        session, analysis_id, [_PipelineShot(0, 0, 10, 0.0, 0.4, None, 0.0, None, 0.0, 0)]
    )
    stats = _PipelineFilmStats(10.0, 0.2, 0.5, 0.3, 0.2, None, 1, 0, Fraction(16, 15))
    analysis_service.finish_analysis(
        session,
        analysis_id,
        RunStatus.DONE,
        summary=stats,
        timeline=[_TimelineBin(0.0, 5.0, 0.4), _TimelineBin(5.0, 10.0, 0.0)],
    )
    session.commit()

    report = analysis_service.get_film_report(session, film_id)
    assert report.shots[0].frame_class is None and report.shots[0].sampled_frames == 0
    assert report.analysis is not None and report.analysis.summary is not None
    assert report.analysis.summary["ratio"] == "16/15"
    assert report.analysis.timeline == [
        {"start_s": 0.0, "end_s": 5.0, "hybrid_share": 0.4},
        {"start_s": 5.0, "end_s": 10.0, "hybrid_share": 0.0},
    ]
    assert report.film.hybrid_ratio == 0.2 and report.film.mean_p_fraction is None


def test_not_found_errors_say_what_is_missing_in_words(session: Session) -> None:
    film_id = make_film(session)
    never = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id)
    session.commit()

    with pytest.raises(analysis_service.AnalysisNotFound) as no_analysis:
        analysis_service.resolve_analysis_id(session, never)
    with pytest.raises(analysis_service.AnalysisNotFound) as not_its:
        analysis_service.resolve_analysis_id(session, never, analysis_id)
    with pytest.raises(analysis_service.FrameNotFound) as no_frame:
        analysis_service.get_frame_mask(session, analysis_id, 99999)
    with pytest.raises(analysis_service.MaskNotFound) as no_mask:
        analysis_service.get_frame_mask(session, analysis_id, 0)  # a P frame: no mask

    assert str(no_analysis.value) == f"film {never} has not been analysed"
    assert str(not_its.value) == f"film {never} has no analysis {analysis_id}"
    assert str(no_frame.value) == f"film {film_id} has no sampled frame 99999"
    assert str(no_mask.value) == f"frame 0 of film {film_id} has no mask"
    assert str(analysis_service.AnalysisNotFound(7)) == "analysis 7 not found"
