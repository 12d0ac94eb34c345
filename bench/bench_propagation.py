"""Mask propagation on clips of known truth: how well one or two annotated frames carry
through a shot.

    python bench/bench_propagation.py                  # report: held-out validation sources
    python bench/bench_propagation.py --tune           # tuning clips: calibration sources
    python bench/bench_propagation.py --clips 12 --annotated 1 --json

Each clip is a shot as the analysis samples it (one frame per second, 3-10 s): a
photographic still panned and zoomed over, with a drawn layer (the figure of a
non-photographic image, or a graphic inset, with its exact mask) moving and scaling over
it; every frame degraded like an archival transfer (``workers.ml.degrade``, the same kind
of degradation through a clip). Backgrounds and drawings come from ``../shared/data``:
the report uses the validation sources (held out of training), ``--tune`` the calibration
sources (also held out of training, and disjoint from the validation ones), with other
seeds, so settings are never chosen on the clips reported.

Four ways are compared on the frames that were not annotated (mIoU over P and NP, pixels
pooled): the segmenter alone; the annotation copied to every frame; optical flow alone
(DIS, frame to frame from the nearest annotation); feature propagation, raw and refined
with the model's logits (and, as a fifth line, with flow fused in).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workers.ml.composites import foreground_of  # noqa: E402
from workers.ml.data import (  # noqa: E402
    CALIBRATION_SOURCES,
    VALIDATION_SOURCES,
    list_images,
    load_rgb,
    source_of,
)
from workers.ml.degrade import degrade  # noqa: E402

WIDTH, HEIGHT = 320, 240


@dataclass(frozen=True)
class Clip:
    frames: list[np.ndarray]  # RGB uint8, HEIGHT x WIDTH
    truth: list[np.ndarray]  # bool, True = P
    description: str


def _images(folder: Path, sources: frozenset[str]) -> list[Path]:
    return [path for path in list_images(folder) if source_of(path) in sources]


def _drawn_layer(np_img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(RGB, mask of the drawn part): a figure cut from a flat background, else an inset."""
    figure = foreground_of(np_img)
    if figure is not None:
        ys, xs = np.nonzero(figure)
        crop = np_img[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        return crop, figure[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = np_img.shape[:2]
    ch, cw = int(h * rng.uniform(0.4, 0.8)), int(w * rng.uniform(0.4, 0.8))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = np_img[y : y + ch, x : x + cw]
    mask = np.ones(crop.shape[:2], bool)
    if rng.random() < 0.5:  # an oval vignette rather than a rectangle
        yy, xx = np.mgrid[0:ch, 0:cw]
        mask = ((yy - ch / 2) / (ch / 2)) ** 2 + ((xx - cw / 2) / (cw / 2)) ** 2 <= 1.0
    return crop, mask


def make_clip(p_img: np.ndarray, np_img: np.ndarray, rng: np.random.Generator) -> Clip:
    seconds = int(rng.integers(3, 11))
    background = cv2.resize(p_img, (WIDTH * 2, HEIGHT * 2), interpolation=cv2.INTER_LINEAR)
    layer, layer_mask = _drawn_layer(np_img, rng)
    # Camera: a window over the (doubled) background that pans and zooms.
    zoom0, zoom1 = rng.uniform(1.0, 1.6, size=2)
    centre0 = rng.uniform([0.35, 0.35], [0.65, 0.65])
    centre1 = np.clip(centre0 + rng.uniform(-0.2, 0.2, size=2), 0.3, 0.7)
    # The drawn layer: its size (share of the frame's height) and path.
    size0 = rng.uniform(0.3, 0.6)
    size1 = float(np.clip(size0 * rng.uniform(0.7, 1.4), 0.2, 0.75))
    pos0 = rng.uniform(0.2, 0.8, size=2)
    pos1 = np.clip(pos0 + rng.uniform(-0.35, 0.35, size=2), 0.1, 0.9)
    degrade_seed = int(rng.integers(1 << 30))
    strength = rng.uniform(0.5, 1.0)
    frames, truth = [], []
    for second in range(seconds):
        t = second / max(seconds - 1, 1)
        zoom = zoom0 + (zoom1 - zoom0) * t
        cy, cx = centre0 + (centre1 - centre0) * t
        win_h, win_w = 2 * HEIGHT / zoom, 2 * WIDTH / zoom
        top = float(np.clip(cy * 2 * HEIGHT - win_h / 2, 0, 2 * HEIGHT - win_h))
        left = float(np.clip(cx * 2 * WIDTH - win_w / 2, 0, 2 * WIDTH - win_w))
        crop = background[int(top) : int(top + win_h), int(left) : int(left + win_w)]
        frame = cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA).copy()
        scale = (size0 + (size1 - size0) * t) * HEIGHT / layer.shape[0]
        lh = max(8, int(layer.shape[0] * scale))
        lw = max(8, min(WIDTH - 2, int(layer.shape[1] * scale)))
        drawn = cv2.resize(layer, (lw, lh), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(layer_mask.astype(np.uint8), (lw, lh), interpolation=cv2.INTER_NEAREST)
        py, px = pos0 + (pos1 - pos0) * t
        y = int(np.clip(py * HEIGHT - lh / 2, 0, HEIGHT - lh))
        x = int(np.clip(px * WIDTH - lw / 2, 0, WIDTH - lw))
        region = frame[y : y + lh, x : x + lw]
        region[mask.astype(bool)] = drawn[mask.astype(bool)]
        p_mask = np.ones((HEIGHT, WIDTH), bool)
        p_mask[y : y + lh, x : x + lw] = ~mask.astype(bool)
        frames.append(degrade(frame, np.random.default_rng(degrade_seed), strength))
        truth.append(p_mask)
    return Clip(frames, truth, f"{seconds} s")


def make_clips(count: int, sources: frozenset[str], seed: int) -> list[Clip]:
    data = REPO.parent / "shared" / "data"
    photos = _images(data / "photographic", sources)
    drawings = _images(data / "nonphotographic", sources)
    if not photos or not drawings:
        raise SystemExit(f"no images of sources {sorted(sources)} under {data}")
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(count):
        p_img = load_rgb(photos[int(rng.integers(len(photos)))], 640)
        np_img = load_rgb(drawings[int(rng.integers(len(drawings)))], 480)
        clips.append(make_clip(p_img, np_img, rng))
    return clips


class Confusion:
    """Pixels pooled over frames: intersection and union per class (0 = NP, 1 = P)."""

    def __init__(self) -> None:
        self.inter = np.zeros(2)
        self.union = np.zeros(2)

    def add(self, predicted: np.ndarray, truth: np.ndarray) -> None:
        for cls, value in ((0, False), (1, True)):
            p, t = predicted == value, truth == value
            self.inter[cls] += np.logical_and(p, t).sum()
            self.union[cls] += np.logical_or(p, t).sum()

    @property
    def miou(self) -> float:
        return float((self.inter / np.maximum(self.union, 1)).mean())


def annotated_positions(count: int, how_many: int) -> list[int]:
    return [count // 2] if how_many == 1 else [0, count - 1]


def run(
    clips: Sequence[Clip], how_many: int, config_overrides: dict[str, object]
) -> dict[str, object]:
    from app.core.config import ModelSettings
    from workers.ml import propagation
    from workers.ml.inference import Segmenter

    segmenter = Segmenter.load(ModelSettings(device="auto"))
    config = replace(propagation.PropagationConfig(), **config_overrides)  # type: ignore[arg-type]
    ways: dict[str, Callable[[list[np.ndarray], dict[int, np.ndarray]], list[np.ndarray]]] = {
        "model alone": lambda f, a: propagation.model_only(f, segmenter),
        "copy annotation": propagation.copy_nearest,
        "flow only": propagation.flow_only,
        "features (raw)": lambda f, a: propagation.propagate(
            f, a, segmenter, replace(config, use_flow=False), refine=False
        ),
        "features + model": lambda f, a: propagation.propagate(
            f, a, segmenter, replace(config, use_flow=False)
        ),
        "features + model + flow": lambda f, a: propagation.propagate(f, a, segmenter, config),
    }
    scores = {name: Confusion() for name in ways}
    per_clip: dict[str, list[float]] = {name: [] for name in ways}
    seconds = dict.fromkeys(ways, 0.0)
    for clip in clips:
        positions = annotated_positions(len(clip.frames), how_many)
        annotated = {i: clip.truth[i] for i in positions}
        for name, way in ways.items():
            started = time.perf_counter()
            maps = way(clip.frames, annotated)
            seconds[name] += time.perf_counter() - started
            clip_score = Confusion()
            for i, (p_map, truth) in enumerate(zip(maps, clip.truth, strict=True)):
                if i in annotated:
                    continue
                scores[name].add(p_map >= 0.5, truth)
                clip_score.add(p_map >= 0.5, truth)
            per_clip[name].append(clip_score.miou)
    frames = sum(len(c.frames) - len(annotated_positions(len(c.frames), how_many)) for c in clips)
    return {
        "clips": len(clips),
        "evaluated_frames": frames,
        "annotated_per_clip": how_many,
        "miou": {name: score.miou for name, score in scores.items()},
        "median_clip_miou": {name: float(np.median(v)) for name, v in per_clip.items()},
        "seconds_per_frame": {name: seconds[name] / max(frames, 1) for name in ways},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--annotated", type=int, choices=(1, 2), nargs="+", default=[1, 2])
    parser.add_argument("--tune", action="store_true", help="calibration sources, tuning seed")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a PropagationConfig field (tuning)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sources = CALIBRATION_SOURCES if args.tune else VALIDATION_SOURCES
    seed = args.seed if args.seed is not None else (1000 if args.tune else 2026)
    overrides: dict[str, object] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value)
    clips = make_clips(args.clips, sources, seed)
    results = []
    for how_many in args.annotated:
        result = run(clips, how_many, overrides)
        result["split"] = (
            "tuning (calibration sources)" if args.tune else "report (validation sources)"
        )
        result["seed"] = seed
        results.append(result)
        if args.json:
            print(json.dumps(result))
            continue
        print(
            f"\n{result['split']}, seed {seed}: {result['clips']} clips, "
            f"{how_many} annotated frame(s) each, {result['evaluated_frames']} frames scored"
        )
        model = result["miou"]["model alone"]  # type: ignore[index]
        for name, value in result["miou"].items():  # type: ignore[attr-defined]
            median = result["median_clip_miou"][name]  # type: ignore[index]
            speed = result["seconds_per_frame"][name]  # type: ignore[index]
            print(
                f"  {name:26s} mIoU {value:.3f}  ({value - model:+.3f} vs model; "
                f"median clip {median:.3f}; {1000 * speed:.0f} ms/frame)"
            )


if __name__ == "__main__":
    main()
