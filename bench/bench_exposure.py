"""Exposure and contrast: how much a darker, brighter, faded or crushed transfer moves the
pipeline's frame classes, and whether a per-frame levels stretch before the models undoes it.

Old prints and tapes come in every exposure. This bench maps the degraded held-out frames
through a tone curve (gamma 2.2 and 0.45, faded to 0.5x + 0.35, crushed to 1.6x - 0.3,
underexposed to 0.4x) and runs the pipeline's decision (``decide_frames``, black-border crop
on, as shipped) on them: frame-class accuracy against the truth, agreement with the
decision on the untouched frames (no curve, no stretch), and the share called hybrid.
``--stretch`` first maps each frame's 1st-99th percentile of the RGB mean to 0-255 (a levels
stretch), the candidate fix.

    nice .venv/bin/python bench/bench_exposure.py [--sources calibration|validation] [--stretch]
        [--classifier DIR] [--segmenter DIR]

Choose on the calibration sources (the default); validation only measures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_borders import add_held_out_arguments, held_out_sets, model_settings

from app.core.config import ClassThresholds
from workers.ml.inference import Classifier, Segmenter, decide_frames

Image = np.ndarray


def tone(curve: Callable[[np.ndarray], np.ndarray]) -> Callable[[Image], Image]:
    levels = np.clip(curve(np.arange(256) / 255.0) * 255, 0, 255).astype(np.uint8)
    return lambda image: levels[image]


CURVES: dict[str, Callable[[Image], Image]] = {
    "none": lambda image: image,
    "darker, gamma 2.2": tone(lambda x: x**2.2),
    "brighter, gamma 0.45": tone(lambda x: x**0.45),
    "faded, 0.5x + 0.35": tone(lambda x: 0.5 * x + 0.35),
    "crushed, 1.6x - 0.3": tone(lambda x: 1.6 * x - 0.3),
    "underexposed, 0.4x": tone(lambda x: 0.4 * x),
}


def stretch(image: Image) -> Image:
    """The frame's 1st-99th percentile of the RGB mean mapped to 0-255 (flat frames as they
    are)."""
    low, high = np.percentile(image.mean(axis=2), (1, 99))
    if high - low < 16:
        return image
    scaled = (image.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_held_out_arguments(parser)
    parser.add_argument("--stretch", action="store_true", help="levels-stretch every frame first")
    args = parser.parse_args()

    homogeneous, composites = held_out_sets(args)
    sets = {"homogeneous": homogeneous, "composites": composites}
    thresholds = ClassThresholds()
    settings = model_settings(args)
    classifier, segmenter = Classifier.load(settings), Segmenter.load(settings)
    print(
        f"{args.sources} sources, levels stretch {'on' if args.stretch else 'off'}: frame-class"
        " accuracy / same class as the untouched frames / share called hybrid"
    )
    print(f"{'tone curve':<22} {'homogeneous':>26} {'composites':>26}")
    untouched = {
        set_name: [
            decision.verdict.frame_class.value
            for decision in decide_frames(
                classifier, segmenter, [s.image for s in samples], thresholds
            )
        ]
        for set_name, samples in sets.items()
    }
    for name, curve in CURVES.items():
        cells = []
        for set_name, samples in sets.items():
            frames = [curve(sample.image) for sample in samples]
            if args.stretch:
                frames = [stretch(frame) for frame in frames]
            decisions = decide_frames(classifier, segmenter, frames, thresholds)
            called = [decision.verdict.frame_class.value for decision in decisions]
            truth = [thresholds.classify(float(s.p_mask.mean())).value for s in samples]
            accuracy = np.mean([c == t for c, t in zip(called, truth, strict=True)])
            same = np.mean([c == u for c, u in zip(called, untouched[set_name], strict=True)])
            hybrid = np.mean([c == "hybrid" for c in called])
            cells.append(f"{accuracy:.3f} / {same:.3f} / {hybrid:.3f}")
        print(f"{name:<22} {cells[0]:>26} {cells[1]:>26}", flush=True)


if __name__ == "__main__":
    main()
