"""How each rule for the number of element clusters does on the bench's collections of known
identity, in the pretrained and in the refined space: NMI, purity, and the count found
against the true one. Choose the rule here, on ``--split tune`` only.

    HYBRIDLENS_MODEL__CPU_THREADS=1 nice -n 15 .venv/bin/python bench/bench_cluster_count.py \\
        --split tune --seeds 10 11 12 13 --identities 6 12 20 --cache /tmp/elements

The first run extracts and refines each collection (as ``bench_elements.py`` does) and keeps
the track vectors before and after refinement under ``--cache``; later runs only cluster
(``--all-cached``: every collection of the split kept there, e.g. after ``--hard`` runs).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.cluster import HDBSCAN, AgglomerativeClustering
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from app.elements.clustering import (
    ClusterSettings,
    cannot_link_pairs,
    choose_labels,
    cut_tree,
    track_vectors,
)
from app.elements.head import project

Rule = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (T, D) tracks, (P, 2) pairs -> labels


def collect(args: argparse.Namespace, identities: int, seed: int) -> Path:
    """Extract and refine one collection; keep what clustering needs."""
    path = Path(args.cache) / (
        f"count-{args.split}-{seed}-{identities}{'-hard' if args.hard else ''}"
        f"{'-rigid' if args.rigid else ''}.npz"
    )
    if path.is_file():
        return path
    from app.core.config import ModelSettings
    from bench import bench_elements as bench
    from workers.ml.element_refine import RefineSettings, refine
    from workers.ml.embedding import FrameEmbedder

    embedder = FrameEmbedder.load(ModelSettings(device="cpu"))
    figures = bench.load_figures(args.split, identities)
    backgrounds = bench.load_backgrounds(args.split)
    samples = bench.make_collection(
        figures,
        backgrounds,
        np.random.default_rng(seed),
        films=6,
        shots=8,
        frames=5,
        hard=args.hard,
        animated=not args.rigid,
    )
    options = argparse.Namespace(
        cache=args.cache,
        split=args.split,
        identities=identities,
        films=6,
        shots=8,
        frames=5,
        hard=args.hard,
        rigid=args.rigid,
        plain_crops=False,
        views=RefineSettings.augment_views,
        stage_blocks=0,
    )
    elements = bench.cached_extract(samples, embedder, options, seed)
    keep = elements.truth >= 0
    track_keys = [t for t, k in zip(elements.tracks, keep, strict=True) if k]
    shot_keys = [s for s, k in zip(elements.shots, keep, strict=True) if k]
    frames = np.asarray(elements.frames)[keep]
    settings = RefineSettings()
    raw = elements.vectors[keep]
    result = refine(
        raw,
        track_keys,
        shot_keys,
        augmented=elements.views[keep][:, : settings.augment_views],
        settings=settings,
        seed=seed,
        device="cpu",
    )
    np.savez(
        path,
        before=raw,
        after=project(raw, result.weights),
        truth=elements.truth[keep],
        tracks=np.unique([hash(t) for t in track_keys], return_inverse=True)[1],
        moments=np.unique(
            [hash((*s, f)) for s, f in zip(shot_keys, frames, strict=True)], return_inverse=True
        )[1],
        identities=len(figures),
    )
    return path


def _tree(tracks: np.ndarray, linkage: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    distance = np.clip(1.0 - tracks @ tracks.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    model = AgglomerativeClustering(
        metric="euclidean" if linkage == "ward" else "precomputed",
        linkage=linkage,
        compute_full_tree=True,
        n_clusters=1,
        compute_distances=True,
    )
    model.fit(tracks if linkage == "ward" else distance)
    return distance, model.children_, model.distances_


def silhouette_rule(linkage: str, cap: int = 60) -> Rule:
    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        distance, children, _ = _tree(tracks, linkage)
        count = len(tracks)
        best, best_score = np.zeros(count, int), -1.0
        for k in range(2, min(cap, count - 1) + 1):
            labels = cut_tree(children, count, k)
            score = float(silhouette_score(distance, labels, metric="precomputed"))
            if score > best_score:
                best, best_score = labels, score
        return best

    return rule


def gap_rule(linkage: str) -> Rule:
    """Cut before the largest jump in merge height (ratio of consecutive heights)."""

    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        _, children, heights = _tree(tracks, linkage)
        count = len(tracks)
        jumps = np.diff(heights)  # jump before merge i+1
        merges = int(np.argmax(jumps)) + 1  # merges done before the jump
        return cut_tree(children, count, count - merges)

    return rule


def threshold_rule(linkage: str, threshold: float) -> Rule:
    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        _, children, heights = _tree(tracks, linkage)
        merges = int(np.sum(heights <= threshold))
        return cut_tree(children, len(tracks), len(tracks) - merges)

    return rule


def hdbscan_rule(min_size: int) -> Rule:
    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        distance = np.clip(1.0 - tracks @ tracks.T, 0.0, 2.0).astype(np.float64)
        np.fill_diagonal(distance, 0.0)
        labels = HDBSCAN(min_cluster_size=min_size, metric="precomputed", copy=True).fit_predict(
            distance
        )
        # Noise: each its own cluster (the app shows every element in some cluster).
        noise = labels < 0
        labels[noise] = labels.max() + 1 + np.arange(noise.sum())
        return labels

    return rule


def _cuts(tracks: np.ndarray, linkage: str, cap: int = 60) -> tuple[np.ndarray, list[np.ndarray]]:
    distance, children, _ = _tree(tracks, linkage)
    count = len(tracks)
    return distance, [cut_tree(children, count, k) for k in range(1, min(cap, count) + 1)]


def _violations(labels: np.ndarray, pairs: np.ndarray) -> float:
    if len(pairs) == 0:
        return 0.0
    return float(np.mean(labels[pairs[:, 0]] == labels[pairs[:, 1]]))


def cast_score_rule(linkage: str, weight: float) -> Rule:
    """Best silhouette minus ``weight`` x the share of cannot-link pairs merged."""

    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        distance, cuts = _cuts(tracks, linkage)
        scores = [
            silhouette_score(distance, c, metric="precomputed") - weight * _violations(c, pairs)
            for c in cuts[1 : len(tracks) - 1]
        ]
        return cuts[1 + int(np.argmax(scores))]

    return rule


def cast_threshold_rule(linkage: str, quantile: float, factor: float) -> Rule:
    """Cut the tree at ``factor`` x a low quantile of the cannot-link pairs' distances."""

    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        distance, children, heights = _tree(tracks, linkage)
        if len(pairs) == 0:
            return np.arange(len(tracks))
        threshold = factor * np.quantile(distance[pairs[:, 0], pairs[:, 1]], quantile)
        merges = int(np.sum(heights <= threshold))
        return cut_tree(children, len(tracks), len(tracks) - merges)

    return rule


