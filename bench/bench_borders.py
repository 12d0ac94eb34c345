"""Frames inside black bars: what letterbox, pillarbox and windowbox bars do to the pipeline's
decision, with and without looking at the picture only (``ModelSettings.crop_borders``).

Archival transfers often carry a 4:3 film in a 16:9 video (pillarbox), a widescreen film in a
4:3 one (letterbox) or both (windowbox). The models never saw bars in training. This bench
puts bars round the degraded composites and homogeneous frames of held-out sources (noisy
near-black, as an analogue transfer's are) and runs the pipeline's decision
(``decide_frames``) on them:

- frame-class accuracy against the truth, homogeneous frames and composites;
- agreement with the decision on the same frames without bars;
- mIoU of the stored masks over the picture (the bars are not scored).

    nice .venv/bin/python bench/bench_borders.py [--sources calibration|validation]

Choose on the calibration sources (the default); validation only measures.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from app.core.config import ClassThresholds, ModelSettings
from workers.ml.composites import Sample
from workers.ml.evaluate import (
    calibration_sets,
    load_splits,
    mask_metrics,
    validation_composites,
    validation_homogeneous,
)
from workers.ml.inference import Classifier, Segmenter, decide_frames, full_size_mask

# (top and bottom, left and right) bar of each kind, as a share of the barred frame's side.
BARS = {
    "none": (0.0, 0.0),
    "letterbox": (0.12, 0.0),  # bars of 0.12 keep 0.76 of the height (about 2.35:1 in 16:9)
    "pillarbox": (0.0, 0.125),  # 4:3 in 16:9 leaves 0.75 of the width
    "windowbox": (0.08, 0.08),
}


def barred(image: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, tuple]:
    """``image`` inside bars of ``kind``, and the picture's (top, left) in the new frame."""
    share_v, share_h = BARS[kind]
    height, width = image.shape[:2]
    top = round(height * share_v / (1 - 2 * share_v))
    left = round(width * share_h / (1 - 2 * share_h))
    frame = np.clip(rng.normal(12, 4, (height + 2 * top, width + 2 * left, 3)), 0, 255).astype(
        np.uint8
    )
    frame[top : top + height, left : left + width] = image
    return frame, (top, left)


def run(
    samples: list[Sample], kind: str, settings: ModelSettings, seed: int
) -> tuple[list[str], list[np.ndarray]]:
    """The pipeline's class of every sample inside bars of ``kind`` and its mask over the
    picture."""
    rng = np.random.default_rng(seed)
    frames, offsets = zip(*(barred(s.image, kind, rng) for s in samples), strict=True)
    decisions = decide_frames(
        Classifier.load(settings),
        Segmenter.load(settings),
        list(frames),
        settings.thresholds,
    )
    classes, masks = [], []
    for decision, frame, (top, left), sample in zip(
        decisions, frames, offsets, samples, strict=True
    ):
        verdict = decision.verdict
        classes.append(verdict.frame_class.value)
        height, width = sample.p_mask.shape
        full = full_size_mask(verdict.p_mask, *frame.shape[:2])
        masks.append(full[top : top + height, left : left + width])
    return classes, masks


def add_held_out_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --cache, --sources (calibration to choose on, validation to measure) and
    --per-style: which held-out frames a bench runs on; --classifier and --segmenter: which
    models (the shipped ones by default)."""
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--sources", choices=("calibration", "validation"), default="calibration")
    parser.add_argument("--per-style", type=int, default=20)
    parser.add_argument("--classifier", type=Path, default=None, help="model directory")
    parser.add_argument("--segmenter", type=Path, default=None, help="model directory")


def model_settings(args: argparse.Namespace, **overrides: Any) -> ModelSettings:
    """CPU settings with the models ``args`` name (None = shipped)."""
    return ModelSettings(
        device="cpu", classifier_path=args.classifier, segmenter_path=args.segmenter, **overrides
    )


def held_out_sets(
    args: argparse.Namespace, *, clean: bool = False
) -> tuple[list[Sample], list[Sample]]:
    """(homogeneous frames, composites) of the sources ``args`` name, degraded (``clean``:
    the same frames before their degradation)."""
    splits = load_splits(args.data, args.cache)
    if args.sources == "validation":
        return (
            validation_homogeneous(splits, clean=clean),
            validation_composites(splits, args.per_style, clean=clean),
        )
    composites, homogeneous = calibration_sets(splits, args.per_style, clean=clean)
    return homogeneous, composites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_held_out_arguments(parser)
    args = parser.parse_args()

    homogeneous, composites = held_out_sets(args)
    thresholds = ClassThresholds()
    truth = {
        "homogeneous": [thresholds.classify(float(s.p_mask.mean())).value for s in homogeneous],
        "composites": [thresholds.classify(float(s.p_mask.mean())).value for s in composites],
    }
    sets = {"homogeneous": homogeneous, "composites": composites}
    print(
        f"{args.sources} sources: {len(homogeneous)} homogeneous frames, {len(composites)}"
        " composites (degraded)"
    )
    print(
        "bars       crop  homogeneous acc  composites acc  same class as without bars"
        "  stored masks mIoU (picture)"
    )
    plain: dict[str, list[str]] = {}
    for number, kind in enumerate(BARS):
        for crop in (False, True) if kind != "none" else (True,):
            row: dict[str, float] = {}
            same = total = 0
            for name, samples in sets.items():
                classes, masks = run(
                    samples, kind, model_settings(args, crop_borders=crop), seed=number
                )
                row[name] = float(
                    np.mean([c == t for c, t in zip(classes, truth[name], strict=True)])
                )
                if kind == "none":
                    plain[name] = classes
                same += sum(c == p for c, p in zip(classes, plain[name], strict=True))
                total += len(classes)
                if name == "composites":
                    row["miou"] = mask_metrics(masks, samples)["overall"]["mIoU"]
            print(
                f"{kind:<10} {'on' if crop else 'off':<5} {row['homogeneous']:>15.3f}"
                f" {row['composites']:>15.3f} {same / total:>27.3f} {row['miou']:>28.3f}"
            )


if __name__ == "__main__":
    main()
