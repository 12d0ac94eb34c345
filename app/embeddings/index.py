"""An exact look-alike index over every film's current frame embeddings, in memory.

Numpy only (the API process never imports torch): one float32 matrix of unit rows, scored
against a query with one matrix-vector product, top k by ``argpartition``; a collection
filter scores only its films' rows (each film's rows are contiguous). It follows the
database incrementally: ``sync`` compares each film's current analysis (and when it
finished) with what it holds, drops the rows of films that changed or went, and appends
those of new or re-analysed films; the matrix grows by doubling and is compacted when half
of it is dead rows.

Why exact numpy, not FAISS or pgvector (which this PostgreSQL lacks): over 1,000 films x 500
frames (500,000 x 320) a query costs the bare matrix-vector product plus a few ms
(bench/bench_similar.py, which times both in one run); the product reads the whole matrix, so
it is memory-bound, and FAISS's exact index reads as much. float32 rows, not float16: numpy
has no fast float16 product (7x slower here). Memory is 1.3 KB per frame: 640 MB at that size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.core.domain import FrameClass

# A film's current analysis first, then what else its rows depend on (when the analysis
# finished, the film's latest annotations): the rows are reloaded when any of it changes.
AnalysisToken = tuple[Any, ...]
# frame_index, time_s, frame_class, version, float16 vector bytes
VectorRow = Sequence[Any]

_CLASS_CODES = {frame_class: code for code, frame_class in enumerate(FrameClass, start=1)}


@dataclass(frozen=True)
class Hit:
    film_id: int
    frame_index: int
    time_s: float
    score: float


@dataclass
class _Block:
    token: AnalysisToken
    start: int
    stop: int


def decode_vector(data: bytes) -> np.ndarray:
    """Stored float16 bytes -> a float32 vector."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


class EmbeddingIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dimension: int | None = None
        self._matrix = np.zeros((0, 0), np.float32)
        self._film = np.zeros(0, np.int64)
        self._frame = np.zeros(0, np.int64)
        self._time = np.zeros(0, np.float64)
        self._class = np.zeros(0, np.int8)
        self._version = np.zeros(0, np.int16)
        self._alive = np.zeros(0, bool)
        self._count = 0
        self._versions: dict[str, int] = {}
        self._blocks: dict[int, _Block] = {}

    @property
    def size(self) -> int:
        """Live rows."""
        return int(self._alive[: self._count].sum())

    def sync(
        self,
        current: Mapping[int, AnalysisToken],
        load: Callable[[int], Sequence[VectorRow]],
    ) -> None:
        """Make the index hold the vectors of ``current`` (film id -> analysis token);
        ``load(analysis_id)`` reads one analysis's rows."""
        with self._lock:
            for film_id, block in list(self._blocks.items()):
                if current.get(film_id) != block.token:
                    self._alive[block.start : block.stop] = False
                    del self._blocks[film_id]
            for film_id, token in current.items():
                if film_id not in self._blocks:
                    self._append(film_id, token, load(token[0]))
            dead = self._count - self.size
            if dead > 4096 and dead * 2 > self._count:
                self._compact()

    def _append(self, film_id: int, token: AnalysisToken, rows: Sequence[VectorRow]) -> None:
        vectors = [decode_vector(row[4]) for row in rows]
        if self._dimension is None and vectors:
            self._dimension = len(vectors[0])
            self._matrix = np.zeros((0, self._dimension), np.float32)
        kept = [
            (row, vector)
            for row, vector in zip(rows, vectors, strict=True)
            if len(vector) == self._dimension
        ]
        start = self._count
        stop = start + len(kept)
        self._reserve(stop)
        if kept:
            matrix = np.stack([vector for _, vector in kept])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            self._matrix[start:stop] = np.divide(
                matrix, norms, out=np.zeros_like(matrix), where=norms > 0
            )
            self._film[start:stop] = film_id
            self._frame[start:stop] = [int(row[0]) for row, _ in kept]
            self._time[start:stop] = [float(row[1]) for row, _ in kept]
            self._class[start:stop] = [_CLASS_CODES.get(FrameClass(row[2]), 0) for row, _ in kept]
            self._version[start:stop] = [
                self._versions.setdefault(str(row[3]), len(self._versions)) for row, _ in kept
            ]
            self._alive[start:stop] = True
        self._count = stop
        self._blocks[film_id] = _Block(token, start, self._count)

    def _reserve(self, rows: int) -> None:
        capacity = len(self._alive)
        if rows <= capacity:
            return
        capacity = max(rows, 2 * capacity, 1024)
        width = self._dimension or 0

        def grown(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
            bigger = np.zeros(shape, array.dtype)
            bigger[: self._count] = array[: self._count]
            return bigger

        self._matrix = grown(self._matrix, (capacity, width))
        self._film = grown(self._film, (capacity,))
        self._frame = grown(self._frame, (capacity,))
        self._time = grown(self._time, (capacity,))
        self._class = grown(self._class, (capacity,))
        self._version = grown(self._version, (capacity,))
        self._alive = grown(self._alive, (capacity,))

    def _compact(self) -> None:
        order = sorted(self._blocks.items(), key=lambda item: item[1].start)
        keep = np.concatenate(
            [np.arange(block.start, block.stop) for _, block in order] or [np.zeros(0, int)]
        )
        for name in ("_matrix", "_film", "_frame", "_time", "_class", "_version", "_alive"):
            setattr(self, name, getattr(self, name)[keep].copy())
        position = 0
        for _, block in order:
            length = block.stop - block.start
            block.start, block.stop = position, position + length
            position += length
        self._count = position

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        version: str,
        films: Collection[int] | None = None,
        frame_class: FrameClass | None = None,
        exclude: tuple[int, int] | None = None,
    ) -> list[Hit]:
        """The ``k`` rows most like ``query`` (cosine), best first, among those of the same
        ``version``, of ``films`` (all when None), of ``frame_class``, not ``exclude``
        ((film id, frame index))."""
        with self._lock:
            code = self._versions.get(version)
            if code is None or self._count == 0 or k < 1:
                return []
            vector = np.asarray(query, np.float32).reshape(-1)
            if len(vector) != self._dimension:
                return []
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                vector = vector / norm
            rows: slice | np.ndarray
            if films is None:
                rows = slice(0, self._count)
                scores = self._matrix[rows] @ vector  # (count,)
            else:
                # Only the chosen films' rows are scored: each film's rows are contiguous.
                blocks = [self._blocks[f] for f in films if f in self._blocks]
                if not blocks:
                    return []
                rows = np.concatenate([np.arange(b.start, b.stop) for b in blocks])
                scores = np.concatenate([self._matrix[b.start : b.stop] @ vector for b in blocks])
            unusable = ~self._alive[rows]
            if len(self._versions) > 1:
                unusable |= self._version[rows] != code
            if frame_class is not None:
                unusable |= self._class[rows] != _CLASS_CODES[frame_class]
            # The positions still in the running: partitioning scores with two thirds set to
            # -inf (a class filter) was several times slower than taking those out first.
            positions = np.flatnonzero(~unusable) if unusable.any() else None
            kept = scores if positions is None else scores[positions]
            if len(kept) == 0:
                return []
            # One more than asked for: the excluded frame, if it is among them, is dropped.
            top = min(k + (exclude is not None), len(kept))
            # The top k sit at the end after partitioning (no negated copy of the scores).
            best = np.argpartition(kept, len(kept) - top)[len(kept) - top :]
            best = best[np.argsort(-kept[best], kind="stable")]
            scores = kept
            best_positions = positions[best] if positions is not None else best
            found = rows[best_positions] if isinstance(rows, np.ndarray) else best_positions
            hits = [
                Hit(
                    int(self._film[row]),
                    int(self._frame[row]),
                    float(self._time[row]),
                    float(score),
                )
                for row, score in zip(found, scores[best], strict=True)
            ]
            if exclude is not None:
                hits = [hit for hit in hits if (hit.film_id, hit.frame_index) != exclude]
            return hits[:k]
