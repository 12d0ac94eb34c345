"""Region proposals on generated hybrid and drawn frames."""

from __future__ import annotations

import numpy as np
import pytest

from app.elements.proposals import (
    SALIENT_METHODS,
    box_iou,
    crop,
    frame_regions,
    masked_crop,
    regions_from_mask,
    salient_regions,
)
from tests.figures import paste, photo_background

FIGURES = [("star", 20, 30, 70), ("face", 150, 100, 80), ("house", 230, 20, 60)]


def _best_iou(boxes: list[tuple[float, float, float, float]], box: tuple[float, ...]) -> float:
    return max(box_iou(candidate, box) for candidate in boxes)  # type: ignore[arg-type]


def test_mask_regions_box_each_pasted_figure_when_frame_is_hybrid() -> None:
    pasted = paste(photo_background(1), FIGURES)

    regions = regions_from_mask(pasted.p_mask)

    assert len(regions) == 3
    assert all(region.source == "mask" for region in regions)
    for truth in pasted.boxes:
        # The truth is the pasted square; a star does not reach its corners.
        assert _best_iou([region.box for region in regions], truth) > 0.7


def test_mask_regions_drop_specks_and_the_whole_frame() -> None:
    p_mask = np.ones((120, 160), bool)
    p_mask[10:12, 10:12] = False  # a speck
    assert regions_from_mask(p_mask) == []
    assert regions_from_mask(np.zeros((120, 160), bool)) == []


@pytest.mark.parametrize("method", sorted(SALIENT_METHODS))
def test_salient_regions_find_figures_when_frame_is_drawn(method: str) -> None:
    paper = np.full((240, 320, 3), 235, np.uint8)
    pasted = paste(paper, FIGURES[:2])

    regions = salient_regions(pasted.image, method=method)

    assert len(regions) == 2
    for truth in pasted.boxes:
        assert _best_iou([region.box for region in regions], truth) > 0.6


def test_salient_regions_find_nothing_when_frame_is_flat() -> None:
    assert salient_regions(np.full((120, 160, 3), 90, np.uint8)) == []


def test_unknown_salient_method_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ValueError, match="edge-density"):
        salient_regions(np.zeros((8, 8, 3), np.uint8), method="magic")


def test_crop_stays_inside_the_frame_when_box_touches_its_edge() -> None:
    image = np.zeros((100, 200, 3), np.uint8)

    assert crop(image, (0.9, 0.5, 1.0, 1.0), pad=0.0).shape == (50, 20, 3)
    # Padded by a tenth of the box on each side, but not past the frame's right and bottom.
    assert crop(image, (0.9, 0.5, 1.0, 1.0), pad=0.1).shape == (55, 22, 3)


def test_masked_crop_greys_the_photographic_part_of_the_box() -> None:
    pasted = paste(photo_background(2), FIGURES[:1])
    region = regions_from_mask(pasted.p_mask)[0]

    piece = masked_crop(pasted.image, region.box, ~pasted.p_mask, pad=0.0)
    plain = crop(pasted.image, region.box, pad=0.0)

    drawn = crop(np.ascontiguousarray((~pasted.p_mask)[..., None]), region.box, pad=0.0)[..., 0]
    assert piece.shape == plain.shape
    assert np.all(piece[~drawn] == 128)
    assert np.array_equal(piece[drawn], plain[drawn])


def _in_pillarbox(box: tuple[float, ...], left: int, width: int, full: int) -> tuple[float, ...]:
    x0, y0, x1, y1 = box
    return ((left + x0 * width) / full, y0, (left + x1 * width) / full, y1)


def test_regions_of_a_pillarboxed_drawn_frame_are_found_in_its_picture() -> None:
    paper = np.full((240, 320, 3), 235, np.uint8)
    pasted = paste(paper, FIGURES[:2])
    frame = np.pad(pasted.image, ((0, 0), (53, 53), (0, 0)))  # 4:3 in 16:9
    regions = frame_regions(frame)
    assert len(regions) == 2
    for truth in pasted.boxes:
        framed = _in_pillarbox(truth, 53, 320, 426)
        assert _best_iou([region.box for region in regions], framed) > 0.6
    assert all(region.box[0] >= 53 / 426 - 0.01 for region in regions)  # none in the bar


def test_mask_regions_of_a_barred_frame_stop_at_the_bars() -> None:
    p_mask = np.ones((240, 320), bool)
    p_mask[40:120, :60] = False  # a drawn corner piece at the picture's left edge
    barred_mask = np.pad(p_mask, ((0, 0), (53, 53)), mode="edge")  # the bars take the edge
    frame = np.pad(photo_background(1), ((0, 0), (53, 53), (0, 0)))
    assert regions_from_mask(barred_mask)[0].box[0] == 0.0  # into the bar
    (region,) = frame_regions(frame, barred_mask)
    assert region.box[0] == pytest.approx(53 / 426, abs=0.005)
