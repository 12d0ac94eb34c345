"""Recurring drawn elements (CAST) on collections of known identity: purity and NMI of the
clusters before and after the self-supervised refinement, labelling accuracy from one named
example per element, and the time per film minute.

A collection: ``--films`` films of ``--shots`` shots; each shot pastes one or two drawn
figures (cut out of archive illustrations and cartoon frames from shared/data) over a
photographic background, moving, scaling and recoloured per shot, and redrawn on every
sampled frame as cel animation is (``redraw``: pose, a smooth warp, line weight, light;
``--rigid``: not redrawn, the collection measured first). One sampled frame per
second, as the pipeline samples. The pasted masks, stored as the pipeline stores masks
(1-bit PNG, 160 px), stand in for the segmenter, so the figures measure the element steps
(proposals from masks, crops, embeddings, tracks, refinement, clustering), not segmentation.

    HYBRIDLENS_MODEL__CPU_THREADS=1 nice -n 15 .venv/bin/python bench/bench_elements.py \\
        --split report --seeds 1 2 3 [--hard]

``--split tune`` uses other source images (even positions of each list) and should get
other seeds: tune there, report here. ``--proposals`` also compares the salient-region
methods on figures pasted over drawn backgrounds (recall of figures at IoU >= 0.5).
"""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from sklearn.metrics import normalized_mutual_info_score

from app.core.config import ModelSettings
from app.elements.clustering import cluster_elements, nearest_centroid
from app.elements.head import project
from app.elements.proposals import (
    SALIENT_METHODS,
    Region,
    box_iou,
    crop,
    masked_crop,
    regions_from_mask,
    salient_regions,
)
from app.elements.tracking import TrackItem, link_tracks
from app.pipeline.masks import decode_mask, encode_mask
from workers.ml.element_augment import AugmentSettings, augmented_views
from workers.ml.element_refine import RefineSettings, refine
from workers.ml.element_stage_refine import (
    StageRecorder,
    StageSettings,
    apply_stage,
    refine_stage,
)
from workers.ml.embedding import FrameEmbedder

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SIZE = (320, 240)  # the pipeline's working size


@dataclass(frozen=True)
class Figure:
    image: np.ndarray  # RGB
    mask: np.ndarray  # bool


def _largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    if count <= 1:
        return mask
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == best


def cut_illustration(path: Path) -> Figure | None:
    """An illustration on white: its drawn pixels (closed, largest part), cropped to them."""
    image = np.asarray(Image.open(path).convert("RGB"))
    ink = np.abs(image.astype(int) - 255).sum(axis=2) > 40
    kernel = np.ones((9, 9), np.uint8)
    ink = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    ink = _largest_component(ink)
    ys, xs = np.nonzero(ink)
    if len(xs) < 2000:
        return None
    box = (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1)
    return Figure(image[box[0] : box[1], box[2] : box[3]], ink[box[0] : box[1], box[2] : box[3]])


