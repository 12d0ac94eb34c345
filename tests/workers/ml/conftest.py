"""Tiny model configs and generated images for fast model tests."""

from __future__ import annotations

import numpy as np
import pytest

from workers.ml.data import ImagePool
from workers.ml.models import ClassifierConfig, SegmenterConfig


def tiny_classifier_config(**overrides: object) -> ClassifierConfig:
    values: dict[str, object] = dict(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    values.update(overrides)
    return ClassifierConfig(**values)  # type: ignore[arg-type]


def tiny_segmenter_config(**overrides: object) -> SegmenterConfig:
    values: dict[str, object] = dict(
        image_size=32,
        hidden_sizes=[8, 16, 24, 32],
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 1, 1],
        decoder_hidden_size=16,
    )
    values.update(overrides)
    return SegmenterConfig(**values)  # type: ignore[arg-type]


def photo_like(rng: np.random.Generator, height: int = 48, width: int = 64) -> np.ndarray:
    """Smooth gradients plus noise: the texture statistics of a photograph."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = (np.sin(xx / 7.0 + rng.uniform(0, 6)) + np.cos(yy / 5.0)) * 50 + 128
    noise = rng.normal(0, 12, (height, width, 3))
    return np.clip(base[:, :, None] + noise, 0, 255).astype(np.uint8)


def drawing_like(rng: np.random.Generator, height: int = 48, width: int = 64) -> np.ndarray:
    """Flat colour regions with hard edges: the statistics of a drawing."""
    image = np.full((height, width, 3), rng.integers(180, 256, 3), np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, height - 8), rng.integers(0, width - 8)
        image[y : y + rng.integers(4, 16), x : x + rng.integers(4, 16)] = rng.integers(0, 256, 3)
    return image


@pytest.fixture
def pools() -> tuple[ImagePool, ImagePool]:
    rng = np.random.default_rng(0)
    p_images = [photo_like(rng) for _ in range(6)]
    np_images = [drawing_like(rng) for _ in range(6)]
    return ImagePool(p_images, ["photo"] * 6), ImagePool(np_images, ["drawing"] * 6)
