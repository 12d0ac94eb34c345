"""The frame embedder: shape, dtype and unit norm of its vectors, and that near-duplicates
are closer than different pictures."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.config import ModelSettings
from workers.ml.embedding import FrameEmbedder


@pytest.fixture(scope="module")
def embedder() -> FrameEmbedder:
    return FrameEmbedder.load(ModelSettings(device="cpu", cpu_threads=1, batch_size=4))


def _picture(seed: int, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A scene of a few coloured discs and bars on a coloured ground, different for each seed."""
    rng = np.random.default_rng(seed)
    height, width = size
    rows, cols = np.mgrid[0:height, 0:width]
    image = np.empty((height, width, 3), np.uint8)
    image[:] = rng.integers(0, 256, 3)
    for _ in range(6):
        colour = rng.integers(0, 256, 3)
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = rng.integers(height // 10, height // 3)
        if rng.random() < 0.5:
            image[(rows - cy) ** 2 + (cols - cx) ** 2 < radius**2] = colour
        else:
            image[abs(rows - cy) < radius // 3] = colour
    return image


def test_embed_gives_unit_float16_rows_of_the_stated_dimension(embedder: FrameEmbedder) -> None:
    images = [_picture(seed) for seed in range(5)]  # more than one batch
    vectors = embedder.embed(images)
    assert vectors.shape == (5, embedder.dimension)
    assert vectors.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=2e-3)
    assert embedder.version.startswith("lite0-imagenet")


def test_embed_puts_a_shifted_copy_closer_than_another_picture(embedder: FrameEmbedder) -> None:
    base = _picture(1, (192, 256))
    shifted = base[8:, 10:]  # a small pan
    other = _picture(2, (192, 256))
    vectors = embedder.embed([base, shifted, other]).astype(np.float32)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05


def test_embed_of_nothing_is_an_empty_matrix(embedder: FrameEmbedder) -> None:
    assert embedder.embed([]).shape == (0, embedder.dimension)


def test_embed_refuses_a_grey_image(embedder: FrameEmbedder) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        embedder.embed([np.zeros((32, 32), np.uint8)])