def cut_cartoon(path: Path) -> Figure:
    """A cartoon frame: an ellipse from its middle (a drawn vignette)."""
    image = np.asarray(Image.open(path).convert("RGB"))
    height, width = image.shape[:2]
    side = int(min(height, width) * 0.8)
    top, left = (height - side) // 2, (width - side) // 2
    piece = image[top : top + side, left : left + side]
    mask = np.zeros((side, side), np.uint8)
    cv2.ellipse(mask, (side // 2, side // 2), (side // 2 - 1, int(side * 0.42)), 0, 0, 360, 1, -1)
    return Figure(piece, mask > 0)


def load_figures(split: str, count: int) -> list[Figure]:
    """Figures from illustrations (two thirds) and cartoon frames; even or odd positions."""
    offset = 0 if split == "tune" else 1
    illustrations = sorted((DATA / "nonphotographic").glob("undraw_*"))[offset::2]
    cartoons = sorted((DATA / "nonphotographic").glob("tjerry_*"))[offset::2]
    cartoons += sorted((DATA / "nonphotographic").glob("simpsonsf_*"))[offset::2]
    figures: list[Figure] = []
    for path in illustrations:
        if len(figures) >= (2 * count) // 3:
            break
        figure = cut_illustration(path)
        if figure is not None:
            figures.append(figure)
    for path in cartoons[:: max(1, len(cartoons) // count)]:
        if len(figures) >= count:
            break
        figures.append(cut_cartoon(path))
    return figures


def load_backgrounds(split: str) -> list[np.ndarray]:
    offset = 0 if split == "tune" else 1
    paths = sorted((DATA / "photographic").glob("bsds_*"))[offset::2]
    paths += sorted((DATA / "photographic").glob("deoldify_*"))[offset::4]
    return [
        np.asarray(Image.open(path).convert("RGB").resize(SIZE, Image.Resampling.BILINEAR))
        for path in paths
    ]


def recolour(image: np.ndarray, hue: float, saturation: float, value: float) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + hue * 180.0) % 180.0
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * value, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)


@dataclass(frozen=True)
class Motion:
    """How one pasted figure is redrawn along a shot, as a cel animator redraws it on every
    frame: each term varies smoothly with the sampled frame, so consecutive sightings stay
    alike (and link into a track) while the first and the last differ."""

    rotation: tuple[float, float, float]  # base (deg), amplitude (deg), phase
    shear: tuple[float, float]  # amplitude, phase
    squash: tuple[float, float]  # amplitude (x stretch, y squash), phase
    warp: tuple[np.ndarray, np.ndarray]  # two smooth displacement fields, (2, 4, 4) each
    warp_strength: float  # of the figure's size
    line: tuple[float, float]  # line-weight amplitude (px, dilate/erode), phase
    drift: tuple[float, float]  # value and hue change from the first frame to the last
    speed: float  # radians per sampled frame of the periodic terms
    exit_edge: bool  # drifts out through the frame's edge (cut off in the last frames)


def random_motion(rng: np.random.Generator) -> Motion:
    return Motion(
        rotation=(rng.uniform(-8, 8), rng.uniform(4, 14), rng.uniform(0, 2 * np.pi)),
        shear=(rng.uniform(0.05, 0.2), rng.uniform(0, 2 * np.pi)),
        squash=(rng.uniform(0.05, 0.2), rng.uniform(0, 2 * np.pi)),
        warp=(rng.normal(size=(2, 4, 4)), rng.normal(size=(2, 4, 4))),
        warp_strength=rng.uniform(0.02, 0.06),
        line=(rng.uniform(0.0, 1.6), rng.uniform(0, 2 * np.pi)),
        drift=(rng.uniform(-0.2, 0.2), rng.uniform(-0.04, 0.04)),
        speed=rng.uniform(0.5, 1.0),
        exit_edge=bool(rng.random() < 0.3),
    )


def redraw(
    picture: np.ndarray, mask: np.ndarray, motion: Motion, step: int, frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """The figure (resized picture and mask) as drawn on sampled frame ``step``: posed by an
    affine (rotation, shear, squash and stretch), bent by a smooth warp, its lines thickened
    or thinned, its light drifting; returned cropped to the figure."""
    angle = motion.speed * step
    base, amplitude, phase = motion.rotation
    rotation = np.deg2rad(base + amplitude * np.sin(angle + phase))
    shear = motion.shear[0] * np.sin(angle + motion.shear[1])
    stretch = 1.0 + motion.squash[0] * np.sin(angle + motion.squash[1])
    height, width = mask.shape
    pad = int(0.3 * max(height, width)) + 2
    picture = cv2.copyMakeBorder(picture, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    mask = cv2.copyMakeBorder(mask.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_CONSTANT)
    centre = np.array([width / 2 + pad, height / 2 + pad])
    cos, sin = np.cos(rotation), np.sin(rotation)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear], [0, 1]])
    linear = linear @ np.diag([stretch, 1.0 / stretch])
    affine = np.hstack([linear, (centre - linear @ centre)[:, None]]).astype(np.float32)
    size = (picture.shape[1], picture.shape[0])
    picture = cv2.warpAffine(picture, affine, size, flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(mask, affine, size, flags=cv2.INTER_NEAREST)
    # A smooth non-rigid warp: two coarse random fields blended along the shot.
    blend = 0.5 + 0.5 * np.sin(angle)
    coarse = (1 - blend) * motion.warp[0] + blend * motion.warp[1]  # (2, 4, 4)
    amount = motion.warp_strength * max(height, width)
    dx = cv2.resize(coarse[0].astype(np.float32), size, interpolation=cv2.INTER_CUBIC) * amount
    dy = cv2.resize(coarse[1].astype(np.float32), size, interpolation=cv2.INTER_CUBIC) * amount
    grid_x, grid_y = np.meshgrid(
        np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32)
    )
    picture = cv2.remap(
        picture, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    mask = cv2.remap(mask, grid_x + dx, grid_y + dy, cv2.INTER_NEAREST)
    # Line weight: a darker-wins (thicker lines) or lighter-wins (thinner) filter.
    weight = round(float(motion.line[0] * np.sin(angle + motion.line[1])))  # -2 to 2 px
    if weight:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(weight) + 1,) * 2)
        if weight > 0:
            picture = cv2.erode(picture, kernel)
            mask = cv2.dilate(mask, kernel)
        else:
            picture = cv2.dilate(picture, kernel)
            mask = cv2.erode(mask, kernel)
    progress = step / max(1, frames - 1)
    value, hue = motion.drift
    picture = recolour(picture, hue * progress, 1.0, 1.0 + value * progress)
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return picture[:1, :1], np.zeros((1, 1), bool)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    return picture[top:bottom, left:right], mask[top:bottom, left:right] > 0