def chosen_rule(settings: ClusterSettings) -> Rule:
    def rule(tracks: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        return choose_labels(tracks, settings, cannot_link=pairs)[0]

    return rule


def evaluate(paths: list[Path], rules: dict[str, Rule]) -> None:
    sets = []
    for path in paths:
        with np.load(path) as stored:
            sets.append({key: stored[key] for key in stored.files})
    print(f"{'rule':34s} space   NMI    purity  |k-K|/K  k/K per collection")
    for name, rule in rules.items():
        for space in ("before", "after"):
            nmis, purities, errors, ratios = [], [], [], []
            for data in sets:
                tracks, rows = track_vectors(data[space], data["tracks"].tolist())
                pairs = cannot_link_pairs(rows, data["moments"].tolist())
                labels = rule(tracks, pairs)[rows]
                truth = data["truth"]
                nmis.append(normalized_mutual_info_score(truth, labels))
                purities.append(purity(labels, truth))
                found, true = len(set(labels.tolist())), len(set(truth.tolist()))
                errors.append(abs(found - true) / true)
                ratios.append(f"{found}/{true}")
            print(
                f"{name:34s} {space:6s}  {np.mean(nmis):.3f}  {np.mean(purities):.3f}   "
                f"{np.mean(errors):.2f}     {' '.join(ratios)}"
            )


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    total = 0
    for cluster in set(labels.tolist()):
        total += np.bincount(truth[labels == cluster]).max()
    return total / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("tune", "report"), default="tune")
    parser.add_argument("--seeds", type=int, nargs="+", default=[10, 11, 12, 13])
    parser.add_argument("--identities", type=int, nargs="+", default=[6, 12, 20])
    parser.add_argument("--hard", action="store_true")
    parser.add_argument("--rigid", action="store_true")
    parser.add_argument("--cache", required=True)
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument(
        "--all-cached",
        action="store_true",
        help="measure every collection of the split kept under --cache, not only these",
    )
    args = parser.parse_args()
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    paths = []
    for identities in args.identities:
        for seed in args.seeds:
            paths.append(collect(args, identities, seed))
            print(f"collected {paths[-1].name}", flush=True)
    if args.collect_only:
        return
    if args.all_cached:
        paths = sorted(Path(args.cache).glob(f"count-{args.split}-*.npz"))
    rules: dict[str, Rule] = {
        "silhouette average (before)": silhouette_rule("average"),
        "silhouette complete": silhouette_rule("complete"),
        "silhouette ward": silhouette_rule("ward"),
        "largest gap average": gap_rule("average"),
        **{f"threshold average {t}": threshold_rule("average", t) for t in (0.3, 0.4, 0.5)},
        "hdbscan min 2": hdbscan_rule(2),
        "cast score average w 1": cast_score_rule("average", 1.0),
        "cast threshold average q0.1 x0.8": cast_threshold_rule("average", 0.1, 0.8),
        **{
            f"cast {linkage} tol {t} {then}": chosen_rule(
                ClusterSettings(linkage=linkage, cannot_link_tolerance=t, cannot_link_rule=then)
            )
            for linkage in ("average", "ward")
            for t in (0.0, 0.05, 0.2)
            for then in ("fewest", "silhouette")
        },
        "chosen (ClusterSettings defaults)": chosen_rule(ClusterSettings()),
    }
    evaluate(paths, rules)


if __name__ == "__main__":
    main()
