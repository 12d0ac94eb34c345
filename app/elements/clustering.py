"""Clusters of elements across a collection, the number chosen automatically.

Tracks are clustered, not single elements: a track is one element seen several times, and
its mean refined embedding is steadier than any one crop. Agglomerative clustering (Ward
linkage on the unit vectors, scikit-learn) is cut at every cluster count up to a cap. The
tracks themselves say which counts are too few: two tracks seen together in the same frames
are two elements (cannot-link), so no cut below the fewest clusters that keep (all but
``cannot_link_tolerance`` of) those pairs apart is considered; among the rest the best
silhouette wins. Without such pairs, a collection whose best silhouette stays under
``min_silhouette``, or whose vectors all lie within ``min_spread``, is one cluster. Each
cluster's exemplar is the member nearest its centroid. The rule was chosen on the bench's
tune split (``bench/bench_cluster_count.py``, docs/elements.md). A collection of more than
``max_tracks`` tracks is clustered on a seeded sample of them (the tracks of cannot-link
pairs first), the rest joining their nearest cluster, so memory and time stay bounded
however large the collection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import silhouette_score

from app.elements.head import normalise


@dataclass(frozen=True)
class ClusterSettings:
    max_clusters: int = 60
    min_silhouette: float = 0.05
    # Vectors all within this cosine distance of each other are one element.
    min_spread: float = 0.05
    linkage: Literal["average", "complete", "ward"] = "ward"
    # Two tracks seen together in this many frames are two elements (cannot-link).
    cannot_link_moments: int = 2
    # Share of the cannot-link pairs the chosen cut may still put in one cluster.
    cannot_link_tolerance: float = 0.05
    # "fewest": the fewest clusters that keep the cannot-link pairs apart; "silhouette":
    # the best silhouette from that count up.
    cannot_link_rule: Literal["fewest", "silhouette"] = "silhouette"
    # Agglomerative clustering and the silhouettes need every pair of tracks (memory and time
    # grow with the square of their number): a collection with more tracks is clustered on a
    # seeded sample of this many, and every other track joins its nearest cluster.
    max_tracks: int = 4000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_tracks < 2:
            raise ValueError("max_tracks must be at least 2")


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (N,) cluster of each element, 0 = largest cluster
    centroids: np.ndarray  # (K, D) L2-normalised
    exemplars: list[int]  # per cluster, the position of its exemplar element
    similarity: np.ndarray  # (N,) each element's cosine similarity to its centroid
    silhouette: float | None
    # Tracks the clustering was cut on when the collection had more than ``max_tracks``
    # (the others joined their nearest cluster); None: every track.
    sampled_tracks: int | None = None


def track_vectors(vectors: np.ndarray, track_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) mean vector of each track (normalised) and (N,) each element's track row."""
    keys, rows = np.unique(np.asarray(track_ids), return_inverse=True)
    sums = np.zeros((len(keys), vectors.shape[1]), np.float32)
    np.add.at(sums, rows, vectors)
    return normalise(sums), rows


def cannot_link_pairs(
    track_rows: np.ndarray, moments: Sequence[Hashable], *, min_moments: int = 2
) -> np.ndarray:
    """(P, 2) pairs of track rows (smaller first) seen together in at least ``min_moments``
    moments (one frame of one film each): two regions of one frame are two elements. A
    single shared frame is not enough: a figure the mask cuts in two for one frame gives
    a one-sighting fragment beside its own track."""
    seen: dict[Hashable, set[int]] = {}
    for row, moment in zip(np.asarray(track_rows).tolist(), moments, strict=True):
        seen.setdefault(moment, set()).add(row)
    together: Counter[tuple[int, int]] = Counter()
    for rows in seen.values():
        ordered = sorted(rows)
        together.update(
            (first, second)
            for position, first in enumerate(ordered)
            for second in ordered[position + 1 :]
        )
    pairs = sorted(pair for pair, times in together.items() if times >= min_moments)
    return np.array(pairs, int).reshape(-1, 2)


def choose_labels(
    vectors: np.ndarray,
    settings: ClusterSettings | None = None,
    *,
    cannot_link: np.ndarray | None = None,
) -> tuple[np.ndarray, float | None]:
    """Cluster labels of L2-normalised rows, and the silhouette of the chosen cut;
    ``cannot_link``: (P, 2) pairs of rows known to be different elements."""
    settings = settings or ClusterSettings()
    count = len(vectors)
    pairs = cannot_link if cannot_link is not None and len(cannot_link) else None
    if count < 3:
        # Two tracks seen together are two elements, however alike they look.
        return (np.arange(count) if pairs is not None else np.zeros(count, int)), None
    distance = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    if pairs is None and float(distance.max()) < settings.min_spread:
        return np.zeros(count, int), None
    children = merge_tree(vectors, distance, settings.linkage)
    # Silhouette needs a cluster with two members; the pairs may still ask for every track
    # to stand alone (every figure on screen with every other).
    cap = min(settings.max_clusters, count - 1)
    first = 2
    if pairs is not None:
        allowed = settings.cannot_link_tolerance * len(pairs)
        first = min(settings.max_clusters, count)
        for clusters in range(2, first + 1):
            labels = cut_tree(children, count, clusters)
            if np.sum(labels[pairs[:, 0]] == labels[pairs[:, 1]]) <= allowed:
                first = clusters
                break
        if settings.cannot_link_rule == "fewest" or first > cap:
            labels = cut_tree(children, count, first)
            return labels, _silhouette(distance, labels)
    best_labels, best_score = np.zeros(count, int), None
    for clusters in range(first, cap + 1):
        labels = cut_tree(children, count, clusters)
        score = _silhouette(distance, labels)
        if score is not None and (best_score is None or score > best_score):
            best_labels, best_score = labels, score
    if pairs is None and (best_score is None or best_score < settings.min_silhouette):
        return np.zeros(count, int), best_score
    return best_labels, best_score