@dataclass(frozen=True)
class Sample:
    film: int
    shot: int
    frame: int
    image: np.ndarray
    p_mask: np.ndarray
    # (identity, bool mask of the figure in the frame)
    figures: list[tuple[int, np.ndarray]]


TINTS = {
    # Prints of one film differ: black and white, sepia, blue or amber tinting (per shot).
    "none": None,
    "grey": np.array([1.0, 1.0, 1.0]),
    "sepia": np.array([1.07, 0.86, 0.62]),
    "blue": np.array([0.62, 0.8, 1.1]),
    "amber": np.array([1.1, 0.85, 0.45]),
}


def tint(image: np.ndarray, name: str) -> np.ndarray:
    colour = TINTS[name]
    if colour is None:
        return image
    grey = image.astype(np.float32).mean(axis=2, keepdims=True)
    return np.clip(grey * colour, 0, 255).astype(np.uint8)


def make_collection(
    figures: list[Figure],
    backgrounds: list[np.ndarray],
    rng: np.random.Generator,
    *,
    films: int,
    shots: int,
    frames: int,
    hard: bool = False,
    animated: bool = True,
) -> list[Sample]:
    """Shots of figures over photographs; ``animated``: each figure redrawn on every sampled
    frame (``redraw``), else only moved and grown (the collections measured before)."""
    width, height = SIZE
    samples = []
    for film in range(films):
        for shot in range(shots):
            background = backgrounds[int(rng.integers(len(backgrounds)))]
            if rng.random() < 0.5:
                background = background[:, ::-1]
            shown = rng.choice(len(figures), size=1 + int(rng.random() < 0.5), replace=False)
            plans = []
            for slot, identity in enumerate(shown):
                figure = figures[int(identity)]
                hue = 0.5 if hard else 0.15
                look = (
                    (rng.uniform(-hue, hue), rng.uniform(0.6, 1.3), rng.uniform(0.75, 1.15))
                    if rng.random() < 0.6
                    else (0.0, 1.0, 1.0)
                )
                scale = rng.uniform(0.35, 0.6) * height / figure.image.shape[0]
                half = width // len(shown)
                motion = random_motion(rng) if animated else None
                plans.append(
                    (
                        int(identity),
                        figure,
                        look,
                        scale,
                        slot * half,
                        half,
                        rng.uniform(-1, 1),
                        motion,
                        -1 if slot == 0 and len(shown) == 2 else (1 if slot else 0),
                    )
                )
            shot_tint = str(rng.choice(list(TINTS))) if hard else "none"
            flip = hard and rng.random() < 0.5
            for step in range(frames):
                image = background.copy()
                p_mask = np.ones((height, width), bool)
                placed = []
                for identity, figure, look, scale, left0, span, drift, motion, side in plans:
                    grow = scale * (1 + 0.04 * step)
                    h = max(8, int(figure.image.shape[0] * grow))
                    w = max(8, min(span - 4, int(figure.image.shape[1] * grow)))
                    picture = cv2.resize(recolour(figure.image, *look), (w, h))
                    mask = cv2.resize(figure.mask.astype(np.uint8), (w, h)) > 0
                    if flip:
                        picture, mask = picture[:, ::-1], mask[:, ::-1]
                    exit_shift = 0
                    if motion is not None:
                        picture, mask = redraw(picture, mask, motion, step, frames)
                        h, w = mask.shape
                        fit = min(1.0, (span - 4) / w, (height - 2) / h)
                        if fit < 1.0:
                            w, h = max(8, int(w * fit)), max(8, int(h * fit))
                            picture = cv2.resize(picture, (w, h))
                            mask = cv2.resize(mask.astype(np.uint8), (w, h)) > 0
                        if motion.exit_edge:
                            # Leaves through the frame's edge: up to 40 % cut off at the end.
                            reach = 0.4 * w * step / max(1, frames - 1)
                            exit_shift = int(reach) * (side if side else (1 if drift > 0 else -1))
                    free_x = max(0, span - w)
                    x = left0 + int(np.clip(free_x / 2 + drift * 6 * step, 0, free_x))
                    y = int(np.clip((height - h) / 2 + 8 * drift * step, 0, height - h))
                    x += exit_shift
                    # The part of the figure inside the frame.
                    x0, x1 = max(0, x), min(width, x + w)
                    inside = mask[:, x0 - x : x1 - x]
                    region = image[y : y + h, x0:x1]
                    region[inside] = picture[:, x0 - x : x1 - x][inside]
                    full = np.zeros((height, width), bool)
                    full[y : y + h, x0:x1] = inside
                    p_mask &= ~full
                    placed.append((identity, full))
                # What the pipeline stores, and reads back.
                stored = decode_mask(encode_mask(p_mask, 160))
                samples.append(Sample(film, shot, step, tint(image, shot_tint), stored, placed))
    return samples


