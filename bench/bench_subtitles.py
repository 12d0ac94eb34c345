"""Burned-in subtitles: how often the pipeline calls a subtitled frame hybrid.

Distribution prints and broadcast transfers carry subtitles burned into the picture, or into
the black bar under it. A subtitle is lettering, and the models learned that lettering over a
photograph is a hybrid composition. This bench draws one or two lines of subtitle text (white
with a black outline, or yellow; about 6% of the frame's height per line) at the bottom of
the degraded homogeneous frames and composites of held-out sources, and runs the pipeline's
decision (``decide_frames``): frame-class accuracy against the frame's truth without the
subtitle, agreement with the decision on the frame without it, and the share called hybrid.
"letterbox" puts the frame in black bars first and the subtitle in the bottom bar.

    nice .venv/bin/python bench/bench_subtitles.py [--sources calibration|validation]

Choose on the calibration sources (the default); validation only measures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_borders import add_held_out_arguments, barred, held_out_sets, model_settings

from app.core.config import ClassThresholds
from workers.ml.inference import Classifier, Segmenter, decide_frames

SPEECH = (
    "the and you what where when never again tonight come here please listen I know we must go "
    "home now father mother love war city train morning letter door tomorrow"
)
WORDS = SPEECH.split()


def subtitled(
    frame: np.ndarray, rng: np.random.Generator, lines: int, band: tuple[int, int] | None = None
) -> np.ndarray:
    """``frame`` with ``lines`` centred subtitle lines at its bottom (or centred in the rows
    ``band``)."""
    height, width = frame.shape[:2]
    size = max(8, round(height * 0.06))
    font = ImageFont.load_default(size=size)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    texts = []
    for _ in range(lines):
        text = " ".join(rng.choice(WORDS, int(rng.integers(3, 7))))
        while draw.textlength(text, font=font) > 0.9 * width and " " in text:
            text = text.rsplit(" ", 1)[0]
        texts.append(text)
    step = round(size * 1.25)
    # Over the picture: the lines end 6% above the bottom; in a bar: centred in it.
    bottom = (
        height - round(height * 0.06) if band is None else (band[0] + band[1] + step * lines) // 2
    )
    top = bottom - step * lines
    yellow = rng.random() < 0.3
    fill = (235, 215, 40) if yellow else (240, 240, 240)
    for number, text in enumerate(texts):
        x = (width - draw.textlength(text, font=font)) / 2
        draw.text(
            (x, top + number * step),
            text,
            font=font,
            fill=fill,
            stroke_width=max(1, size // 12),
            stroke_fill=(10, 10, 10),
        )
    return np.asarray(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_held_out_arguments(parser)
    args = parser.parse_args()

    homogeneous, composites = held_out_sets(args)
    sets = {"homogeneous": homogeneous, "composites": composites}
    thresholds = ClassThresholds()
    settings = model_settings(args)
    classifier, segmenter = Classifier.load(settings), Segmenter.load(settings)

    def classes(frames: list[np.ndarray]) -> list[str]:
        return [
            d.verdict.frame_class.value
            for d in decide_frames(classifier, segmenter, frames, thresholds)
        ]

    print(
        f"{args.sources} sources: frame-class accuracy / same class as without the subtitle /"
        " share called hybrid; photographs called hybrid"
    )
    print(f"{'subtitle':<32} {'homogeneous':>26} {'composites':>26} {'photographs':>12}")
    for boxed in (False, True):
        variants = ("none", "one line in the bar") if boxed else ("none", "one line", "two lines")
        bare: dict[str, tuple[list[np.ndarray], list[str]]] = {}
        for set_name, samples in sets.items():
            rng = np.random.default_rng(7)
            frames = [s.image for s in samples]
            if boxed:
                frames = [barred(frame, "letterbox", rng)[0] for frame in frames]
            bare[set_name] = (frames, classes(frames))
        for variant in variants:
            cells, photographs = [], ""
            for set_name, samples in sets.items():
                rng = np.random.default_rng(8)
                frames, plain = bare[set_name]
                if variant == "one line in the bar":
                    # Centred in the bottom bar, which is as tall as the top one.
                    frames = [
                        subtitled(f, rng, 1, band=(f.shape[0] - (f.shape[0] - s.image.shape[0]) // 2,
                                                   f.shape[0]))
                        for f, s in zip(frames, samples, strict=True)
                    ]  # fmt: skip
                elif variant != "none":
                    lines = 1 if variant == "one line" else 2
                    frames = [subtitled(f, rng, lines) for f in frames]
                called = plain if variant == "none" else classes(frames)
                truth = [thresholds.classify(float(s.p_mask.mean())).value for s in samples]
                accuracy = np.mean([c == t for c, t in zip(called, truth, strict=True)])
                same = np.mean([c == p for c, p in zip(called, plain, strict=True)])
                hybrid = np.mean([c == "hybrid" for c in called])
                cells.append(f"{accuracy:.3f} / {same:.3f} / {hybrid:.3f}")
                if set_name == "homogeneous":
                    pairs = [(c, t) for c, t in zip(called, truth, strict=True) if t == "P"]
                    photographs = f"{np.mean([c == 'hybrid' for c, _ in pairs]):.3f}"
            name = f"letterbox, {variant}" if boxed else variant
            print(f"{name:<32} {cells[0]:>26} {cells[1]:>26} {photographs:>12}", flush=True)


if __name__ == "__main__":
    main()
