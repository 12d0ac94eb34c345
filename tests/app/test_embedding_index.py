"""The in-memory look-alike index: exact top k, filters, and following the database."""

from __future__ import annotations

import itertools

import numpy as np

from app.core.domain import FrameClass
from app.embeddings.index import EmbeddingIndex


def _rows(vectors: np.ndarray, classes: list[FrameClass], version: str = "v1") -> list[tuple]:
    return [
        (
            index * 10,
            index * 0.5,
            classes[index % len(classes)],
            version,
            vector.astype("<f2").tobytes(),
        )
        for index, vector in enumerate(vectors)
    ]


def _unit(rng: np.random.Generator, count: int, dimension: int = 16) -> np.ndarray:
    vectors = rng.standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_search_returns_the_exact_top_k_best_first_without_the_query() -> None:
    rng = np.random.default_rng(0)
    vectors = {1: _unit(rng, 30), 2: _unit(rng, 30)}
    index = EmbeddingIndex()
    index.sync({1: (11, "t"), 2: (12, "t")}, lambda a: _rows(vectors[a - 10], [FrameClass.P]))
    query = vectors[1][3]

    hits = index.search(query, 5, version="v1", exclude=(1, 30))

    every = [
        (f, i * 10, float(v.astype(np.float16).astype(np.float32) @ query))
        for f in (1, 2)
        for i, v in enumerate(vectors[f])
    ]
    every = [hit for hit in every if (hit[0], hit[1]) != (1, 30)]
    expected = sorted(every, key=lambda hit: -hit[2])[:5]
    assert [(h.film_id, h.frame_index) for h in hits] == [(f, i) for f, i, _ in expected]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))


def test_search_keeps_to_the_films_class_and_version_asked_for() -> None:
    rng = np.random.default_rng(1)
    vectors = {1: _unit(rng, 12), 2: _unit(rng, 12), 3: _unit(rng, 12)}
    index = EmbeddingIndex()
    index.sync(
        {1: (1, None), 2: (2, None), 3: (3, None)},
        lambda a: _rows(vectors[a], [FrameClass.P, FrameClass.HYBRID], "v2" if a == 3 else "v1"),
    )

    hits = index.search(vectors[1][0], 50, version="v1", films={2}, frame_class=FrameClass.HYBRID)

    assert len(hits) == 6 and {h.film_id for h in hits} == {2}
    assert all((h.frame_index // 10) % 2 == 1 for h in hits)
    assert {h.film_id for h in index.search(vectors[1][0], 50, version="v2")} == {3}
    assert index.search(vectors[1][0], 5, version="v9") == []


def test_sync_replaces_a_reanalysed_film_and_drops_a_deleted_one() -> None:
    rng = np.random.default_rng(2)
    old, new, other = _unit(rng, 8), _unit(rng, 4), _unit(rng, 8)
    source = {10: old, 11: new, 20: other}
    index = EmbeddingIndex()
    index.sync({1: (10, "a"), 2: (20, "a")}, lambda a: _rows(source[a], [FrameClass.NP]))
    assert index.size == 16

    index.sync({1: (11, "b"), 2: (20, "a")}, lambda a: _rows(source[a], [FrameClass.NP]))
    assert index.size == 12
    hits = index.search(new[2], 1, version="v1")
    assert (hits[0].film_id, hits[0].frame_index) == (1, 20) and hits[0].score > 0.99

    index.sync({1: (11, "b")}, lambda a: _rows(source[a], [FrameClass.NP]))
    assert {h.film_id for h in index.search(new[0], 50, version="v1")} == {1}