@dataclass
class Elements:
    vectors: np.ndarray
    truth: np.ndarray
    tracks: list[tuple[int, int]]
    shots: list[tuple[int, int]]
    frames: list[int]  # each element's sampled frame in its shot
    seconds: float
    # (N, CACHED_VIEWS, D) embeddings of augmented views of the stored crops, and their time.
    views: np.ndarray
    views_seconds: float
    # ``--stage-blocks``: the last blocks' input maps of each crop (N, C, 7, 7) and of its
    # views (N, V, C, 7, 7), float16; None without.
    maps: np.ndarray | None = None
    view_maps: np.ndarray | None = None


CACHED_VIEWS = 4
STAGE_VIEWS = 2  # views kept with maps (the maps take 18 kB each)


def stored_crop(picture: np.ndarray) -> np.ndarray:
    """The crop as the job stores it (128 px JPEG) and reads it back to augment it."""
    thumbnail = Image.fromarray(picture)
    thumbnail.thumbnail((128, 128))
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=85)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))


def element_crops(
    samples: list[Sample], *, plain_crops: bool = False
) -> tuple[list[np.ndarray], list[int], list[tuple[Sample, Region]]]:
    """Each region's crop (masked as the job masks it), its figure (-1: none) and where
    it was found."""
    crops, truth, items = [], [], []
    for sample in samples:
        height, width = sample.image.shape[:2]
        for region in regions_from_mask(sample.p_mask):
            x0, y0, x1, y1 = region.box
            box_mask = np.zeros((height, width), bool)
            box_mask[int(y0 * height) : int(y1 * height), int(x0 * width) : int(x1 * width)] = True
            overlaps = [
                (int((mask & box_mask).sum()), identity) for identity, mask in sample.figures
            ]
            best = max(overlaps)
            truth.append(best[1] if best[0] > 0 else -1)
            if plain_crops:
                crops.append(crop(sample.image, region.box))
            else:
                crops.append(masked_crop(sample.image, region.box, ~sample.p_mask))
            items.append((sample, region))
    return crops, truth, items


def extract(
    samples: list[Sample],
    embedder: FrameEmbedder,
    *,
    plain_crops: bool = False,
    seed: int = 0,
    views: int = CACHED_VIEWS,
    stage: bool = False,
) -> Elements:
    started = time.perf_counter()
    recorder = StageRecorder(embedder) if stage else None
    embed = recorder.embed if recorder is not None else embedder.embed
    crops, truth, items = element_crops(samples, plain_crops=plain_crops)
    keys = [(sample.film, sample.shot) for sample, _ in items]
    frames = [sample.frame for sample, _ in items]
    vectors = embed(crops).astype(np.float32)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    # Untoned, whatever the default: ``--tone`` views are embedded apart (``toned_views``).
    view_vectors = augmented_views(
        [stored_crop(picture) for picture in crops],
        embed,
        views=views,
        seed=seed,
        settings=replace(AugmentSettings(), tone=0.0),
    )
    views_seconds = time.perf_counter() - started
    started = time.perf_counter()
    track_ids = link_tracks(
        [TrackItem((s.film, s.shot), s.frame, r.box, vectors[i]) for i, (s, r) in enumerate(items)]
    )
    maps = view_maps = None
    if recorder is not None:
        maps = recorder.features[0]
        view_maps = recorder.features[1].reshape(len(crops), views, *maps.shape[1:])
    return Elements(
        vectors,
        np.array(truth),
        [(0, t) for t in track_ids],
        keys,
        frames,
        seconds + time.perf_counter() - started,
        view_vectors,
        views_seconds,
        maps,
        view_maps,
    )


