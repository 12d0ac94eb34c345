"""Clusters of elements across a collection, the number chosen automatically.

Tracks are clustered, not single elements: a track is one element seen several times, and
its mean refined embedding is steadier than any one crop. Agglomerative clustering (average
linkage on cosine distance, scikit-learn) is cut at every cluster count from 2 up to a cap,
and the count with the best silhouette wins; a collection whose best silhouette stays under
``min_silhouette``, or whose vectors all lie within ``min_spread``, is one cluster. Each
cluster's exemplar is the member nearest its centroid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (N,) cluster of each element, 0 = largest cluster
    centroids: np.ndarray  # (K, D) L2-normalised
    exemplars: list[int]  # per cluster, the position of its exemplar element
    similarity: np.ndarray  # (N,) each element's cosine similarity to its centroid
    silhouette: float | None


def track_vectors(vectors: np.ndarray, track_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(T, D) mean vector of each track (normalised) and (N,) each element's track row."""
    keys, rows = np.unique(np.asarray(track_ids), return_inverse=True)
    sums = np.zeros((len(keys), vectors.shape[1]), np.float32)
    np.add.at(sums, rows, vectors)
    return normalise(sums), rows


def choose_labels(
    vectors: np.ndarray, settings: ClusterSettings | None = None
) -> tuple[np.ndarray, float | None]:
    """Cluster labels of L2-normalised rows, and the silhouette of the chosen cut."""
    settings = settings or ClusterSettings()
    count = len(vectors)
    if count < 3:
        return np.zeros(count, int), None
    distance = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    if float(distance.max()) < settings.min_spread:
        return np.zeros(count, int), None
    model = AgglomerativeClustering(
        metric="precomputed", linkage="average", compute_full_tree=True, n_clusters=1
    )
    model.fit(distance)
    best_labels, best_score = np.zeros(count, int), None
    for k in range(2, min(settings.max_clusters, count - 1) + 1):
        labels = cut_tree(model.children_, count, k)
        score = float(silhouette_score(distance, labels, metric="precomputed"))
        if best_score is None or score > best_score:
            best_labels, best_score = labels, score
    if best_score is None or best_score < settings.min_silhouette:
        return np.zeros(count, int), best_score
    return best_labels, best_score


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
    vectors: np.ndarray, track_ids: Sequence[int], settings: ClusterSettings | None = None
) -> Clustering:
    """Cluster refined element vectors (N, D) through their tracks."""
    vectors = normalise(vectors)
    if len(vectors) == 0:
        return Clustering(np.zeros(0, int), np.zeros((0, vectors.shape[1])), [], np.zeros(0), None)
    tracks, row_of = track_vectors(vectors, track_ids)
    track_labels, silhouette = choose_labels(tracks, settings)
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
    return Clustering(labels, centroids, exemplars, similarity, silhouette)


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