def _silhouette(distance: np.ndarray, labels: np.ndarray) -> float | None:
    if not 1 < len(np.unique(labels)) < len(labels):
        return None
    return float(silhouette_score(distance, labels, metric="precomputed"))


def merge_tree(vectors: np.ndarray, distance: np.ndarray, linkage: str) -> np.ndarray:
    """(N - 1, 2) merges of agglomerative clustering, first merge first. Ward works on the
    unit vectors themselves (squared Euclidean distance is twice the cosine distance)."""
    model = AgglomerativeClustering(
        metric="euclidean" if linkage == "ward" else "precomputed",
        linkage=linkage,
        compute_full_tree=True,
        n_clusters=1,
    )
    model.fit(vectors if linkage == "ward" else distance)
    return model.children_


def cut_tree(children: np.ndarray, count: int, clusters: int) -> np.ndarray:
    """Labels of the tree cut into ``clusters`` groups (undo the last merges)."""
    parent = np.arange(2 * count - 1)
    for step, (left, right) in enumerate(children[: count - clusters]):
        parent[left] = parent[right] = count + step

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    roots = [root(leaf) for leaf in range(count)]
    _, labels = np.unique(roots, return_inverse=True)
    return labels


def cluster_elements(
    vectors: np.ndarray,
    track_ids: Sequence[int],
    settings: ClusterSettings | None = None,
    *,
    moments: Sequence[Hashable] | None = None,
) -> Clustering:
    """Cluster refined element vectors (N, D) through their tracks; ``moments``: each
    element's frame (any key naming one frame of one film), whose shared frames tell which
    tracks are different elements."""
    settings = settings or ClusterSettings()
    vectors = normalise(vectors)
    if len(vectors) == 0:
        return Clustering(np.zeros(0, int), np.zeros((0, vectors.shape[1])), [], np.zeros(0), None)
    tracks, row_of = track_vectors(vectors, track_ids)
    cannot_link = None
    if moments is not None:
        cannot_link = cannot_link_pairs(row_of, moments, min_moments=settings.cannot_link_moments)
    track_labels, silhouette = _track_labels(tracks, settings, cannot_link)
    sampled = settings.max_tracks if len(tracks) > settings.max_tracks else None
    labels = track_labels[row_of]
    # Largest cluster first, so cluster 0 is what recurs most.
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = rank[labels]
    centroids = np.zeros((len(order), vectors.shape[1]), np.float32)
    np.add.at(centroids, labels, vectors)
    centroids = normalise(centroids)
    similarity = np.sum(vectors * centroids[labels], axis=1)
    exemplars = []
    for cluster in range(len(order)):
        members = np.flatnonzero(labels == cluster)
        exemplars.append(int(members[np.argmax(similarity[members])]))
    return Clustering(labels, centroids, exemplars, similarity, silhouette, sampled)


def _track_labels(
    tracks: np.ndarray, settings: ClusterSettings, cannot_link: np.ndarray | None
) -> tuple[np.ndarray, float | None]:
    """``choose_labels`` on every track, or on a seeded sample of ``settings.max_tracks``
    of them when there are more, the others then labelled by their nearest cluster
    centroid. The tracks of cannot-link pairs come first in the sample (the pairs are what
    tells elements that look alike apart), the rest are drawn at random; an element seen in
    few tracks may then go unsampled and join the cluster it looks most like."""
    count = len(tracks)
    if count <= settings.max_tracks:
        return choose_labels(tracks, settings, cannot_link=cannot_link)
    rng = np.random.default_rng(settings.seed)
    given = cannot_link if cannot_link is not None else np.zeros((0, 2), int)
    paired = np.unique(given)
    if len(paired) >= settings.max_tracks:
        sample = rng.choice(paired, settings.max_tracks, replace=False)
    else:
        rest = np.setdiff1d(np.arange(count), paired)
        sample = np.concatenate(
            [paired, rng.choice(rest, settings.max_tracks - len(paired), replace=False)]
        )
    sample = np.sort(sample)
    position = np.full(count, -1)
    position[sample] = np.arange(len(sample))
    pairs = position[given[(position[given] >= 0).all(axis=1)]]
    sample_labels, silhouette = choose_labels(tracks[sample], settings, cannot_link=pairs)
    centroids = np.zeros((int(sample_labels.max()) + 1, tracks.shape[1]), np.float32)
    np.add.at(centroids, sample_labels, tracks[sample])
    labels, _ = nearest_centroid(tracks, centroids, min_similarity=-2.0)  # every track joins
    labels[sample] = sample_labels
    return labels, silhouette


def nearest_centroid(
    vectors: np.ndarray, centroids: np.ndarray, *, min_similarity: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the nearest centroid's row (-1 under ``min_similarity``) and its score."""
    if len(centroids) == 0 or len(vectors) == 0:
        return np.full(len(vectors), -1), np.zeros(len(vectors), np.float32)
    scores = normalise(vectors) @ normalise(centroids).T
    best = np.argmax(scores, axis=1)
    best_score = scores[np.arange(len(vectors)), best]
    return np.where(best_score >= min_similarity, best, -1), best_score
