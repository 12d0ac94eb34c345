"""`hybridlens segment`: P/NP masks for still images, one PNG per input at the input's size.

Each mask is a single-channel PNG, 255 = photographic, 0 = non-photographic. Each image is
judged as the analysis pipeline judges a frame: the classifier decides, and an image it calls
hybrid takes the segmenter's mask, P fraction and class; a homogeneous image gets a uniform
mask. The confidence is the calibrated probability that the class is right.
A bad file (not an image, empty, too small, too large) is reported with its reason and the
other images are still processed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.core.config import ModelSettings, get_settings
from workers.ml.data import IMAGE_SUFFIXES
from workers.ml.inference import Classifier, Segmenter, decide_frames, full_size_mask

MIN_SIDE = 16
MAX_PIXELS = 100_000_000  # 100 megapixels: larger stills are refused before decoding


class SegmentError(ValueError):
    """The inputs as a whole cannot be processed (nothing to read, output not writable)."""


class ImageInputError(ValueError):
    """One input is not a usable image; the message says why."""


@dataclass
class SegmentResult:
    path: Path
    mask_path: Path | None = None
    p_fraction: float = 0.0
    classifier_p_fraction: float = 0.0
    frame_class: str = ""
    confidence: float = 0.0
    width: int = 0
    height: int = 0
    # [left, top, right, bottom] of the picture inside black bars and above burned-in
    # subtitles (``subtitles``: its bottom is where they begin); None: the whole image.
    picture: list[int] | None = None
    subtitles: bool = False
    # The models took the image's colour cast out before they looked (a faded or tinted print).
    colour_cast: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "image": str(self.path),
            "mask": str(self.mask_path) if self.mask_path else None,
            "width": self.width,
            "height": self.height,
            "p_fraction": round(self.p_fraction, 4),
            "classifier_p_fraction": round(self.classifier_p_fraction, 4),
            "class": self.frame_class,
            "confidence": round(self.confidence, 4),
            "picture": self.picture,
            "subtitles": self.subtitles,
            "colour_cast": self.colour_cast,
            "error": self.error,
        }


def read_image(path: Path) -> np.ndarray:
    """An RGB uint8 array, or ImageInputError saying why the file cannot be used."""
    if not path.is_file():
        raise ImageInputError("no such file")
    if path.stat().st_size == 0:
        raise ImageInputError("the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise ImageInputError(
                        f"image is too large ({width}x{height}); at most {MAX_PIXELS:,} pixels"
                    )
                if min(width, height) < MIN_SIDE:
                    raise ImageInputError(
                        f"image is too small ({width}x{height}); at least {MIN_SIDE}x{MIN_SIDE} pixels"
                    )
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise ImageInputError("not an image (unrecognised format)") from exc
        raise ImageInputError(f"image is too large: {exc}") from exc
    except OSError as exc:
        raise ImageInputError(f"cannot decode image: {exc}") from exc


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            paths += sorted(
                p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
            )
        else:
            paths.append(item)
    return paths


def segment_paths(
    inputs: Sequence[Path],
    out: Path,
    *,
    segmenter_path: Path | None = None,
    classifier_path: Path | None = None,
    device: str = "auto",
    settings: ModelSettings | None = None,
) -> list[SegmentResult]:
    paths = expand_inputs(inputs)
    if not paths:
        raise SegmentError(
            "no images given (folders are searched for " + ", ".join(IMAGE_SUFFIXES) + ")"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SegmentError(f"cannot create output folder {out}: {exc}") from exc
    settings = (settings or get_settings().model).model_copy(update={"device": device})
    pipeline = get_settings().pipeline
    segmenter = Segmenter.load(settings, segmenter_path)
    classifier = Classifier.load(settings, classifier_path)
    results: list[SegmentResult] = []
    # One image at a time through the models: inputs may be large and of mixed sizes.
    for path in paths:
        result = SegmentResult(path=path)
        results.append(result)
        try:
            image = read_image(path)
        except ImageInputError as exc:
            result.error = str(exc)
            continue
        result.height, result.width = image.shape[:2]
        first = classifier.classify([image])
        (decision,) = decide_frames(
            classifier,
            segmenter,
            [image],
            settings.thresholds,
            overrule=pipeline.segmenter_overrules,
            verdicts=first,
        )
        verdict = decision.verdict
        result.picture = None if verdict.picture is None else verdict.picture.as_list()
        result.subtitles = verdict.picture is not None and verdict.picture.subtitles
        result.colour_cast = verdict.colour_cast
        mask = np.where(full_size_mask(verdict.p_mask, *image.shape[:2]), 255, 0).astype(np.uint8)
        result.p_fraction = verdict.p_fraction
        result.frame_class = verdict.frame_class.value
        result.confidence = verdict.confidence
        result.classifier_p_fraction = first[0].p_fraction
        result.mask_path = out / f"{path.stem}.png"
        Image.fromarray(mask).save(result.mask_path)
    return results
