"""Tracks within shots: the same drawn element linked across consecutive sampled frames.

Between two consecutive sampled frames of a shot, regions are matched one to one (the
Hungarian assignment) on a score mixing box overlap and embedding similarity. A pair is a
candidate when the embeddings agree and either the boxes overlap or the embeddings agree
strongly (a figure that moved far between two samples a second apart). Regions left
unmatched start new tracks. Frames of different shots are never linked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from app.elements.proposals import Box, box_iou


@dataclass(frozen=True)
class TrackSettings:
    # Weight of box overlap in the link score (the rest is embedding similarity).
    iou_weight: float = 0.5
    # Embeddings must agree this much for any link ...
    min_similarity: float = 0.5
    # ... and with no overlap at all, this much.
    strong_similarity: float = 0.75
    min_iou: float = 0.05


@dataclass(frozen=True)
class TrackItem:
    shot_key: object  # anything hashable naming the shot; None: the frame stands alone
    frame_index: int
    box: Box
    embedding: np.ndarray  # (D,), L2-normalised


def link_tracks(items: Sequence[TrackItem], settings: TrackSettings | None = None) -> list[int]:
    """A track id (0, 1, ...) for each item, in the items' order."""
    settings = settings or TrackSettings()
    track_of = [-1] * len(items)
    next_track = 0
    by_shot: dict[object, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for position, item in enumerate(items):
        key = item.shot_key if item.shot_key is not None else ("frame", item.frame_index)
        by_shot[key][item.frame_index].append(position)
    for frames in by_shot.values():
        previous: list[int] = []
        for frame_index in sorted(frames):
            current = frames[frame_index]
            matched: dict[int, int] = {}
            if previous and current:
                matched = _match(items, previous, current, settings)
            for position in current:
                if position in matched:
                    track_of[position] = track_of[matched[position]]
                else:
                    track_of[position] = next_track
                    next_track += 1
            previous = current
    return track_of


def _match(
    items: Sequence[TrackItem], previous: list[int], current: list[int], settings: TrackSettings
) -> dict[int, int]:
    """current position -> previous position, for the pairs the assignment links."""
    score = np.full((len(previous), len(current)), -np.inf)
    for row, before in enumerate(previous):
        for column, after in enumerate(current):
            similarity = float(items[before].embedding @ items[after].embedding)
            iou = box_iou(items[before].box, items[after].box)
            if similarity < settings.min_similarity:
                continue
            if iou < settings.min_iou and similarity < settings.strong_similarity:
                continue
            score[row, column] = settings.iou_weight * iou + (1 - settings.iou_weight) * similarity
    finite = np.isfinite(score)
    if not finite.any():
        return {}
    cost = np.where(finite, -score, 1e6)
    rows, columns = linear_sum_assignment(cost)
    return {
        current[column]: previous[row]
        for row, column in zip(rows, columns, strict=True)
        if finite[row, column]
    }
