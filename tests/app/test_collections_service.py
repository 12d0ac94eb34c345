"""Collections: membership and statistics."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.collections import service as collections_service
from app.collections.schemas import CollectionCreate
from app.core.pagination import PageParams
from app.films import service as films_service
from app.pipeline.quantify import ratio_range
from tests.app.factories import hybrid_rates, make_analysis, make_film


def test_add_films_skips_members_and_remove_films_keeps_films(session: Session) -> None:
    film_ids = [make_film(session) for _ in range(3)]
    collection = collections_service.create_collection(session, CollectionCreate(name="C"))

    assert collections_service.add_films(session, collection.id, film_ids[:2]) == 2
    assert collections_service.add_films(session, collection.id, film_ids) == 1
    assert collections_service.remove_films(session, collection.id, [film_ids[0]]) == 1
    session.commit()

    assert collections_service.get_collection(session, collection.id).film_count == 2
    assert films_service.get_film(session, film_ids[0]).id == film_ids[0]


def test_add_films_raises_when_a_film_is_missing(session: Session) -> None:
    collection = collections_service.create_collection(session, CollectionCreate(name="C"))

    with pytest.raises(films_service.FilmNotFound):
        collections_service.add_films(session, collection.id, [12345])


def test_create_collection_refuses_taken_name(session: Session) -> None:
    collections_service.create_collection(session, CollectionCreate(name="Same"))

    with pytest.raises(collections_service.CollectionNameTaken):
        collections_service.create_collection(session, CollectionCreate(name="Same"))


def test_list_collections_counts_films(session: Session) -> None:
    first = collections_service.create_collection(session, CollectionCreate(name="A"))
    collections_service.create_collection(session, CollectionCreate(name="B"))
    collections_service.add_films(session, first.id, [make_film(session)])

    page = collections_service.list_collections(session, PageParams())

    assert page.total == 2
    assert [(c.name, c.film_count) for c in page.items] == [("A", 1), ("B", 0)]


def test_collection_stats_weights_by_duration_and_bins_ratios(session: Session) -> None:
    short = make_film(session, duration_s=60.0)
    long = make_film(session, duration_s=180.0)
    unanalysed = make_film(session, duration_s=100.0)
    make_analysis(session, film_id=short, hybrid_ratio=0.1)
    # Only the long film's analysis carries an adjusted ratio.
    make_analysis(
        session, film_id=long, hybrid_ratio=1.0, summary_extra={"adjusted_hybrid_ratio": 0.9}
    )
    collection = collections_service.create_collection(session, CollectionCreate(name="S"))
    collections_service.add_films(session, collection.id, [short, long, unanalysed])
    session.commit()

    stats = collections_service.collection_stats(session, collection.id, bins=4)

    assert (stats.film_count, stats.analyzed_count) == (3, 2)
    assert stats.total_duration_s == 340.0 and stats.analyzed_duration_s == 240.0
    assert stats.mean_hybrid_ratio == pytest.approx(0.55)
    assert stats.time_weighted_hybrid_ratio == pytest.approx((6 + 180) / 240)
    assert stats.adjusted_count == 1
    assert stats.time_weighted_adjusted_hybrid_ratio == pytest.approx(0.9)
    assert stats.hybrid_duration_s == pytest.approx(186.0)
    assert (stats.min_hybrid_ratio, stats.max_hybrid_ratio) == (0.1, 1.0)
    assert stats.hybrid_shot_count == 4
    assert [b.count for b in stats.hybrid_ratio_histogram] == [1, 0, 0, 1]


def test_collection_range_over_films_that_err_apart_given_the_rates(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rates = hybrid_rates()
    # Six 1 s frames a film, P / hybrid / NP in each of two shots: four units, each shot's
    # P and NP frames (2 s) and its hybrid frame (1 s).
    units = np.array([False, True, False, True]), np.array([2.0, 1.0, 2.0, 1.0])
    one_low, one_high = ratio_range(*units, rates)
    adjusted = rates.adjust(2 / 6)
    films = [make_film(session, duration_s=d) for d in (60.0, 180.0, 100.0)]
    for film_id in films[:2]:
        make_analysis(
            session,
            film_id=film_id,
            hybrid_ratio=2 / 6,
            summary_extra={"adjusted_hybrid_ratio": adjusted, "hybrid_rates": rates.as_meta()},
        )
    collection = collections_service.create_collection(session, CollectionCreate(name="R"))
    collections_service.add_films(session, collection.id, films[:1])
    session.commit()
    # One film: its own range (drawn from a stream of its own, so up to the draws' noise).
    alone = collections_service.collection_stats(session, collection.id)
    assert alone.adjusted_hybrid_ratio_range == pytest.approx((one_low, one_high), abs=0.05)

    collections_service.add_films(session, collection.id, films[1:2])
    session.commit()
    stats = collections_service.collection_stats(session, collection.id)
    assert stats.adjusted_count == 2 and stats.adjusted_hybrid_ratio_range is not None
    low, high = stats.adjusted_hybrid_ratio_range
    # Two films err apart given the rates: what one film leaves open, two narrow down.
    assert high - low < one_high - one_low
    assert low <= stats.time_weighted_adjusted_hybrid_ratio <= high

    # More films than a statistics request computes a range for: none.
    monkeypatch.setattr(collections_service, "RANGE_MAX_FILMS", 1)
    assert (
        collections_service.collection_stats(session, collection.id).adjusted_hybrid_ratio_range
        is None
    )
    monkeypatch.undo()

    # A film adjusted by other rates (another model): no single range holds for both.
    other = hybrid_rates(tpr=0.9)
    make_analysis(
        session,
        film_id=films[2],
        hybrid_ratio=2 / 6,
        summary_extra={"adjusted_hybrid_ratio": 0.3, "hybrid_rates": other.as_meta()},
    )
    collections_service.add_films(session, collection.id, [films[2]])
    session.commit()
    stats = collections_service.collection_stats(session, collection.id)
    assert stats.adjusted_count == 3 and stats.adjusted_hybrid_ratio_range is None


def test_collection_stats_of_empty_collection_has_no_ratios(session: Session) -> None:
    collection = collections_service.create_collection(session, CollectionCreate(name="E"))

    stats = collections_service.collection_stats(session, collection.id)

    assert stats.film_count == 0 and stats.mean_hybrid_ratio is None
    assert stats.time_weighted_hybrid_ratio is None
    assert stats.adjusted_count == 0 and stats.time_weighted_adjusted_hybrid_ratio is None
    assert stats.adjusted_hybrid_ratio_range is None
    assert sum(b.count for b in stats.hybrid_ratio_histogram) == 0


def test_delete_collection_keeps_films(session: Session) -> None:
    film_id = make_film(session)
    collection = collections_service.create_collection(session, CollectionCreate(name="D"))
    collections_service.add_films(session, collection.id, [film_id])

    collections_service.delete_collection(session, collection.id)

    with pytest.raises(collections_service.CollectionNotFound):
        collections_service.get_collection(session, collection.id)
    assert films_service.get_film(session, film_id).id == film_id
