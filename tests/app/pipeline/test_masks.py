"""Compact mask storage: 1-bit PNG round trip, P fraction and the NP grid."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.pipeline.masks import decode_mask, encode_mask, np_grid, p_fraction


def left_half_photographic(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[:, : width // 2] = True
    return mask


def test_mask_round_trips_exactly_when_smaller_than_mask_size() -> None:
    mask = np.random.default_rng(3).random((37, 53)) > 0.5

    assert np.array_equal(decode_mask(encode_mask(mask, mask_size=160)), mask)


def test_encode_mask_shrinks_long_side_to_mask_size_when_mask_is_large() -> None:
    restored = decode_mask(encode_mask(left_half_photographic(240, 320), mask_size=80))

    assert restored.shape == (60, 80)
    assert p_fraction(restored) == pytest.approx(0.5)


def test_encode_mask_writes_one_bit_png() -> None:
    data = encode_mask(left_half_photographic(120, 160), mask_size=160)

    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.mode) == ("PNG", "1")


def test_encode_mask_cuts_probabilities_at_one_half_when_mask_is_float() -> None:
    probabilities = np.array([[0.2, 0.49, 0.5, 0.9]], dtype=np.float32)

    assert decode_mask(encode_mask(probabilities, mask_size=8)).tolist() == [
        [False, False, True, True]
    ]


def test_encode_mask_rejects_array_when_not_two_dimensional() -> None:
    with pytest.raises(ValueError, match="2-D"):
        encode_mask(np.zeros((4, 4, 3), dtype=bool), mask_size=8)


def test_np_grid_gives_np_share_per_cell() -> None:
    grid = np_grid(left_half_photographic(40, 40), rows=2, cols=4)

    assert grid == [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]


def test_np_grid_fills_every_cell_when_mask_is_smaller_than_grid() -> None:
    grid = np_grid(np.array([[True, False]]), rows=2, cols=4)

    assert grid == [[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]


def test_p_fraction_is_share_of_photographic_area() -> None:
    assert p_fraction(left_half_photographic(10, 10)) == pytest.approx(0.5)
