"""The scene rule, torch-free, shared by every detector that represents shots as vectors:
a new scene starts at a shot whose vector is farther than a threshold from each of the last
``window`` shots of the current scene (so one odd shot, a cutaway, does not end a scene by
itself being close to the shot before it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Distance = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class ShotSpan:
    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float


@dataclass(frozen=True)
class SceneSpan:
    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    shot_indices: list[int]


def shot_vectors(
    frame_shots: Sequence[int | None], vectors: np.ndarray, shot_count: int
) -> list[np.ndarray | None]:
    """Each shot's mean vector over its sampled frames (None for a shot with none)."""
    sums: list[np.ndarray | None] = [None] * shot_count
    counts = [0] * shot_count
    for shot, vector in zip(frame_shots, vectors, strict=True):
        if shot is None or not 0 <= shot < shot_count:
            continue
        current = sums[shot]
        sums[shot] = vector.astype(np.float64) if current is None else current + vector
        counts[shot] += 1
    return [
        None if total is None else (total / count).astype(np.float32)
        for total, count in zip(sums, counts, strict=True)
    ]


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(a @ b) / norm if norm > 0 else 1.0


def rms_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def link_distances(
    shots: Sequence[np.ndarray | None], distance: Distance, threshold: float, window: int
) -> tuple[list[int], list[float | None]]:
    """The shots that start a new scene (never 0) and, for each shot from the second on,
    its distance to the nearest of the last ``window`` shots of the scene it follows (None
    when it or they have no vector: such a shot joins the current scene)."""
    starts: list[int] = []
    distances: list[float | None] = []
    scene: list[np.ndarray] = []
    for index, vector in enumerate(shots):
        if index == 0 or vector is None or not scene:
            if index:
                distances.append(None)
            if vector is not None:
                scene.append(vector)
            continue
        nearest = min(distance(previous, vector) for previous in scene[-window:])
        distances.append(nearest)
        if nearest > threshold:
            starts.append(index)
            scene = []
        scene.append(vector)
    return starts, distances


def scenes_from_starts(shots: Sequence[ShotSpan], starts: Sequence[int]) -> list[SceneSpan]:
    """Scenes covering every shot, a new one at each shot index of ``starts``."""
    if not shots:
        return []
    bounds = sorted({0, *(start for start in starts if 0 < start < len(shots))})
    scenes = []
    for number, first in enumerate(bounds):
        last = (bounds[number + 1] if number + 1 < len(bounds) else len(shots)) - 1
        scenes.append(
            SceneSpan(
                index=number,
                start_frame=shots[first].start_frame,
                end_frame=shots[last].end_frame,
                start_time=shots[first].start_time,
                end_time=shots[last].end_time,
                shot_indices=[shot.index for shot in shots[first : last + 1]],
            )
        )
    return scenes
