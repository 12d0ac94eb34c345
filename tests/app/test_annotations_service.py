"""The annotation service on both databases: imported range labels, and two writers racing
for the same version."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.analysis.schemas import FrameQuery
from app.annotations import repository
from app.annotations import service as annotations_service
from app.films import service as films_service
from tests.app.factories import hybrid_rates, make_analysis, make_film


def _png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((6, 8), value, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_imported_range_labels_count_as_checked_and_yield_to_human_ones(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = make_analysis(session, film_id=film_id, frames=6, shots=2)
    annotations_service.add_range_label(
        session,
        film_id,
        start_frame=0,
        end_frame=60,
        start_time=0.0,
        end_time=2.4,
        label="NP",
        source="elan",
        author="import",
        detail={"tier": "Image Type"},
    )
    annotations_service.set_frame_label(session, film_id, 25, "P", author="me")
    frames = analysis_service.list_frames(session, analysis_id, FrameQuery(limit=10)).items
    assert [(f.frame_index, f.frame_class, f.label_source) for f in frames[:4]] == [
        (0, "NP", "elan"),
        (25, "P", "human"),
        (50, "NP", "elan"),
        (75, "P", "model"),
    ]
    figures = analysis_service.film_figures(session, analysis_id)
    assert figures is not None and figures.human_checked_share == pytest.approx(0.5)
    labels = annotations_service.active_labels(session, film_id)
    assert {(label.scope, label.source) for label in labels} == {
        ("range", "elan"),
        ("frame", "human"),
    }


def test_two_writers_racing_for_one_version_get_a_conflict(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    film_id = make_film(session)
    make_analysis(session, film_id=film_id, frames=3)
    annotations_service.put_mask(session, film_id, 0, _png(255), author="first")
    # The second writer read "no version yet" before the first one's insert.
    monkeypatch.setattr(repository, "latest_mask", lambda *args, **kwargs: None)
    with pytest.raises(annotations_service.ConcurrentChange):
        annotations_service.put_mask(session, film_id, 0, _png(0), author="second")
    monkeypatch.undo()
    session.commit()  # the first writer's version survives the second's failed insert
    served = annotations_service.get_mask(session, film_id, 0)
    assert served.source == "human"


def test_reanalysis_keeps_the_films_figures_those_of_its_annotations(session: Session) -> None:
    from app.films import repository as films_repository

    film_id = make_film(session)
    make_analysis(session, film_id=film_id, frames=6, shots=2, hybrid_ratio=0.3)
    for shot_number in (1, 2):
        annotations_service.set_shot_label(session, film_id, shot_number, "hybrid", author="me")
    film = films_repository.get(session, film_id)
    assert film is not None and film.hybrid_ratio == pytest.approx(1.0)

    # The same film analysed again: its annotations still stand over the new frames.
    analysis_id = make_analysis(session, film_id=film_id, frames=6, shots=2, hybrid_ratio=0.3)

    figures = analysis_service.film_figures(session, analysis_id)
    film = films_repository.get(session, film_id)
    assert figures is not None and figures.summary["hybrid_ratio"] == pytest.approx(1.0)
    assert film is not None and film.hybrid_ratio == pytest.approx(1.0)


def test_the_adjusted_ratio_stands_until_a_person_corrects_a_frame(session: Session) -> None:
    from app.films import repository as films_repository

    rates = hybrid_rates()
    film_id = make_film(session)
    # Six 1-second frames (0, 25, 50, ...): P, hybrid, NP, P, hybrid, NP. A range label
    # between two sampled frames recomputes the figures with the models' calls only.
    analysis_id = make_analysis(
        session, film_id=film_id, frames=6, summary_extra={"hybrid_rates": rates.as_meta()}
    )
    annotations_service.add_range_label(
        session, film_id, start_frame=1, end_frame=10, start_time=0.04, end_time=0.4,
        label="NP", source="elan", author="import", detail={},
    )  # fmt: skip
    figures = analysis_service.film_figures(session, analysis_id)
    assert figures is not None
    assert figures.summary["adjusted_hybrid_ratio"] == pytest.approx(rates.adjust(2 / 6))
    low, high = figures.summary["hybrid_ratio_range"]
    assert low <= rates.adjust(2 / 6) <= high
    cached = films_repository.get(session, film_id)
    assert cached is not None and (cached.hybrid_ratio_low, cached.hybrid_ratio_high) == (low, high)

    # A person labels a frame: the frames left are not a random sample of the models'
    # calls any more, so the counted ratio with the correction stands alone.
    annotations_service.set_frame_label(session, film_id, 0, "hybrid", author="me")

    figures = analysis_service.film_figures(session, analysis_id)
    assert figures is not None and figures.summary["hybrid_ratio"] == pytest.approx(3 / 6)
    assert figures.summary["adjusted_hybrid_ratio"] is None
    assert figures.summary["hybrid_ratio_range"] is None
    film = films_repository.get(session, film_id)
    assert film is not None and film.hybrid_ratio == pytest.approx(3 / 6)
    assert film.adjusted_hybrid_ratio is None
    assert film.hybrid_ratio_low is None and film.hybrid_ratio_high is None


def test_a_label_on_a_film_whose_analysis_failed_leaves_it_failed(session: Session) -> None:
    film_id = make_film(session)
    analysis_id = analysis_service.start_analysis(session, film_id, "c", "s", {})
    analysis_service.finish_analysis(session, analysis_id, "failed", error="not a video")
    annotations_service.add_range_label(
        session,
        film_id,
        start_frame=0,
        end_frame=60,
        start_time=0.0,
        end_time=2.4,
        label="NP",
        source="elan",
        author="import",
    )
    session.commit()

    film = films_service.get_film(session, film_id)
    assert (film.analysis_status, film.analysis_note, film.hybrid_ratio) == (
        "failed",
        "not a video",
        None,
    )
