"""Burned-in subtitles: how often the pipeline calls a subtitled frame hybrid.

Distribution prints and broadcast transfers carry subtitles burned into the picture, or into
the black bar under it. A subtitle is lettering, and the models learned that lettering over a
photograph is a hybrid composition. This bench draws one or two lines of subtitle text (white
or yellow, with a dark outline, shadow or box; 4.5-7% of the frame's height per line) at the
bottom of the degraded homogeneous frames and composites of held-out sources, and runs the
pipeline's decision (``decide_frames``), with ``ModelSettings.skip_subtitles`` off and on: frame-class
accuracy against the frame's truth without the subtitle, agreement with the decision on the
frame without it, and the share called hybrid. "letterbox" puts the frame in black bars
first and the subtitle in the bottom bar.

    nice .venv/bin/python bench/bench_subtitles.py [--sources calibration|validation]
    nice .venv/bin/python bench/bench_subtitles.py --false-positives
    nice .venv/bin/python bench/bench_subtitles.py --timecode [--sources ...]

``--false-positives`` instead looks for subtitles in every image of ``--data`` (none has
any), each at 320 px on its long side as the pools load it, and prints where it found some.
``--timecode`` burns a viewing copy's timecode window (white digits on a black box, in a fixed
box of the frame: bottom centre, top centre or a corner) into the frames instead, and decides
them as shipped and with the window named as a burned-in region
(``ModelSettings.burn_in_regions``).

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

from app.core.config import ClassThresholds, ModelSettings
from app.pipeline.subtitles import subtitle_top
from workers.ml.composites import Sample
from workers.ml.data import list_images, load_rgb
from workers.ml.inference import Classifier, Segmenter, decide_frames

SPEECH = (
    "the and you what where when never again tonight come here please listen I know we must go "
    "home now father mother love war city train morning letter door tomorrow"
)
WORDS = SPEECH.split()


# Typefaces: Pillow's own (Aileron) and, where the system has them, DejaVu sans and serif.
FONT_FILES = (
    None,
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
)


def _font(size: int, rng: np.random.Generator) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    choices = [f for f in FONT_FILES if f is None or Path(f).exists()]
    chosen = choices[int(rng.integers(len(choices)))]
    if chosen is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(chosen, size)


def subtitled(
    frame: np.ndarray, rng: np.random.Generator, lines: int, band: tuple[int, int] | None = None
) -> np.ndarray:
    """``frame`` with ``lines`` centred subtitle lines at its bottom (or centred in the rows
    ``band``): white or yellow, 4.5-7% of the height, with a dark outline, a drop shadow or
    a dark box behind them, in one of the typefaces."""
    height, width = frame.shape[:2]
    size = max(8, round(height * rng.uniform(0.045, 0.07)))
    font = _font(size, rng)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    texts = []
    for _ in range(lines):
        text = " ".join(rng.choice(WORDS, int(rng.integers(3, 7))))
        while draw.textlength(text, font=font) > 0.9 * width and " " in text:
            text = text.rsplit(" ", 1)[0]
        texts.append(text)
    step = round(size * 1.25)
    # Over the picture: the lines end 4-8% above the bottom; in a bar: centred in it.
    margin = round(height * rng.uniform(0.04, 0.08))
    bottom = height - margin if band is None else (band[0] + band[1] + step * lines) // 2
    top = bottom - step * lines
    fill = (235, 215, 40) if rng.random() < 0.3 else (240, 240, 240)
    style = ("outline", "shadow", "box")[int(rng.integers(3))] if band is None else "outline"
    for number, text in enumerate(texts):
        x = (width - draw.textlength(text, font=font)) / 2
        y = top + number * step
        if style == "box":
            left, upper, right, lower = draw.textbbox((x, y), text, font=font)
            pad = max(2, size // 5)
            draw.rectangle((left - pad, upper - pad, right + pad, lower + pad), fill=(12, 12, 12))
        elif style == "shadow":
            offset = max(1, size // 10)
            draw.text((x + offset, y + offset), text, font=font, fill=(8, 8, 8))
        outline = max(1, size // 12) if style == "outline" else 0
        draw.text(
            (x, y), text, font=font, fill=fill, stroke_width=outline, stroke_fill=(10, 10, 10)
        )
    return np.asarray(image)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_held_out_arguments(parser)
    parser.add_argument(
        "--false-positives",
        action="store_true",
        help="look for subtitles in every image of --data instead",
    )
    parser.add_argument("--timecode", action="store_true", help="burn in timecode windows")
    args = parser.parse_args()
    if args.false_positives:
        false_positives(args.data)
        return

    homogeneous, composites = held_out_sets(args)
    sets = {"homogeneous": homogeneous, "composites": composites}
    thresholds = ClassThresholds()
    if args.timecode:
        timecodes(args, sets, thresholds)
        return
    for skip in (False, True):
        print(f"\nskip_subtitles {'on' if skip else 'off'}")
        report(args, sets, model_settings(args, skip_subtitles=skip), thresholds)


# Where a viewing copy's timecode window sits: (left, top, right, bottom), fractions of the frame.
WINDOWS = {
    "bottom centre": (0.35, 0.82, 0.65, 0.9),
    "top centre": (0.35, 0.05, 0.65, 0.13),
    "corner": (0.62, 0.84, 0.95, 0.92),
}


def timecoded(frame: np.ndarray, window: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """``frame`` with a timecode (white digits on black) filling ``window``."""
    height, width = frame.shape[:2]
    left, top, right, bottom = (
        round(window[0] * width), round(window[1] * height),
        round(window[2] * width), round(window[3] * height),
    )  # fmt: skip
    text = ":".join(f"{int(x):02d}" for x in rng.integers(0, 24, 4))
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle((left, top, right, bottom), fill=(0, 0, 0))
    size = max(6, bottom - top - 4)
    font = ImageFont.load_default(size=size)
    while size > 6 and draw.textlength(text, font=font) > right - left - 4:
        size -= 1
        font = ImageFont.load_default(size=size)
    x = (left + right - draw.textlength(text, font=font)) / 2
    draw.text((x, top + 1), text, font=font, fill=(255, 255, 255))
    return np.asarray(image)


def timecodes(
    args: argparse.Namespace, sets: dict[str, list[Sample]], thresholds: ClassThresholds
) -> None:
    """Frames with a timecode window, decided as shipped and with the window named."""
    print(
        f"{args.sources} sources: frame-class accuracy / same class as without the window /"
        " share called hybrid"
    )
    plain = {}
    shipped = model_settings(args)
    for name, samples in sets.items():
        plain[name] = _classes(shipped, [s.image for s in samples], thresholds)
    print(f"{'timecode window':<32} {'homogeneous':>26} {'composites':>26}")
    for where, window in WINDOWS.items():
        for named in (False, True):
            settings = model_settings(args, burn_in_regions=[window] if named else [])
            cells = []
            for name, samples in sets.items():
                rng = np.random.default_rng(9)
                frames = [timecoded(s.image, window, rng) for s in samples]
                called = _classes(settings, frames, thresholds)
                truth = [thresholds.classify(float(s.p_mask.mean())).value for s in samples]
                accuracy = np.mean([c == t for c, t in zip(called, truth, strict=True)])
                same = np.mean([c == p for c, p in zip(called, plain[name], strict=True)])
                hybrid = np.mean([c == "hybrid" for c in called])
                cells.append(f"{accuracy:.3f} / {same:.3f} / {hybrid:.3f}")
            label = f"{where}{', named' if named else ''}"
            print(f"{label:<32} {cells[0]:>26} {cells[1]:>26}", flush=True)


def _classes(
    settings: ModelSettings, frames: list[np.ndarray], thresholds: ClassThresholds
) -> list[str]:
    classifier, segmenter = Classifier.load(settings), Segmenter.load(settings)
    return [
        d.verdict.frame_class.value
        for d in decide_frames(classifier, segmenter, frames, thresholds)
    ]


def false_positives(data: Path) -> None:
    """How many images of each folder of ``data`` the subtitle rule finds subtitles in."""
    for folder in ("photographic", "nonphotographic", "hybrid"):
        paths = list_images(data / folder)
        found = []
        for path in paths:
            image = load_rgb(path, 320)
            top = subtitle_top(image)
            if top is not None:
                found.append(f"{path.stem} at {top / image.shape[0]:.2f}")
        print(f"{folder}: subtitles found in {len(found)} of {len(paths)}", flush=True)
        if found:
            print("  " + ", ".join(found))


def report(
    args: argparse.Namespace,
    sets: dict[str, list[Sample]],
    settings: ModelSettings,
    thresholds: ClassThresholds,
) -> None:
    """One table: every subtitle layout, decided with ``settings``."""
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
