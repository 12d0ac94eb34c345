"""Kinds of archival transfer, one at a time: how each moves the pipeline's frame classes.

The validation figures are measured on frames degraded by the training mix (grain, b/w,
sepia, blur, flicker, vignette, scratches, JPEG: ``workers.ml.degrade``). An archive's
transfers also come faded, tinted, at a small size, through a VHS tape or interlaced, which
the models never saw in training. This bench takes the held-out frames before their
degradation and applies one kind of transfer at a time, at a strong setting, then runs the
pipeline's decision (``decide_frames``, as shipped) on them:

- homogeneous frames: accuracy, the share called hybrid, the share with P and NP swapped,
  the share with the class the clean frame gets without the colour balance ("same");
- composites: accuracy, hybrid recall and "same";
- the share of frames the colour balance stretched.

Rows marked "unseen" are transfers absent from training. ``--balance``: ``cast`` (as
shipped: the models take a colour cast out, ``app.pipeline.colour``), ``none`` (off) or
``stretch`` (every frame stretched before the models, a candidate measured and not shipped).

    nice .venv/bin/python bench/bench_transfers.py [--sources calibration|validation]
        [--balance cast|none|stretch] [--only NAME...] [--sheet SHEET.jpg]
        [--classifier DIR] [--segmenter DIR]

Choose on the calibration sources (the default); validation only measures.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_borders import add_held_out_arguments, held_out_sets, model_settings

from app.core.config import ClassThresholds
from app.pipeline.colour import balance
from workers.ml.composites import Sample
from workers.ml.inference import Classifier, Segmenter, decide_frames

Image = np.ndarray
Transfer = Callable[[Image, np.random.Generator], Image]


def _luma(image: Image) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def _to_uint8(image: np.ndarray) -> Image:
    return np.clip(image * 255.0, 0, 255).astype(np.uint8)


def black_and_white(image: Image, rng: np.random.Generator) -> Image:
    return np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def heavy_grain(image: Image, rng: np.random.Generator) -> Image:
    h, w = image.shape[:2]
    small = rng.normal(0.0, 20.0, (h // 2, w // 2, 1)).astype(np.float32)
    noise = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)[:, :, None]
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def soft(image: Image, rng: np.random.Generator) -> Image:
    return cv2.GaussianBlur(image, (0, 0), 2.5)


def jpeg_q8(image: Image, rng: np.random.Generator) -> Image:
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 8])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    return image if decoded is None else decoded[:, :, ::-1].copy()


def worn(image: Image, rng: np.random.Generator) -> Image:
    """Eight scratches and forty specks of dust."""
    out = image.copy()
    h, w = image.shape[:2]
    for _ in range(8):
        x = int(rng.integers(0, w))
        value = int(rng.choice([20, 235]))
        cv2.line(
            out,
            (x, 0),
            (int(np.clip(x + rng.integers(-8, 9), 0, w - 1)), h - 1),
            (value, value, value),
            int(rng.integers(1, 3)),
        )
    for _ in range(40):
        v = int(rng.choice([10, 240]))
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(out, centre, int(rng.integers(1, 4)), (v, v, v), -1)
    return out


# A faded colour print, per RGB channel: out = value * FADE_GAIN + FADE_LIFT (0-255 levels).
FADE_GAIN = (0.62, 0.55, 0.58)
FADE_LIFT = (92.0, 31.0, 66.0)


def faded_colour(image: Image, rng: np.random.Generator) -> Image:
    """A faded colour print: the cyan and yellow dyes gone first, a magenta-red cast left,
    the blacks lifted."""
    out = image.astype(np.float32) * np.array(FADE_GAIN, np.float32) + np.array(FADE_LIFT)
    return np.clip(out, 0, 255).astype(np.uint8)


def tinted(colour: tuple[float, float, float]) -> Transfer:
    """A tinted b/w print (silent era): the film base dyed, so the highlights take the
    colour and the blacks stay black."""
    tint = np.array(colour, np.float32)
    return lambda image, rng: _to_uint8(_luma(image)[:, :, None] * tint)


def low_resolution(image: Image, rng: np.random.Generator) -> Image:
    """A third of the size, scaled back up: a small video transfer or a web copy."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // 3), max(1, h // 3)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def vhs(image: Image, rng: np.random.Generator) -> Image:
    """A VHS tape: luma soft along the line, chroma a tenth of its bandwidth and shifted
    right, tape noise in streaks, a tracking band at the bottom."""
    h, w = image.shape[:2]
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    ycc[:, :, 0] = cv2.blur(ycc[:, :, 0], (max(1, w // 160), 1))
    chroma_width = max(3, w // 16) | 1
    for channel in (1, 2):
        smeared = cv2.blur(ycc[:, :, channel], (chroma_width, 1))
        ycc[:, :, channel] = np.roll(smeared, max(1, w // 80), axis=1)
    streaks = rng.normal(0.0, 8.0, (h, 1)).astype(np.float32) + rng.normal(0.0, 4.0, (h, w))
    ycc[:, :, 0] += streaks
    band = max(2, h // 30)
    ycc[h - band :, :, 0] = np.roll(ycc[h - band :, :, 0], w // 20, axis=1) + rng.normal(
        0.0, 30.0, (band, w)
    )
    out = np.clip(ycc, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB)


def interlaced(image: Image, rng: np.random.Generator) -> Image:
    """Two fields of a pan woven into one frame (interlaced video shown without
    deinterlacing): every other line from a picture moved sideways."""
    shift = max(2, image.shape[1] // 60)
    out = image.copy()
    out[1::2] = np.roll(image, shift, axis=1)[1::2]
    return out


TRANSFERS: dict[str, tuple[Transfer | None, bool]] = {
    # name: (transfer, unseen in training); None = the frames as the validation has them.
    "none (clean)": (lambda image, rng: image, False),
    "training mix": (None, False),
    "black-and-white": (black_and_white, False),
    "heavy grain": (heavy_grain, False),
    "soft, blur 2.5 px": (soft, False),
    "JPEG quality 8": (jpeg_q8, False),
    "worn: scratches, dust": (worn, False),
    "faded colour, magenta": (faded_colour, True),
    "tinted blue": (tinted((0.45, 0.62, 1.0)), True),
    "tinted green": (tinted((0.55, 1.0, 0.55)), True),
    "low resolution, 1/3": (low_resolution, True),
    "VHS tape": (vhs, True),
    "interlaced, combed": (interlaced, True),
}


# name: (applied to every frame before the models, whether the models take casts out).
BALANCES: dict[str, tuple[Callable[[Image], Image] | None, bool]] = {
    # As shipped: the models take a cast out where the black or white point is coloured.
    "cast": (None, True),
    "none": (None, False),
    # Every channel's 1st-99th percentile stretched to 0-255 in every frame (auto colour).
    "stretch": (lambda image: balance(image, cast_levels=-1.0), False),
}


def frame_classes(
    classifier: Classifier, segmenter: Segmenter, frames: list[Image], thresholds: ClassThresholds
) -> list[str]:
    decisions = decide_frames(classifier, segmenter, frames, thresholds)
    return [decision.verdict.frame_class.value for decision in decisions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_held_out_arguments(parser)
    parser.add_argument("--only", nargs="*", default=None, help="transfer names to run")
    parser.add_argument(
        "--balance",
        choices=tuple(BALANCES),
        default="cast",
        help="colour balance: as shipped (cast), none, or every frame stretched",
    )
    parser.add_argument("--sheet", type=Path, default=None, help="write a contact sheet (JPEG)")
    args = parser.parse_args()

    clean = dict(zip(("homogeneous", "composites"), held_out_sets(args, clean=True), strict=True))
    if args.sheet:
        sample_sheet(clean["composites"], args.sheet)
    mixed = dict(zip(("homogeneous", "composites"), held_out_sets(args), strict=True))
    thresholds = ClassThresholds()
    before, models_balance = BALANCES[args.balance]
    plain = model_settings(args, balance_colour=False)
    plain_models = Classifier.load(plain), Segmenter.load(plain)
    settings = model_settings(args, balance_colour=models_balance)
    classifier, segmenter = Classifier.load(settings), Segmenter.load(settings)
    truth = {
        name: [thresholds.classify(float(s.p_mask.mean())).value for s in samples]
        for name, samples in clean.items()
    }
    untouched = {
        name: frame_classes(*plain_models, [s.image for s in samples], thresholds)
        for name, samples in clean.items()
    }
    print(
        f"{args.sources} sources: {len(clean['homogeneous'])} homogeneous frames,"
        f" {len(clean['composites'])} composites; one transfer at a time; colour balance"
        f" {args.balance}; 'same': the class of the clean frame without balance; 'balanced':"
        " the share of frames the balance changed"
    )
    print(
        f"{'transfer':<32} {'homogeneous: acc / hybrid / swapped / same':>43}"
        f" {'composites: acc / recall / same':>32} {'balanced':>9}"
    )
    for name, (transfer, unseen) in TRANSFERS.items():
        if args.only and name not in args.only:
            continue
        rng = np.random.default_rng(2026)
        cells, changed = [], []
        for set_name, samples in clean.items():
            frames: list[Image] = (
                [s.image for s in mixed[set_name]]
                if transfer is None
                else [transfer(s.image, rng) for s in samples]
            )
            if before is not None:
                stretched = [before(frame) for frame in frames]
                changed += [
                    not np.array_equal(s, f) for s, f in zip(stretched, frames, strict=True)
                ]
                frames = stretched
            else:
                changed += [models_balance and balance(frame) is not frame for frame in frames]
            called = frame_classes(classifier, segmenter, frames, thresholds)
            cells.append(
                _cell(
                    called,
                    truth[set_name],
                    untouched[set_name],
                    homogeneous=set_name == "homogeneous",
                )
            )
        label = f"{name}{' (unseen)' if unseen else ''}"
        print(f"{label:<32} {cells[0]:>43} {cells[1]:>32} {np.mean(changed):>9.3f}", flush=True)


def _cell(called: list[str], truth: list[str], untouched: list[str], *, homogeneous: bool) -> str:
    pairs = list(zip(called, truth, strict=True))
    accuracy = np.mean([c == t for c, t in pairs])
    same = np.mean([c == u for c, u in zip(called, untouched, strict=True)])
    if homogeneous:
        hybrid = np.mean([c == "hybrid" for c, _ in pairs])
        swapped = np.mean([c != t and c != "hybrid" for c, t in pairs])
        return f"{accuracy:.3f} / {hybrid:.3f} / {swapped:.3f} / {same:.3f}"
    hybrids = [c for c, t in pairs if t == "hybrid"]
    recall = np.mean([c == "hybrid" for c in hybrids]) if hybrids else float("nan")
    return f"{accuracy:.3f} / {recall:.3f} / {same:.3f}"


def sample_sheet(samples: list[Sample], out: Path) -> None:
    """A contact sheet of the first frame under every transfer (for a look by eye)."""
    rng = np.random.default_rng(2026)
    tiles = []
    for _name, (transfer, _unseen) in TRANSFERS.items():
        if transfer is not None:
            tile = transfer(samples[0].image, rng)
            tiles.append(cv2.resize(tile, (240, 180), interpolation=cv2.INTER_AREA))
    rows = [
        np.hstack(tiles[i : i + 4] + [np.zeros_like(tiles[0])] * (4 - len(tiles[i : i + 4])))
        for i in range(0, len(tiles), 4)
    ]
    cv2.imwrite(str(out), np.vstack(rows)[:, :, ::-1])


if __name__ == "__main__":
    main()
