"""The picture inside a frame's black borders: letterbox bars, pillarbox bars, both.

Archival transfers often carry their picture inside black bars: a 4:3 film in a 16:9 video
(pillarbox), a widescreen film in a 4:3 one (letterbox), or both (windowbox). Flat black is
neither photographed nor drawn, and the models, which never saw bars in training, read them
as drawn, so barred photographs came out hybrid or NP (docs/results.md, "Black borders").
So the models look at the picture only, and their maps are stretched back over the bars
(each bar takes the class of the picture's edge beside it).

A bar is a run of rows (or columns) at the frame's edge in which almost no pixel is brighter
than ``DARK_LEVEL``. Bars are cropped only when they are plausible as bars: on both opposite
sides, each at least ``MIN_BAR`` of the frame, leaving at least ``MIN_KEPT`` of it. A frame
that is black all over (a fade) or dark at one edge only (a night sky) is left whole. Dust or
a scratch crossing a bar covers a tiny share of its row and does not end it, and nor do
subtitles set in a letterbox bar (lettering on black between dark rows): without that, the
bar ended at the subtitle and the models saw a band of black with lettering, which they call
hybrid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import cv2
import numpy as np

from app.pipeline.colour import balance, colour_cast
from app.pipeline.subtitles import subtitle_top

# A pixel is part of the picture when any channel is above this (0-255): bars of digital
# transfers are 0-16, of analogue ones up to about 30 with noise.
DARK_LEVEL = 40
# A row or column is bar when at most this share of its pixels is brighter.
BRIGHT_SHARE = 0.02
# Lines this close to the frame's edge may be noise inside a bar (a tape's head-switching
# lines at the bottom, a scanner's edge).
EDGE_SLACK = 0.03
# Each of two opposite bars must be at least this share of the frame's side (and 2 pixels).
MIN_BAR = 0.02
MIN_BAR_PIXELS = 2
# The picture kept must be at least this share of the frame's side (a 1.33:1 picture in a
# 2.39:1 frame keeps 0.56 of the width).
MIN_KEPT = 0.5
# Subtitles in a letterbox bar: a band of rows at most this share of the frame's height, in
# which at most CAPTION_BRIGHT of each row's pixels are bright (lettering on black), with dark
# rows on both sides, belongs to the bar.
CAPTION_MAX = 0.15
CAPTION_BRIGHT = 0.75
# ... and a bar grown through lettering is at most this share of the side larger than the
# bar opposite it.
CAPTION_SLACK = 0.01
# Pixels round a burned-in region left out too (its box's anti-aliased edge).
REGION_EDGE = 2


@dataclass(frozen=True)
class PictureBox:
    """The picture's rows ``top:bottom`` and columns ``left:right`` in a frame of
    ``height`` x ``width`` pixels."""

    top: int
    bottom: int
    left: int
    right: int
    height: int
    width: int
    # The picture's bottom rows below ``bottom`` hold burned-in subtitles, left out
    # (``app.pipeline.subtitles``, ``ModelSettings.skip_subtitles``).
    subtitles: bool = False
    # Whether the frame has black bars round the picture; None: as far as the box shows (a
    # box cut for subtitles or burned-in regions says it).
    bars: bool | None = None
    # The models take the picture's colour cast out before they look (``app.pipeline.colour``,
    # ``ModelSettings.balance_colour``): a faded or tinted print.
    cast: bool = False

    @classmethod
    def of_whole(cls, frame: np.ndarray) -> PictureBox:
        """The whole of ``frame`` as its picture."""
        height, width = frame.shape[:2]
        return cls(0, height, 0, width, height, width)

    @property
    def whole(self) -> bool:
        return (self.top, self.left, self.bottom, self.right) == (0, 0, self.height, self.width)

    @property
    def barred(self) -> bool:
        """Whether the frame has black bars round the picture."""
        return not self.whole if self.bars is None else self.bars

    def without(self, region: tuple[float, float, float, float]) -> PictureBox:
        """This picture without a burned-in ``region`` ((left, top, right, bottom) as fractions
        of the frame, widened by ``REGION_EDGE`` pixels): cut at the region's side that keeps
        the most of it."""
        left, top, right, bottom = region_pixels(region, self.height, self.width)
        if left >= self.right or right <= self.left or top >= self.bottom or bottom <= self.top:
            return self
        cuts = [
            replace(self, bottom=max(self.top, top)),  # the picture above the region
            replace(self, top=min(self.bottom, bottom)),  # below it
            replace(self, right=max(self.left, left)),  # left of it
            replace(self, left=min(self.right, right)),  # right of it
        ]
        kept = max(cuts, key=lambda box: (box.bottom - box.top) * (box.right - box.left))
        return replace(kept, bars=self.barred)

    def crop(self, frame: np.ndarray) -> np.ndarray:
        return frame if self.whole else frame[self.top : self.bottom, self.left : self.right]

    def expand_map(self, picture_map: np.ndarray) -> np.ndarray:
        """A map of the picture, at its size, over the whole frame: each bar takes the values of
        the picture's edge beside it."""
        if self.whole:
            return picture_map
        pad = ((self.top, self.height - self.bottom), (self.left, self.width - self.right))
        return np.pad(picture_map, pad, mode="edge")

    def inside(self, shape: tuple[int, ...]) -> np.ndarray:
        """A bool map of ``shape`` (the frame at any resolution): True over the picture."""
        rows = (np.arange(shape[0]) + 0.5) * self.height / shape[0]
        cols = (np.arange(shape[1]) + 0.5) * self.width / shape[1]
        return ((rows >= self.top) & (rows < self.bottom))[:, None] & (
            (cols >= self.left) & (cols < self.right)
        )[None, :]

    def grid_pixels(self, grid: np.ndarray) -> np.ndarray:
        """A (rows, cols) grid of cells over the picture as a map of the whole frame's pixels:
        each picture pixel takes its cell, each bar the picture's edge beside it."""
        height, width = self.bottom - self.top, self.right - self.left
        rows = np.arange(height) * grid.shape[0] // height
        cols = np.arange(width) * grid.shape[1] // width
        return self.expand_map(grid[rows[:, None], cols[None, :]])

    def expand_grid(self, grid: np.ndarray) -> np.ndarray:
        """A (rows, cols) grid of values (probabilities) over the picture as a float32 grid
        of the same shape over the whole frame: each frame cell the mean of the picture (and
        bar) pixels it covers, so no cell of the picture is lost when it is squeezed into
        fewer frame cells. Masks go through :meth:`grid_pixels` instead."""
        if self.whole:
            return grid
        pixels = self.grid_pixels(grid.astype(np.float32))
        return cv2.resize(pixels, (grid.shape[1], grid.shape[0]), interpolation=cv2.INTER_AREA)

    @classmethod
    def union(cls, boxes: list[PictureBox]) -> PictureBox:
        """The smallest box holding the pictures of ``boxes`` (frames of one size); cut for
        subtitles when all of them are."""
        first = boxes[0]
        return cls(
            min(box.top for box in boxes),
            max(box.bottom for box in boxes),
            min(box.left for box in boxes),
            max(box.right for box in boxes),
            first.height,
            first.width,
            subtitles=all(box.subtitles for box in boxes),
            bars=None if all(box.bars is None for box in boxes) else any(b.barred for b in boxes),
        )

    def as_list(self) -> list[int]:
        """[left, top, right, bottom] in pixels (the order of a crop box)."""
        return [self.left, self.top, self.right, self.bottom]


