"""Collection logic: named groups of films, membership, and statistics over them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from app.collections import repository
from app.collections.schemas import (
    CollectionCreate,
    CollectionPublic,
    CollectionStats,
    HistogramBin,
)
from app.core.errors import ConflictError, InvalidRequestError, NotFoundError
from app.core.pagination import Page, PageParams
from app.films import repository as films_repository
from app.films.service import FilmNotFound
from app.models.base import utcnow
from app.pipeline.quantify import HybridRates, collection_range


class CollectionNotFound(NotFoundError):
    def __init__(self, collection_id: int) -> None:
        super().__init__("collection", collection_id)


class CollectionNameTaken(ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(f"a collection named {name!r} already exists")
        self.name = name


def create_collection(session: Session, data: CollectionCreate) -> CollectionPublic:
    if repository.get_id_by_name(session, data.name) is not None:
        raise CollectionNameTaken(data.name)
    collection_id = repository.insert_collection(
        session, {"name": data.name, "description": data.description, "created_at": utcnow()}
    )
    return get_collection(session, collection_id)


def get_collection(session: Session, collection_id: int) -> CollectionPublic:
    collection = repository.get(session, collection_id)
    if collection is None:
        raise CollectionNotFound(collection_id)
    public = CollectionPublic.model_validate(collection)
    public.film_count = repository.film_count(session, collection_id)
    return public


def list_collections(session: Session, page: PageParams) -> Page[CollectionPublic]:
    rows = repository.list_with_counts(session, page.limit, page.offset)
    return Page[CollectionPublic](
        items=[CollectionPublic.model_validate(row) for row in rows],
        total=repository.count(session),
        limit=page.limit,
        offset=page.offset,
    )


def delete_collection(session: Session, collection_id: int) -> None:
    """Delete the collection (its films stay; its batches keep their history)."""
    if not repository.delete_collection(session, collection_id):
        raise CollectionNotFound(collection_id)


def add_films(session: Session, collection_id: int, film_ids: Sequence[int]) -> int:
    """Add films (already members are skipped); returns how many were new."""
    if repository.get(session, collection_id) is None:
        raise CollectionNotFound(collection_id)
    wanted = sorted(set(film_ids))
    unknown = set(wanted) - films_repository.existing_ids(session, wanted)
    if unknown:
        raise FilmNotFound(min(unknown))
    new = [
        film for film in wanted if film not in repository.member_ids(session, collection_id, wanted)
    ]
    now = utcnow()
    repository.add_members(
        session,
        [{"collection_id": collection_id, "film_id": film, "added_at": now} for film in new],
    )
    return len(new)


def remove_films(session: Session, collection_id: int, film_ids: Sequence[int]) -> int:
    """Remove films from the collection (not from the archive); returns how many were."""
    if repository.get(session, collection_id) is None:
        raise CollectionNotFound(collection_id)
    if not film_ids:
        return 0
    return repository.remove_members(session, collection_id, sorted(set(film_ids)))


def histogram(values: Sequence[float], bins: int) -> list[HistogramBin]:
    """Equal-width bins over [0, 1]; 1.0 falls in the last bin."""
    if bins < 1:
        raise InvalidRequestError("bins must be at least 1")
    counts = [0] * bins
    for value in values:
        counts[min(int(value * bins), bins - 1)] += 1
    return [
        HistogramBin(lower=index / bins, upper=(index + 1) / bins, count=count)
        for index, count in enumerate(counts)
    ]


def collection_stats(session: Session, collection_id: int, *, bins: int = 10) -> CollectionStats:
    if repository.get(session, collection_id) is None:
        raise CollectionNotFound(collection_id)
    row = repository.stats_row(session, collection_id)
    analysed_duration = float(row.analyzed_duration_s)

    def weighted(total: float | None, over_s: float | None = analysed_duration) -> float | None:
        if total is None or over_s is None or over_s <= 0.0:
            return None
        return float(total) / over_s

    adjusted = weighted(row.weighted_adjusted, row.adjusted_duration_s)
    return CollectionStats(
        collection_id=collection_id,
        film_count=row.film_count,
        analyzed_count=row.analyzed_count,
        total_duration_s=float(row.total_duration_s),
        analyzed_duration_s=analysed_duration,
        hybrid_duration_s=float(row.hybrid_duration_s),
        mean_hybrid_ratio=None if row.mean_hybrid_ratio is None else float(row.mean_hybrid_ratio),
        time_weighted_hybrid_ratio=weighted(row.weighted_hybrid),
        # Over the films whose ratio was adjusted (``adjusted_count``: analysed with models
        # that carry rates, and not corrected by people since).
        adjusted_count=int(row.adjusted_count),
        time_weighted_adjusted_hybrid_ratio=adjusted,
        adjusted_hybrid_ratio_range=_adjusted_range(
            session, collection_id, adjusted, int(row.adjusted_count)
        ),
        time_weighted_p_share=weighted(row.weighted_p),
        time_weighted_np_share=weighted(row.weighted_np),
        min_hybrid_ratio=row.min_hybrid_ratio,
        max_hybrid_ratio=row.max_hybrid_ratio,
        hybrid_shot_count=int(row.hybrid_shot_count),
        hybrid_ratio_histogram=histogram(repository.hybrid_ratios(session, collection_id), bins),
    )


# Above this many adjusted films a collection's range is not computed on a statistics
# request (its films' draws take about 0.01-0.1 s each, the first time).
RANGE_MAX_FILMS = 200


def _adjusted_range(
    session: Session, collection_id: int, adjusted: float | None, adjusted_count: int
) -> tuple[float, float] | None:
    """The 90 % range of the collection's true hybrid share of running time over its
    adjusted films (``quantify.collection_range``); None when it has none, more than
    ``RANGE_MAX_FILMS``, or films adjusted by different rates (other models, or rates
    without spreads)."""
    if adjusted is None or not 0 < adjusted_count <= RANGE_MAX_FILMS:
        return None
    films = repository.adjusted_films(session, collection_id)
    found = {HybridRates.from_meta((summary or {}).get("hybrid_rates")) for _, _, summary in films}
    rates = found.pop() if len(found) == 1 else None
    if rates is None or not rates.ranged:
        return None
    weighed = [(film_id, float(duration or 0.0)) for film_id, duration, _ in films]
    units: dict[int, tuple[list[bool], list[float]]] = {
        film_id: ([], []) for film_id, duration in weighed if duration > 0
    }
    for film_id, _, hybrid, seconds in repository.range_units(session, list(units)):
        units[film_id][0].append(hybrid)
        units[film_id][1].append(float(seconds or 0.0))
    parts = [
        (film_id, np.array(units[film_id][0], bool), np.array(units[film_id][1]), duration)
        for film_id, duration in weighed
        if film_id in units and sum(units[film_id][1]) > 0
    ]
    if not parts:
        return None
    return collection_range(parts, rates, holding=adjusted)


def set_models(
    session: Session,
    collection_id: int,
    *,
    classifier_path: str | None,
    segmenter_path: str | None,
) -> None:
    """Analyse this collection's films with these weights directories (None: the
    configured ones); the next analysis of each film uses them (a new analysis row, since
    its model versions differ)."""
    collection = repository.get(session, collection_id)
    if collection is None:
        raise CollectionNotFound(collection_id)
    collection.classifier_path = classifier_path
    collection.segmenter_path = segmenter_path
    session.flush()


def models_for_film(session: Session, film_id: int) -> tuple[str | None, str | None]:
    """(classifier, segmenter) weights directories the film's collections set, the first
    collection (by id) that sets each; (None, None) when none does."""
    classifier = segmenter = None
    for row in repository.model_paths_of_film(session, film_id):
        classifier = classifier or row.classifier_path
        segmenter = segmenter or row.segmenter_path
    return classifier, segmenter
