"""Drawn-looking renders of photographs (an optional NP training source)."""

from __future__ import annotations

import numpy as np
import pytest

from workers.ml.drawn_renders import RENDER_LONG_SIDE, RENDERS, render_drawn


def _photo(height: int, width: int) -> np.ndarray:
    # A smooth gradient with a few edges and noise, like a small photograph.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (height + width)], axis=2)
    base[height // 3 : height // 2, width // 4 : width // 2] = (200, 40, 40)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", sorted(RENDERS))
def test_each_render_gives_an_rgb_image_unlike_the_photograph(kind: str) -> None:
    photo = _photo(90, 120)
    out = render_drawn(photo, np.random.default_rng(1), kind)
    assert out.shape == (90, 120, 3) and out.dtype == np.uint8
    # Drawn renders flatten the photograph's noise: fewer distinct colours.
    assert len(np.unique(out.reshape(-1, 3), axis=0)) < len(np.unique(photo.reshape(-1, 3), axis=0))


@pytest.mark.parametrize("seed", range(8))
def test_cartoon_keeps_white_paper_white_at_every_number_of_colour_levels(seed: int) -> None:
    # The flat colours are the middles of 3-7 levels; the top one lies above 255 for most
    # level counts, which must not wrap round to black.
    photo = _photo(90, 120)
    photo[:, 60:] = 255
    out = render_drawn(photo, np.random.default_rng(seed), "cartoon")
    assert float(out[10:80, 75:110].mean()) > 200


def test_large_photographs_are_shrunk_before_rendering() -> None:
    out = render_drawn(_photo(400, 800), np.random.default_rng(2))
    assert max(out.shape[:2]) == RENDER_LONG_SIDE and out.shape[2] == 3


def test_bad_input_is_refused_with_its_reason() -> None:
    with pytest.raises(ValueError, match="RGB"):
        render_drawn(np.zeros((10, 10), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown render"):
        render_drawn(_photo(20, 20), np.random.default_rng(0), "oil")