def region_pixels(
    region: tuple[float, float, float, float], height: int, width: int
) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixels of a region given as fractions of a frame of
    ``height`` x ``width``, widened by ``REGION_EDGE``."""
    return (
        max(0, int(region[0] * width) - REGION_EDGE),
        max(0, int(region[1] * height) - REGION_EDGE),
        min(width, int(np.ceil(region[2] * width)) + REGION_EDGE),
        min(height, int(np.ceil(region[3] * height)) + REGION_EDGE),
    )


def find_picture_box(
    frame: np.ndarray,
    bars: bool = True,
    subtitles: bool = False,
    regions: Sequence[tuple[float, float, float, float]] = (),
    balance_colour: bool = False,
) -> PictureBox:
    """The picture inside ``frame``'s black bars (an (H, W, 3) uint8 RGB array; the whole
    frame when it has no plausible bars, or without ``bars``), without the burned-in
    ``regions`` (fractions of the frame; ``PictureBox.without``), and with ``subtitles``
    above the burned-in subtitles at its bottom. With ``balance_colour``, the bars of a frame
    with a colour cast are sought on it with the cast taken out too."""
    inside = _picture_in_bars(frame) if bars else PictureBox.of_whole(frame)
    if bars and balance_colour and inside.whole:
        # A faded print's bars are as faded as its picture (dark magenta, brighter than
        # DARK_LEVEL): sought again with the colour cast taken out.
        balanced = balance(frame)
        if balanced is not frame:
            inside = _picture_in_bars(balanced)
    inside = replace(inside, bars=inside.barred)
    box = inside
    for region in regions:
        box = box.without(region)
    # Regions that leave less than MIN_KEPT of the picture either way are not left out: the
    # picture inside the bars is judged whole.
    if (box.bottom - box.top) < MIN_KEPT * (inside.bottom - inside.top) or (
        box.right - box.left
    ) < MIN_KEPT * (inside.right - inside.left):
        box = inside
    if subtitles:
        # Subtitles are centred on the picture inside the bars, so they are sought there,
        # with the regions blanked (a centred timecode window is not a subtitle); they lie in
        # its lower part only, so the picture above them keeps more than half of it.
        top = subtitle_top(_blanked(inside.crop(frame), inside, regions))
        if top is not None and box.top < inside.top + top < box.bottom:
            return replace(box, bottom=inside.top + top, subtitles=True)
    return box


class PictureOptions(Protocol):
    """What of each frame the models look at, and whether they take its colour cast out
    (``app.pipeline.colour``): ``ModelSettings`` and the loaded models carry these."""

    @property
    def crop_borders(self) -> bool: ...
    @property
    def skip_subtitles(self) -> bool: ...
    @property
    def burn_in_regions(self) -> Sequence[tuple[float, float, float, float]]: ...
    @property
    def balance_colour(self) -> bool: ...


def picture_of(frame: np.ndarray, options: PictureOptions) -> PictureBox:
    """The picture of ``frame`` the models look at with ``options``: inside its black bars
    (``crop_borders``), above its burned-in subtitles (``skip_subtitles``), without the
    ``burn_in_regions`` (``find_picture_box``); with ``balance_colour``, its bars sought with
    its colour cast taken out too, and the box says whether the picture has one (``cast``)."""
    box = find_picture_box(
        frame,
        bars=options.crop_borders,
        subtitles=options.skip_subtitles,
        regions=options.burn_in_regions,
        balance_colour=options.balance_colour,
    )
    if not options.balance_colour:
        return box
    return replace(box, cast=colour_cast(box.crop(frame)))


def _blanked(
    picture: np.ndarray, box: PictureBox, regions: Sequence[tuple[float, float, float, float]]
) -> np.ndarray:
    """``picture`` (``box`` of its frame) with ``regions`` (fractions of the frame) grey."""
    if not regions:
        return picture
    picture = picture.copy()
    for region in regions:
        left, top, right, bottom = region_pixels(region, box.height, box.width)
        left, right = max(0, left - box.left), right - box.left
        top, bottom = max(0, top - box.top), bottom - box.top
        if right > 0 and bottom > 0:
            picture[top:bottom, left:right] = 128
    return picture


def _picture_in_bars(frame: np.ndarray) -> PictureBox:
    height, width = frame.shape[:2]
    # Most frames have no bars, and their edges show it: a bar has a dark line within
    # EDGE_SLACK of the edge it is on.
    rows, cols = _slack(height), _slack(width)
    edges = [frame[:rows], frame[-rows:], frame[:, :cols], frame[:, -cols:]]
    if not any(_has_dark_line(edge, axis) for edge, axis in zip(edges, (1, 1, 0, 0), strict=True)):
        return PictureBox.of_whole(frame)
    bright = _brightest(frame) > DARK_LEVEL
    row_share = bright.mean(axis=1)
    top, bottom = _bars(row_share <= BRIGHT_SHARE, row_share <= CAPTION_BRIGHT)
    left, right = _bars(bright.mean(axis=0) <= BRIGHT_SHARE)
    return PictureBox(top, height - bottom, left, width - right, height, width)


def is_dark(frame: np.ndarray) -> bool:
    """Whether an RGB frame is black all over (a fade): it has no picture to find."""
    return bool((_brightest(frame) > DARK_LEVEL).mean() <= BRIGHT_SHARE)


def _slack(side: int) -> int:
    return max(1, int(EDGE_SLACK * side))


def _has_dark_line(edge: np.ndarray, axis: int) -> bool:
    """Whether a strip of RGB pixels holds a line (its pixels along ``axis``) dark enough to
    be part of a bar."""
    return bool(((_brightest(edge) > DARK_LEVEL).mean(axis=axis) <= BRIGHT_SHARE).any())


def _brightest(pixels: np.ndarray) -> np.ndarray:
    """Each RGB pixel's brightest channel. A maximum over the channel slices: numpy's
    ``max(axis=-1)`` over 3 channels is about 15x slower."""
    return np.maximum(np.maximum(pixels[..., 0], pixels[..., 1]), pixels[..., 2])


def _bars(dark: np.ndarray, caption: np.ndarray | None = None) -> tuple[int, int]:
    """The bars' sizes at the start and the end of a line of rows (or columns), (0, 0) when
    they are not plausible bars. ``caption``: the lines that may be lettering in a bar."""
    side = len(dark)
    if dark.all():
        return 0, 0
    first, last = _bar(dark), _bar(dark[::-1])
    if caption is not None:
        # Through lettering in a bar, a bar grows at most to the size of the bar opposite it
        # (bars are centred): a dark picture's black rows near its edge do not make it grow.
        slack = max(MIN_BAR_PIXELS, CAPTION_SLACK * side)
        wide_first = _through_captions(dark, caption, first)
        wide_last = _through_captions(dark[::-1], caption[::-1], last)
        wide = (
            wide_first if wide_first <= last + slack else first,
            wide_last if wide_last <= first + slack else last,
        )
        if _plausible(*wide, side):
            return wide
    return (first, last) if _plausible(first, last, side) else (0, 0)


def _plausible(first: int, last: int, side: int) -> bool:
    """Whether bars of these sizes at the two ends of a line of ``side`` lines are bars."""
    least = max(MIN_BAR_PIXELS, MIN_BAR * side)
    return first >= least and last >= least and side - first - last >= MIN_KEPT * side


def _bar(dark: np.ndarray) -> int:
    """The bar at the start of a line of rows: the lines up to the end of the first run of
    dark ones that starts within EDGE_SLACK (noise at the very edge, such as a tape's
    head-switching lines, belongs to the bar); 0 without one."""
    starts = np.flatnonzero(dark[: _slack(len(dark))])
    if not len(starts):
        return 0
    start = int(starts[0])
    run = dark[start:]
    return len(dark) if run.all() else start + int(np.argmin(run))


def _through_captions(dark: np.ndarray, caption: np.ndarray, bar: int) -> int:
    """The bar at the start of a line of rows extended through bands of lettering in it: a
    band of caption-like rows no longer than CAPTION_MAX of the side, with dark rows after
    it, is part of the bar, and so are those dark rows."""
    if not bar:
        return bar
    side, longest = len(dark), CAPTION_MAX * len(dark)
    while bar < side:
        # The lines from the bar's end to the next dark one: lettering, or the picture.
        ahead = dark[bar:]
        band = int(np.argmax(ahead)) if ahead.any() else side - bar
        after = bar + band
        if after >= side or band > longest or not caption[bar:after].all():
            return bar
        rest = dark[after:]
        bar = side if rest.all() else after + int(np.argmin(rest))
    return bar
