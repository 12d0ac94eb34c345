"""Frame embeddings: stored with an analysis by its ``finish`` stage, searched for look-alikes.

Search runs over the current analysis of every film (the one behind its figures) through one
in-memory ``EmbeddingIndex`` per database, brought up to date before each query. The API, the
CLI and the page all come through here.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from sqlalchemy.orm import Session

from app.analysis import service as analysis_service
from app.collections import repository as collections_repository
from app.collections.service import CollectionNotFound
from app.core.domain import FrameClass
from app.core.errors import InvalidRequestError, NotFoundError
from app.embeddings import repository
from app.embeddings.index import EmbeddingIndex, VectorRow, decode_vector
from app.embeddings.schemas import MAX_K, SimilarFrame

_indexes: dict[str, EmbeddingIndex] = {}
_indexes_lock = threading.Lock()


class EmbeddingNotFound(NotFoundError):
    """The frame was not sampled by the film's analysis, or was analysed before embeddings."""

    def __init__(self, film_id: int, frame_index: int) -> None:
        super().__init__(
            "embedding of frame",
            (film_id, frame_index),
            f"embedding of frame {frame_index} of film {film_id} not found",
        )


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def save_embeddings(
    session: Session,
    analysis_id: int,
    frame_indices: Sequence[int],
    vectors: np.ndarray,
    version: str,
) -> int:
    """Store one vector per sampled frame (after ``clear_results`` removed earlier ones)."""
    if len(frame_indices) != len(vectors):
        raise ValueError(f"{len(frame_indices)} frames but {len(vectors)} vectors")
    rows = [
        {
            "analysis_id": analysis_id,
            "frame_index": int(frame_index),
            "version": version,
            "vector": encode_vector(vector),
        }
        for frame_index, vector in zip(frame_indices, vectors, strict=True)
    ]
    for start in range(0, len(rows), 1000):
        repository.insert_embeddings(session, rows[start : start + 1000])
    return len(rows)


def film_embeddings(session: Session, analysis_id: int) -> tuple[list[int], np.ndarray]:
    """An analysis's frame indices and (N, D) float32 vectors, in frame order."""
    rows = repository.vectors_of(session, analysis_id)
    if not rows:
        return [], np.zeros((0, 0), np.float32)
    return [int(row[0]) for row in rows], np.stack([decode_vector(row[4]) for row in rows])


def index_for(session: Session) -> EmbeddingIndex:
    """This database's index, synced with the films' current analyses."""
    key = str(session.get_bind().engine.url)
    with _indexes_lock:
        index = _indexes.setdefault(key, EmbeddingIndex())
    index.sync(
        repository.current_analyses(session), lambda analysis_id: _rows(session, analysis_id)
    )
    return index


def _rows(session: Session, analysis_id: int) -> Sequence[VectorRow]:
    """An analysis's vector rows with each frame's effective class (corrections applied), so
    that a search filtered by class agrees with the frame lists and the figures."""
    rows = repository.vectors_of(session, analysis_id)
    classes = analysis_service.effective_classes(session, analysis_id)
    if classes is None:
        return rows
    return [
        (row[0], row[1], classes.get(int(row[0]), FrameClass(row[2])), row[3], row[4])
        for row in rows
    ]


def check_k(k: int) -> None:
    if not 1 <= k <= MAX_K:
        raise InvalidRequestError(f"k must be between 1 and {MAX_K}")


def _films_of(session: Session, collection_id: int | None) -> list[int] | None:
    if collection_id is None:
        return None
    if collections_repository.get(session, collection_id) is None:
        raise CollectionNotFound(collection_id)
    return repository.collection_film_ids(session, collection_id)


def similar_to_frame(
    session: Session,
    film_id: int,
    frame_index: int,
    *,
    k: int = 20,
    collection_id: int | None = None,
    frame_class: FrameClass | None = None,
) -> list[SimilarFrame]:
    """The stored frames most like a film's sampled frame, best first, without itself."""
    check_k(k)
    analysis_id = analysis_service.resolve_analysis_id(session, film_id)  # FilmNotFound
    stored = repository.vector_of(session, analysis_id, frame_index)
    if stored is None:
        raise EmbeddingNotFound(film_id, frame_index)
    films = _films_of(session, collection_id)
    hits = index_for(session).search(
        decode_vector(stored[1]),
        k,
        version=stored[0],
        films=films,
        frame_class=frame_class,
        exclude=(film_id, frame_index),
    )
    return [SimilarFrame(**hit.__dict__) for hit in hits]


def similar_to_vector(
    session: Session,
    vector: np.ndarray | Sequence[float],
    version: str,
    *,
    k: int = 20,
    collection_id: int | None = None,
    frame_class: FrameClass | None = None,
) -> list[SimilarFrame]:
    """The stored frames most like an embedded still (of the embedder ``version``)."""
    check_k(k)
    films = _films_of(session, collection_id)
    hits = index_for(session).search(
        np.asarray(vector, np.float32), k, version=version, films=films, frame_class=frame_class
    )
    return [SimilarFrame(**hit.__dict__) for hit in hits]
