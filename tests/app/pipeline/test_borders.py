"""The picture inside black letterbox and pillarbox bars."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline.borders import PictureBox, find_picture_box


def _picture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A textured picture, bright enough everywhere to be told from a bar."""
    rng = np.random.default_rng(seed)
    return rng.integers(60, 255, size=(height, width, 3), dtype=np.uint8)


def _barred(picture: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    return np.pad(picture, ((top, bottom), (left, right), (0, 0)), constant_values=10)


@pytest.mark.parametrize(
    ("top", "bottom", "left", "right"),
    [
        (30, 30, 0, 0),  # letterbox
        (0, 0, 40, 40),  # pillarbox (4:3 in 16:9 keeps 0.75 of the width)
        (12, 14, 20, 18),  # windowbox, a pixel or two off centre
    ],
)
def test_finds_the_picture_inside_bars(top: int, bottom: int, left: int, right: int) -> None:
    picture = _picture(120, 160)
    frame = _barred(picture, top, bottom, left, right)
    box = find_picture_box(frame)
    assert (box.top, box.left) == (top, left)
    assert (box.height - box.bottom, box.width - box.right) == (bottom, right)
    assert np.array_equal(box.crop(frame), picture)
    assert box.as_list() == [left, top, left + 160, top + 120]


def test_dust_and_a_scratch_across_a_bar_do_not_end_it() -> None:
    frame = _barred(_picture(120, 160), 30, 30, 0, 0)
    frame[5, 17] = 255  # a speck of dust in the top bar
    frame[:, 81] = 230  # a vertical scratch through bars and picture
    box = find_picture_box(frame)
    assert (box.top, box.bottom) == (30, 150)


def test_noise_at_the_very_edge_belongs_to_the_bar() -> None:
    # A tape transfer: the bottom 3 of 240 lines are head-switching noise.
    frame = _barred(_picture(160, 160), 40, 40, 0, 0)
    frame[-3:] = np.random.default_rng(1).integers(0, 256, (3, 160, 3), dtype=np.uint8)
    box = find_picture_box(frame)
    assert (box.top, box.bottom) == (40, 200)


def _lettering(frame: np.ndarray, top: int, rows: int, share: float) -> None:
    """White lettering over ``rows`` rows from ``top``: strokes over ``share`` of each row."""
    width = frame.shape[1]
    strokes = np.random.default_rng(2).random((rows, width)) < share
    frame[top : top + rows][strokes] = 240


@pytest.mark.parametrize("lines", [1, 2])
def test_subtitles_set_in_a_letterbox_bar_belong_to_the_bar(lines: int) -> None:
    # 40-row bars round a 160-row picture; the subtitle's lines lie in the bottom bar, with
    # black above, between and below them.
    frame = _barred(_picture(160, 160), 40, 40, 0, 0)
    for line in range(lines):
        _lettering(frame, 206 + 12 * line, 8, 0.45)
    box = find_picture_box(frame)
    assert (box.top, box.bottom) == (40, 200)


def test_a_dark_picture_near_its_edge_is_not_taken_for_lettering_in_the_bar() -> None:
    # A low-key letterboxed picture: its top rows are mostly dark with a few light spots,
    # then a black row, then the rest: the picture starts where the bar ends, as without
    # lettering.
    picture = _picture(160, 160)
    picture[:30] //= 5
    picture[:30, ::7] = 200  # light spots: more than a bar holds, less than a picture row
    picture[30] = 0
    frame = _barred(picture, 40, 40, 0, 0)
    box = find_picture_box(frame)
    assert (box.top, box.bottom) == (40, 200)


def test_lettering_that_reaches_the_picture_is_not_taken_for_a_bar() -> None:
    # Lettering whose top touches the picture (no black between them) and lettering as tall
    # as a fifth of the frame stay where they are: only the black below them is bar.
    touching = _barred(_picture(160, 160), 40, 40, 0, 0)
    _lettering(touching, 200, 10, 0.45)
    assert find_picture_box(touching).bottom == 210
    tall = _barred(_picture(140, 160), 40, 60, 0, 0)
    _lettering(tall, 185, 50, 0.45)
    assert find_picture_box(tall).bottom == 235


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((120, 160, 3), np.uint8),  # black all over: a fade
        _barred(_picture(100, 160), 40, 0, 0, 0),  # dark at the top only: a night sky
        _barred(_picture(20, 160), 50, 50, 0, 0),  # a thin strip of picture: not bars
        _barred(_picture(120, 160), 1, 1, 0, 0),  # a pixel of edge: not worth a crop
        _picture(120, 160),  # no bars
    ],
)
def test_leaves_frames_without_plausible_bars_whole(frame: np.ndarray) -> None:
    box = find_picture_box(frame)
    assert box.whole
    assert box.crop(frame) is frame


def test_maps_of_the_picture_stretch_over_the_bars() -> None:
    box = PictureBox(top=2, bottom=6, left=1, right=4, height=8, width=6)
    picture_map = np.arange(12, dtype=np.float32).reshape(4, 3)
    full = box.expand_map(picture_map)
    assert full.shape == (8, 6)
    assert np.array_equal(full[2:6, 1:4], picture_map)
    assert np.array_equal(full[0, 1:4], picture_map[0])  # the top bar takes the top row
    assert np.array_equal(full[7, 1:4], picture_map[-1])
    assert np.array_equal(full[2:6, 0], picture_map[:, 0])
    assert np.array_equal(full[2:6, 5], picture_map[:, -1])


def test_a_patch_grid_of_the_picture_becomes_a_grid_of_the_frame() -> None:
    # The picture fills the frame's bottom half; its 4 patch rows are 0, 1, 2, 3.
    box = PictureBox(top=50, bottom=100, left=0, right=80, height=100, width=80)
    grid = np.repeat(np.arange(4.0)[:, None], 3, axis=1)
    full = box.expand_grid(grid)
    assert full.shape == (4, 3)
    # The top half of the frame is bar (the picture's top row, 0); the bottom half holds all
    # four picture rows, two to a frame cell: none is lost.
    assert np.allclose(full[:, 0], [0.0, 0.0, 0.5, 2.5], atol=0.05)
    pixels = box.grid_pixels(grid)
    assert pixels.shape == (100, 80)
    assert set(np.unique(pixels[50:])) == {0.0, 1.0, 2.0, 3.0}
    assert (pixels[:50] == 0.0).all()
    whole = PictureBox(0, 100, 0, 80, 100, 80)
    assert whole.expand_grid(grid) is grid


def test_a_drawn_patch_row_of_a_letterboxed_picture_survives() -> None:
    # A 2.39:1 picture letterboxed in 320x180: its 14 patch rows are squeezed into the 14
    # rows of a frame grid. A drawn row (0) keeps its pixels and its weight.
    box = PictureBox(top=23, bottom=157, left=0, right=320, height=180, width=320)
    grid = np.ones((14, 14))
    grid[5] = 0.0
    pixels = box.grid_pixels(grid)
    assert (pixels[23:157] == 0.0).all(axis=1).sum() in (9, 10)  # 134 / 14 rows of pixels
    full = box.expand_grid(grid)
    assert full.mean() == pytest.approx(pixels.mean(), abs=0.005)
    assert full.min() < 0.6  # the drawn row shows in the cells it falls in


def test_union_holds_every_picture() -> None:
    boxes = [PictureBox(10, 90, 0, 160, 100, 160), PictureBox(12, 95, 5, 150, 100, 160)]
    assert PictureBox.union(boxes) == PictureBox(10, 95, 0, 160, 100, 160)
