"""Look-alike search latency: top-20 over 1,000 films x 500 frames (synthetic unit vectors of
the embedder's width), exact numpy index (app.embeddings.index).

    nice -n 10 python bench/bench_similar.py [--films 1000 --frames 500 --queries 300]

Prints p50/p99 latency of one query (no filter, a 100-film collection, one frame class)
against the bare matrix-vector product timed in the same run (the floor of any exact search),
the time to build the index and to take in one re-analysed film, and the resident size of the
matrix. Target: p99 < 100 ms.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from app.core.domain import FrameClass
from app.embeddings.index import EmbeddingIndex

DIMENSION = 320
VERSION = "bench"
CLASSES = [FrameClass.P, FrameClass.NP, FrameClass.HYBRID]


def film_rows(film_id: int, frames: int, rng: np.random.Generator) -> list[tuple]:
    # A film is a few "looks" with noise around them, like shots of one film.
    centres = rng.standard_normal((8, DIMENSION)).astype(np.float32)
    picks = rng.integers(0, len(centres), frames)
    vectors = centres[picks] + 0.5 * rng.standard_normal((frames, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    data = vectors.astype("<f2")
    return [
        (index * 24, index * 1.0, CLASSES[(film_id + index) % 3], VERSION, data[index].tobytes())
        for index in range(frames)
    ]


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f} ms   p99 {np.percentile(ms, 99):6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--films", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = {film_id: film_rows(film_id, args.frames, rng) for film_id in range(1, args.films + 1)}
    current = {film_id: (film_id, 1) for film_id in rows}
    index = EmbeddingIndex()
    mark = time.perf_counter()
    index.sync(current, lambda analysis_id: rows[analysis_id])
    build_s = time.perf_counter() - mark
    print(
        f"{args.films} films x {args.frames} frames = {index.size} vectors of {DIMENSION}; "
        f"build {build_s:.1f} s; matrix {index._matrix.nbytes / 2**20:.0f} MiB (float32)"
    )
    films = list(rows)
    queries = [
        (int(rng.integers(1, args.films + 1)), int(rng.integers(0, args.frames)))
        for _ in range(args.queries)
    ]
    collection = set(films[:100])

    def run(**filters: object) -> list[float]:
        samples = []
        for film_id, frame in queries:
            vector = np.frombuffer(rows[film_id][frame][4], "<f2").astype(np.float32)
            mark = time.perf_counter()
            hits = index.search(
                vector, 20, version=VERSION, exclude=(film_id, frame * 24), **filters
            )
            samples.append(time.perf_counter() - mark)
            assert len(hits) == 20 and (hits[0].film_id, hits[0].frame_index) != (
                film_id,
                frame * 24,
            )
        return samples

    run()  # warm-up
    # The floor of exact search, timed in the same run: the bare float32 matrix-vector product
    # over every row (memory-bound: the whole matrix is read once per query).
    matrix = index._matrix[: index._count]
    floor = []
    for film_id, frame in queries:
        vector = np.frombuffer(rows[film_id][frame][4], "<f2").astype(np.float32)
        mark = time.perf_counter()
        matrix @ vector
        floor.append(time.perf_counter() - mark)
    print(f"reference: bare matrix @ vector: {percentiles(floor)}")
    print(f"top-20, all films:             {percentiles(run())}")
    print(f"top-20, one 100-film collection:{percentiles(run(films=collection))}")
    print(f"top-20, hybrid frames only:    {percentiles(run(frame_class=FrameClass.HYBRID))}")
    current[1] = (1, 2)  # film 1 re-analysed
    mark = time.perf_counter()
    index.sync(current, lambda analysis_id: rows[analysis_id])
    print(f"re-sync after one film's re-analysis: {(time.perf_counter() - mark) * 1000:.1f} ms")
    mark = time.perf_counter()
    index.sync(current, lambda analysis_id: rows[analysis_id])
    print(f"sync with nothing changed:          {(time.perf_counter() - mark) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
