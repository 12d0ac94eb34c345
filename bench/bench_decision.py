"""The frame decision: how the classifier's and the segmenter's evidence become one class.

Both models run on every frame of two held-out sets: the calibration sources (where a rule
may be fitted and where rules are compared, by 5-fold cross-validation) and the validation
sources (where the rules are only measured). Per rule: accuracy on homogeneous frames
(configured and strict 95 %/5 % rule) and on composites, hybrid recall, and the share of
frames called hybrid against the true share (what a film's hybrid ratio is made of).

Rules:
- ``overrule``: the classifier's frame head; a frame it calls hybrid takes the segmenter's
  class from its mask (the pipeline before this bench; ``segmenter_overrules=true``);
- ``keep``: the frame head decides, the segmenter only draws the mask (the default; a
  "hybrid" that neither the segmenter's mask nor the classifier's patches draw takes the
  segmenter's class);
- ``segmenter``: the class from the segmenter's mask alone (every frame segmented);
- ``either``: as ``keep``, but hybrid too where the segmenter's mask alone says hybrid (every
  frame segmented): hybrid when either model says so;
- ``overrule-if``: as ``keep``, but the segmenter overrules when its minority share is
  under a threshold fitted on the calibration frames;
- ``unsure``: as ``keep``, but a frame whose frame head is less sure than a level fitted on
  the calibration frames takes the segmenter's class;
- ``stacked``, ``stacked-head``: a logistic regression on both models' figures, or on the
  classifier's alone, fitted on the calibration frames; ``stacked-balanced``: the first with
  every class weighed the same (no prior learnt from the calibration set's mix).

    nice .venv/bin/python bench/bench_decision.py [--classifier DIR] [--segmenter DIR]
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from app.core.config import ClassThresholds, FrameClass, ModelSettings
from workers.ml.composites import Sample
from workers.ml.data import load_splits
from workers.ml.evaluate import (
    STRICT_THRESHOLDS,
    calibration_samples,
    validation_composites,
    validation_homogeneous,
)
from workers.ml.inference import Classifier, Segmenter

CLASSES = [FrameClass.NP, FrameClass.HYBRID, FrameClass.P]
HYBRID = CLASSES.index(FrameClass.HYBRID)
# Feature columns: frame-head probabilities (NP, hybrid, P), the classifier's patch P share,
# the segmenter's pixel P share, its mean certainty, its minority share, the patches' minority.
HEAD, PATCH_P, SEG_P, SEG_SURE, SEG_MINORITY, PATCH_MINORITY = slice(0, 3), 3, 4, 5, 6, 7
STACKED_COLUMNS = {
    "stacked": list(range(8)),
    "stacked-head": [0, 1, 2, PATCH_P, PATCH_MINORITY],
    "stacked-balanced": list(range(8)),
}
RULES = (
    "overrule",
    "keep",
    "segmenter",
    "either",
    "overrule-if",
    "unsure",
    "stacked",
    "stacked-head",
    "stacked-balanced",
)


def frame_features(head: np.ndarray, patch_p: np.ndarray, seg: np.ndarray) -> list[float]:
    seg_p = float((seg >= 0.5).mean())
    patch_share = float((patch_p >= 0.5).mean())
    return [
        *map(float, head),
        patch_share,
        seg_p,
        float(np.abs(2.0 * seg - 1.0).mean()),
        min(seg_p, 1.0 - seg_p),
        min(patch_share, 1.0 - patch_share),
    ]


def features(classifier: Classifier, segmenter: Segmenter, samples: list[Sample]) -> np.ndarray:
    rows = []
    for start in range(0, len(samples), 32):
        images = [s.image for s in samples[start : start + 32]]
        # The pictures' patches, and the segmenter's map inside each picture (black bars).
        patch_maps, heads, boxes = classifier._forward(images)
        assert heads is not None, "the classifier has no frame head"
        maps = segmenter.segment(images)
        for patch_p, head, seg, box in zip(patch_maps, heads, maps, boxes, strict=True):
            rows.append(frame_features(head, patch_p, box.crop(seg)))
    return np.asarray(rows, np.float32)


def predict(
    name: str, x: np.ndarray, thresholds: ClassThresholds, fitted: Any = None
) -> np.ndarray:
    head = x[:, HEAD].argmax(1)
    seg = np.array([CLASSES.index(thresholds.classify(float(f))) for f in x[:, SEG_P]])
    if name == "keep":
        # As ``cascade``: a hybrid that neither mask draws (minority under min_area / 2)
        # takes the segmenter's class.
        least = thresholds.min_area / 2
        unseen = (x[:, SEG_MINORITY] < least) & (x[:, PATCH_MINORITY] < least)
        return np.where((head == HYBRID) & unseen, seg, head)
    if name == "segmenter":
        return seg
    if name == "either":
        # As ``keep``, but a frame the head calls P or NP is hybrid when the segmenter's mask
        # says so (every frame segmented).
        return np.where(seg == HYBRID, HYBRID, predict("keep", x, thresholds))
    if name == "overrule":
        return np.where(head == HYBRID, seg, head)
    if name == "overrule-if":
        return np.where((head == HYBRID) & (x[:, SEG_MINORITY] < fitted), seg, head)
    if name == "unsure":
        # As ``keep``, but a frame whose head is less sure than the fitted level takes the
        # segmenter's class (the segmenter runs on those frames too).
        kept = predict("keep", x, thresholds)
        return np.where(x[:, HEAD].max(1) < fitted, seg, kept)
    model = fitted
    return model.predict(x[:, STACKED_COLUMNS[name]])


# Rules with one fitted level: the grid it is chosen from (the most accurate on the fit set).
LEVELS = {"overrule-if": np.linspace(0.0, 0.08, 17), "unsure": np.linspace(0.3, 1.0, 15)}


def fit(name: str, x: np.ndarray, y: np.ndarray, thresholds: ClassThresholds) -> Any:
    if name in LEVELS:
        return max(LEVELS[name], key=lambda t: np.mean(predict(name, x, thresholds, t) == y))
    if name in STACKED_COLUMNS:
        # "balanced": every class weighs the same, so the fit learns no prior from the mix.
        weight = "balanced" if name == "stacked-balanced" else None
        return LogisticRegression(max_iter=2000, class_weight=weight).fit(
            x[:, STACKED_COLUMNS[name]], y
        )
    return None


def truth(samples: list[Sample], thresholds: ClassThresholds) -> np.ndarray:
    return np.array([CLASSES.index(thresholds.classify(float(s.p_mask.mean()))) for s in samples])


def cached(path: Path, make: Callable[[], np.ndarray]) -> np.ndarray:
    if not path.exists():
        np.save(path, make())
    return np.load(path)


def line(pred: np.ndarray, y: np.ndarray, strict: np.ndarray, homog: np.ndarray) -> str:
    return (
        f"homog {np.mean(pred[homog] == y[homog]):.3f} (strict {np.mean(pred[homog] == strict[homog]):.3f})"
        f"  composites {np.mean(pred[~homog] == y[~homog]):.3f}"
        f"  all {np.mean(pred == y):.3f}"
        f"  hybrid recall {np.mean(pred[y == HYBRID] == HYBRID):.3f}"
        f"  called hybrid {np.mean(pred == HYBRID):.3f} (true {np.mean(y == HYBRID):.3f})"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the benches that run both models on the two sets (this one and
    ``bench_ratio.py``)."""
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--classifier", type=Path, default=None)
    parser.add_argument("--segmenter", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--calibration-per-style", type=int, default=40)


@dataclass(frozen=True)
class Measured:
    """Both models' figures (``features``) on the calibration and validation frames."""

    classifier: Classifier
    segmenter: Segmenter
    thresholds: ClassThresholds
    sets: dict[str, tuple[np.ndarray, list[Sample]]]  # name -> (features, frames)


def measure(args: argparse.Namespace) -> Measured:
    """Load the models and the two sets; their features, cached per model pair and set."""
    settings = ModelSettings(cpu_threads=1)
    classifier = Classifier.load(settings, args.classifier)
    segmenter = Segmenter.load(settings, args.segmenter)
    args.cache.mkdir(parents=True, exist_ok=True)
    # The features change with the models and with whether they look inside black bars.
    key = (
        f"{classifier.version}{segmenter.version}crop={classifier.crop_borders}"
        f"subtitles={classifier.skip_subtitles}"
    )
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    splits = load_splits(args.data, args.cache)
    sets = {
        "calibration": calibration_samples(splits, per_style=args.calibration_per_style),
        "validation": validation_composites(splits, 60) + validation_homogeneous(splits),
    }
    measured = {}
    for name, samples in sets.items():
        x = cached(
            args.cache / f"decision-{name}-{tag}-{len(samples)}.npy",
            lambda samples=samples: features(classifier, segmenter, samples),
        )
        measured[name] = (x, samples)
    return Measured(classifier, segmenter, settings.thresholds, measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(parser)
    measured = measure(parser.parse_args())
    thresholds = measured.thresholds
    data = {}
    for name, (x, samples) in measured.sets.items():
        homog = np.array([s.style in ("P", "NP") for s in samples])
        data[name] = (x, truth(samples, thresholds), truth(samples, STRICT_THRESHOLDS), homog)
        print(f"{name}: {len(samples)} frames, {homog.sum()} homogeneous")
    x_cal, y_cal, strict_cal, homog_cal = data["calibration"]
    print("\n5-fold cross-validation on the calibration sources (rules are chosen here):")
    folds = np.random.default_rng(0).permutation(len(y_cal)) % 5
    for name in RULES:
        pred = np.empty_like(y_cal)
        for k in range(5):
            fitted = fit(name, x_cal[folds != k], y_cal[folds != k], thresholds)
            pred[folds == k] = predict(name, x_cal[folds == k], thresholds, fitted)
        print(f"  {name:<16} {line(pred, y_cal, strict_cal, homog_cal)}")
    print("\nvalidation sources (fitted on all calibration frames; measured, never chosen here):")
    x_val, y_val, strict_val, homog_val = data["validation"]
    for name in RULES:
        fitted = fit(name, x_cal, y_cal, thresholds)
        print(
            f"  {name:<16} {line(predict(name, x_val, thresholds, fitted), y_val, strict_val, homog_val)}"
        )


if __name__ == "__main__":
    main()
