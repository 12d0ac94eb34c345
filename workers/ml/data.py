"""Training and validation images: the labelled folders, split by source, cached in memory.

Images are named ``<source>_<index>.jpg``; the validation split holds whole sources, so the
models are always measured on sources they never saw. ``borderline/`` is never read.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

# Held-out sources (chosen once, for both classes): photos of city architecture, early films,
# stock photos, TV documentary; cartoons, maps, manga lettering, anime, paintings.
VALIDATION_SOURCES: frozenset[str] = frozenset(
    {
        "urban100",
        "rrtn",
        "oldfilm",
        "psd",
        "adain",
        "famguy",
        "cartopy",
        "mangaocr",
        "apisr",
        "sponge",
    }
)
# Sources kept out of training to fit the confidence calibration (never the validation sources:
# ECE is measured there): press portraits, a 1940s documentary, old family photos; paintings,
# cel-animation frames, manga pages, cel line art.
CALIBRATION_SOURCES: frozenset[str] = frozenset(
    {"dface", "remaster", "gfpgan", "dph", "lvcd", "mcol", "basicpbc"}
)
# Never trained on: the validation sources (reported) and the calibration sources (choices,
# confidence calibration, hybrid rates), whatever folder their images are in.
HELD_OUT_SOURCES: frozenset[str] = VALIDATION_SOURCES | CALIBRATION_SOURCES
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Long side of the cached images: training crops are taken from these.
CACHE_LONG_SIDE = 320


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    source: str
    is_photographic: bool


@dataclass
class ImagePool:
    """Decoded RGB images of one class and split, kept in memory for fast sampling."""

    images: list[np.ndarray]
    sources: list[str]

    def __len__(self) -> int:
        return len(self.images)


def source_of(path: Path) -> str:
    stem = path.stem
    return stem.rsplit("_", 1)[0] if "_" in stem else stem


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def labelled_images(data_root: Path) -> list[LabelledImage]:
    """The homogeneous images under ``data_root/photographic`` and ``data_root/nonphotographic``."""
    items: list[LabelledImage] = []
    for folder, is_p in (("photographic", True), ("nonphotographic", False)):
        directory = data_root / folder
        if not directory.is_dir():
            raise FileNotFoundError(f"{directory} does not exist (expected a folder of images)")
        items += [LabelledImage(p, source_of(p), is_p) for p in list_images(directory)]
    return items


def split_by_source(
    items: Sequence[LabelledImage], validation_sources: Iterable[str] = VALIDATION_SOURCES
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    held_out = set(validation_sources)
    train = [it for it in items if it.source not in held_out]
    val = [it for it in items if it.source in held_out]
    return train, val


def load_rgb(path: Path, long_side: int | None = None) -> np.ndarray:
    """Read an image as HxWx3 uint8 RGB, optionally shrunk so its long side is ``long_side``."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (long_side, long_side) if long_side else None)
            rgb = img.convert("RGB")
    except UnidentifiedImageError as exc:
        raise ValueError(f"{path} is not an image PIL can read") from exc
    if long_side and max(rgb.size) > long_side:
        scale = long_side / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def _pool(items: Sequence[LabelledImage], long_side: int) -> ImagePool:
    return ImagePool([load_rgb(it.path, long_side) for it in items], [it.source for it in items])


@dataclass
class DataSplits:
    train_p: ImagePool
    train_np: ImagePool
    val_p: ImagePool
    val_np: ImagePool
    hybrid: ImagePool
    calib_p: ImagePool
    calib_np: ImagePool


def load_splits(
    data_root: Path, cache_dir: Path | None = None, long_side: int = CACHE_LONG_SIDE
) -> DataSplits:
    """All pools, from a pickle cache keyed on the file list when one exists."""
    items = labelled_images(data_root)
    hybrid_dir = data_root / "hybrid"
    hybrid_paths = list_images(hybrid_dir) if hybrid_dir.is_dir() else []
    key = hashlib.sha256(
        repr(
            (
                [str(i.path) for i in items],
                [str(p) for p in hybrid_paths],
                long_side,
                sorted(VALIDATION_SOURCES),
                sorted(CALIBRATION_SOURCES),
            )
        ).encode()
    ).hexdigest()[:16]
    cache = cache_dir / f"pools-{key}.pkl" if cache_dir else None
    if cache and cache.exists():
        with cache.open("rb") as fh:
            splits: DataSplits = pickle.load(fh)
        return splits
    train, val = split_by_source(items)
    calib = [i for i in train if i.source in CALIBRATION_SOURCES]
    train = [i for i in train if i.source not in CALIBRATION_SOURCES]
    splits = DataSplits(
        train_p=_pool([i for i in train if i.is_photographic], long_side),
        train_np=_pool([i for i in train if not i.is_photographic], long_side),
        val_p=_pool([i for i in val if i.is_photographic], long_side),
        val_np=_pool([i for i in val if not i.is_photographic], long_side),
        hybrid=ImagePool(
            [load_rgb(p, long_side) for p in hybrid_paths], [source_of(p) for p in hybrid_paths]
        ),
        calib_p=_pool([i for i in calib if i.is_photographic], long_side),
        calib_np=_pool([i for i in calib if not i.is_photographic], long_side),
    )
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as fh:
            pickle.dump(splits, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return splits