def collection_name(args: argparse.Namespace, seed: int) -> str:
    return (
        f"{args.split}-{seed}-{args.identities}-{args.films}-{args.shots}-{args.frames}"
        f"{'-hard' if args.hard else ''}{'-rigid' if args.rigid else '-animated'}"
        f"{'-plain' if args.plain_crops else '-masked'}"
    )


def toned_views(
    samples: list[Sample], embedder: FrameEmbedder, args: argparse.Namespace, seed: int
) -> tuple[np.ndarray, float]:
    """(N, views, D) embeddings of views that may be toned (``--tone``: the probability),
    and the seconds they took; kept under ``--cache`` apart from the extracted elements."""
    path = (
        Path(args.cache or "")
        / f"{collection_name(args, seed)}-tone{args.tone}-views{args.views}.npz"
    )
    if args.cache is not None and path.is_file():
        with np.load(path) as stored:
            return stored["views"], float(stored["seconds"])
    started = time.perf_counter()
    crops, _, _ = element_crops(samples, plain_crops=args.plain_crops)
    views = augmented_views(
        [stored_crop(picture) for picture in crops],
        embedder.embed,
        views=args.views,
        seed=seed,
        settings=AugmentSettings(tone=args.tone),
    )
    seconds = time.perf_counter() - started
    if args.cache is not None:
        np.savez(path, views=views, seconds=seconds)
    return views, seconds


def cached_extract(
    samples: list[Sample], embedder: FrameEmbedder, args: argparse.Namespace, seed: int
) -> Elements:
    """``extract``, kept under ``--cache`` (tuning the refinement need not re-embed)."""
    stage = args.stage_blocks > 0
    if args.cache is None:
        views = STAGE_VIEWS if stage else CACHED_VIEWS
        return extract(
            samples, embedder, plain_crops=args.plain_crops, seed=seed, views=views, stage=stage
        )
    name = (
        f"{collection_name(args, seed)}"
        f"{f'-views{STAGE_VIEWS}-maps' if stage else f'-views{CACHED_VIEWS}'}-frames.npz"
    )
    path = Path(args.cache) / name
    if path.is_file():
        with np.load(path) as stored:
            return Elements(
                stored["vectors"],
                stored["truth"],
                [tuple(t) for t in stored["tracks"].tolist()],
                [tuple(k) for k in stored["shots"].tolist()],
                stored["frames"].tolist(),
                float(stored["seconds"]),
                stored["views"],
                float(stored["views_seconds"]),
                stored["maps"] if stage else None,
                stored["view_maps"] if stage else None,
            )
    elements = extract(
        samples,
        embedder,
        plain_crops=args.plain_crops,
        seed=seed,
        views=STAGE_VIEWS if stage else CACHED_VIEWS,
        stage=stage,
    )
    extra = {"maps": elements.maps, "view_maps": elements.view_maps} if stage else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        vectors=elements.vectors,
        truth=elements.truth,
        tracks=np.array(elements.tracks),
        shots=np.array(elements.shots),
        frames=np.array(elements.frames),
        seconds=elements.seconds,
        views=elements.views,
        views_seconds=elements.views_seconds,
        **extra,
    )
    return elements


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    total = 0
    for cluster in set(labels.tolist()):
        members = truth[labels == cluster]
        total += np.bincount(members).max()
    return total / len(truth)


def labelling_accuracy(
    vectors: np.ndarray, labels: np.ndarray, truth: np.ndarray, rng: np.random.Generator
) -> float:
    """Name one random example of each identity: its cluster takes the name; every element
    is then labelled by the nearest named centroid (what the API does)."""
    names: dict[int, int] = {}
    for identity in sorted(set(truth.tolist())):
        example = int(rng.choice(np.flatnonzero(truth == identity)))
        names.setdefault(int(labels[example]), identity)
    named = sorted(names)
    centroids = np.stack([vectors[labels == cluster].mean(axis=0) for cluster in named])
    best, _ = nearest_centroid(vectors, centroids)
    predicted = np.array([names[named[b]] for b in best])
    return float((predicted == truth).mean())


def track_purity(elements: Elements) -> float:
    keys = np.array([hash(t) for t in elements.tracks])
    return purity(np.unique(keys, return_inverse=True)[1], elements.truth)


def evaluate(
    elements: Elements,
    refine_settings: RefineSettings,
    seed: int,
    *,
    stage: StageSettings | None = None,
    encoder: object = None,
) -> dict[str, float]:
    keep = elements.truth >= 0
    truth = elements.truth[keep]
    track_keys = [t for t, k in zip(elements.tracks, keep, strict=True) if k]
    shot_keys = [s for s, k in zip(elements.shots, keep, strict=True) if k]
    frames = [f for f, k in zip(elements.frames, keep, strict=True) if k]
    moments = [(*shot, frame) for shot, frame in zip(shot_keys, frames, strict=True)]
    raw = elements.vectors[keep]
    views = refine_settings.augment_views
    augmented = elements.views[keep][:, :views] if views else None
    track_ints = np.unique([hash(t) for t in track_keys], return_inverse=True)[1].tolist()
    started = time.perf_counter()
    refined: np.ndarray | None = None
    weights = refine(
        raw,
        track_keys,
        shot_keys,
        augmented=augmented,
        settings=refine_settings,
        seed=seed,
        device="cpu",
    ).weights
    head_s = time.perf_counter() - started
    if stage is not None and elements.maps is not None and elements.view_maps is not None:
        # Then the encoder's last block(s) with that head, on the cached maps
        # (``--stage-blocks``): the figures after are the stage's, the head's in "head_".
        maps = elements.maps[keep]
        view_maps = elements.view_maps[keep][:, :views] if views else None
        staged = refine_stage(
            encoder,  # type: ignore[arg-type]
            maps,
            raw,
            track_keys,
            shot_keys,
            view_maps=view_maps,
            settings=refine_settings,
            stage=stage,
            head=weights,
            seed=seed,
        )
        if staged.model is not None:
            refined = apply_stage(encoder, staged.model, maps, stage.blocks)  # type: ignore[arg-type]
    # Embedding the views is part of the refinement's cost (measured for all views made).
    made = max(1, elements.views.shape[1])
    refine_s = time.perf_counter() - started + elements.views_seconds * views / made
    figures: dict[str, float] = {"refine_s": refine_s, "head_s": head_s}
    for name, head in (("before", None), ("after", weights)):
        vectors = refined if name == "after" and refined is not None else project(raw, head)
        for key, value in _cluster_figures(vectors, truth, track_ints, moments, seed).items():
            figures[f"{key}_{name}"] = value
    if refined is not None:
        figures["stage_s"] = refine_s - head_s - elements.views_seconds * views / made
        head_figures = _cluster_figures(project(raw, weights), truth, track_ints, moments, seed)
        figures.update({f"{key}_head": value for key, value in head_figures.items()})
    return figures


def _cluster_figures(
    vectors: np.ndarray,
    truth: np.ndarray,
    track_ints: list[int],
    moments: list[tuple[int, int, int]],
    seed: int,
) -> dict[str, float]:
    started = time.perf_counter()
    clustering = cluster_elements(vectors, track_ints, moments=moments)
    return {
        "cluster_s": time.perf_counter() - started,
        "clusters": len(clustering.exemplars),
        "purity": purity(clustering.labels, truth),
        "nmi": normalized_mutual_info_score(truth, clustering.labels),
        "label_acc": labelling_accuracy(
            vectors, clustering.labels, truth, np.random.default_rng(seed)
        ),
    }


def bench_proposals(figures: list[Figure], rng: np.random.Generator, count: int) -> None:
    """Recall of pasted figures (IoU >= 0.5) on drawn backgrounds, per salient method."""
    drawn = sorted((DATA / "nonphotographic").glob("undraw_*"))[1::2][:40]
    hits = dict.fromkeys(SALIENT_METHODS, 0)
    extra = dict.fromkeys(SALIENT_METHODS, 0)
    total = 0
    for _ in range(count):
        # Paper, or a faded illustration, as the drawn background.
        paper = np.full((SIZE[1], SIZE[0], 3), 240, np.uint8)
        if rng.random() < 0.5:
            other = Image.open(drawn[int(rng.integers(len(drawn)))]).convert("RGB").resize(SIZE)
            paper = (0.35 * np.asarray(other) + 0.65 * 245).astype(np.uint8)
        identity = int(rng.integers(len(figures)))
        figure = figures[identity]
        scale = rng.uniform(0.4, 0.7) * SIZE[1] / figure.image.shape[0]
        h = int(figure.image.shape[0] * scale)
        w = min(SIZE[0] - 2, int(figure.image.shape[1] * scale))
        picture = cv2.resize(figure.image, (w, h))
        mask = cv2.resize(figure.mask.astype(np.uint8), (w, h)) > 0
        x, y = int(rng.integers(0, SIZE[0] - w)), int(rng.integers(0, SIZE[1] - h))
        paper[y : y + h, x : x + w][mask] = picture[mask]
        ys, xs = np.nonzero(mask)
        truth = (
            (x + xs.min()) / SIZE[0],
            (y + ys.min()) / SIZE[1],
            (x + xs.max() + 1) / SIZE[0],
            (y + ys.max() + 1) / SIZE[1],
        )
        total += 1
        for method in SALIENT_METHODS:
            regions = salient_regions(paper, method=method)
            if any(box_iou(region.box, truth) >= 0.5 for region in regions):
                hits[method] += 1
            extra[method] += sum(box_iou(region.box, truth) < 0.5 for region in regions)
    print(f"\nproposals on drawn frames ({total} figures): recall@IoU0.5, extra regions/frame")
    for method in SALIENT_METHODS:
        print(f"  {method:16s} {hits[method] / total:.3f}  {extra[method] / total:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("tune", "report"), default="report")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--identities", type=int, default=12)
    parser.add_argument("--films", type=int, default=6)
    parser.add_argument("--shots", type=int, default=8)
    parser.add_argument("--frames", type=int, default=5, help="sampled frames (seconds) per shot")
    parser.add_argument("--steps", type=int, default=RefineSettings.steps)
    parser.add_argument("--margin", type=float, default=RefineSettings.margin)
    parser.add_argument("--lr", type=float, default=RefineSettings.learning_rate)
    parser.add_argument("--same-shot", type=float, default=RefineSettings.same_shot_negatives)
    parser.add_argument(
        "--false-negative", type=float, default=RefineSettings.false_negative_similarity
    )
    parser.add_argument("--hidden", type=int, default=RefineSettings.hidden)
    parser.add_argument("--loss", choices=("infonce", "triplet"), default=RefineSettings.loss)
    parser.add_argument("--temperature", type=float, default=RefineSettings.temperature)
    parser.add_argument("--weight-decay", type=float, default=RefineSettings.weight_decay)
    parser.add_argument(
        "--views",
        type=int,
        default=RefineSettings.augment_views,
        help=f"augmented views per element (at most {CACHED_VIEWS})",
    )
    parser.add_argument(
        "--second-round-partners",
        type=float,
        default=RefineSettings.second_round_partners,
        help="a second round with positives across shots from mutual nearest tracks of the "
        "first round's space at this similarity (default: one round)",
    )
    parser.add_argument(
        "--tone",
        type=float,
        default=AugmentSettings.tone,
        help="probability that a view is toned (monochrome, tinted); above 0 the views are "
        "embedded again (the cached ones are untoned)",
    )
    parser.add_argument("--aug-positives", type=float, default=RefineSettings.augment_positives)
    parser.add_argument("--aug-anchors", type=float, default=RefineSettings.augment_anchors)
    parser.add_argument(
        "--hard",
        action="store_true",
        help="archive prints: per-shot tints (grey, sepia, blue, amber), any hue, mirrored",
    )
    parser.add_argument(
        "--rigid",
        action="store_true",
        help="figures only moved, grown and recoloured per shot, not redrawn per frame "
        "(the collections measured before)",
    )
    parser.add_argument(
        "--plain-crops",
        action="store_true",
        help="embed the whole box (the job greys the photographic part of a hybrid's box)",
    )
    parser.add_argument(
        "--stage-blocks",
        type=int,
        default=0,
        help="also train the encoder's last 1 or 2 blocks with the head (0: the head alone)",
    )
    parser.add_argument("--stage-lr", type=float, default=StageSettings.block_learning_rate)
    parser.add_argument("--stage-steps", type=int, default=StageSettings.steps)
    parser.add_argument("--stage-batch", type=int, default=StageSettings.batch_size)
    parser.add_argument("--proposals", action="store_true")
    parser.add_argument("--cache", help="keep extracted elements here (for tuning)")
    args = parser.parse_args()

    settings = replace(
        RefineSettings(),
        steps=args.steps,
        margin=args.margin,
        learning_rate=args.lr,
        same_shot_negatives=args.same_shot,
        false_negative_similarity=args.false_negative,
        hidden=args.hidden,
        loss=args.loss,
        temperature=args.temperature,
        weight_decay=args.weight_decay,
        augment_views=args.views,
        augment_positives=args.aug_positives,
        augment_anchors=args.aug_anchors,
        second_round_partners=args.second_round_partners,
    )
    stage = None
    if args.stage_blocks:
        if args.views > STAGE_VIEWS:
            parser.error(f"--stage-blocks keeps {STAGE_VIEWS} views per element")
        stage = StageSettings(
            blocks=args.stage_blocks,
            block_learning_rate=args.stage_lr,
            steps=args.stage_steps,
            batch_size=args.stage_batch,
        )
    embedder = FrameEmbedder.load(ModelSettings(device="cpu"))
    figures_pool = load_figures(args.split, args.identities)
    backgrounds = load_backgrounds(args.split)
    print(
        f"split {args.split}: {len(figures_pool)} identities, {len(backgrounds)} backgrounds, "
        f"{args.films} films x {args.shots} shots x {args.frames} s; refine {settings}"
        f"{f'; {stage}' if stage else ''}"
    )
    rows = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        samples = make_collection(
            figures_pool,
            backgrounds,
            rng,
            films=args.films,
            shots=args.shots,
            frames=args.frames,
            hard=args.hard,
            animated=not args.rigid,
        )
        elements = cached_extract(samples, embedder, args, seed)
        if args.tone > 0:
            views, views_seconds = toned_views(samples, embedder, args, seed)
            elements = replace(elements, views=views, views_seconds=views_seconds)
        figures = evaluate(elements, settings, seed, stage=stage, encoder=embedder.encoder)
        minutes = len(samples) / 60.0  # one sampled frame per second of film
        total_s = elements.seconds + figures["refine_s"] + figures["cluster_s_after"]
        figures["s_per_film_min"] = total_s / minutes
        figures["elements"] = len(elements.truth)
        figures["track_purity"] = track_purity(elements)
        rows.append(figures)
        print(
            f"seed {seed}: {len(elements.truth)} elements, "
            f"{len({t for t in elements.tracks})} tracks (purity {figures['track_purity']:.3f}); "
            f"clusters {figures['clusters_before']:.0f} -> {figures['clusters_after']:.0f}; "
            f"purity {figures['purity_before']:.3f} -> {figures['purity_after']:.3f}; "
            f"NMI {figures['nmi_before']:.3f} -> {figures['nmi_after']:.3f}; "
            f"label acc {figures['label_acc_before']:.3f} -> {figures['label_acc_after']:.3f}; "
            f"{figures['s_per_film_min']:.1f} s per film minute "
            f"(extract {elements.seconds:.1f} s, refine {figures['refine_s']:.1f} s)"
        )
        if "nmi_head" in figures:
            print(
                f"  head alone: clusters {figures['clusters_head']:.0f}, purity "
                f"{figures['purity_head']:.3f}, NMI {figures['nmi_head']:.3f}, label acc "
                f"{figures['label_acc_head']:.3f}; training: head {figures['head_s']:.1f} s, "
                f"then blocks {figures['stage_s']:.1f} s"
            )
    mean = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
    if "nmi_head" in mean:
        print(
            f"\nhead alone (mean): purity {mean['purity_head']:.3f}, NMI {mean['nmi_head']:.3f} "
            f"(gain {mean['nmi_head'] - mean['nmi_before']:+.3f}), labelling accuracy "
            f"{mean['label_acc_head']:.3f}"
        )
    print(
        f"\nmean over {len(rows)} seeds: purity {mean['purity_before']:.3f} -> "
        f"{mean['purity_after']:.3f}, NMI {mean['nmi_before']:.3f} -> {mean['nmi_after']:.3f} "
        f"(gain {mean['nmi_after'] - mean['nmi_before']:+.3f}), labelling accuracy "
        f"{mean['label_acc_before']:.3f} -> {mean['label_acc_after']:.3f}, "
        f"{mean['s_per_film_min']:.1f} s per film minute (CPU, this machine)"
    )
    if args.proposals:
        bench_proposals(figures_pool, np.random.default_rng(args.seeds[0]), 60)


if __name__ == "__main__":
    main()
