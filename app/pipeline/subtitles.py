"""Burned-in subtitles at the bottom of a picture.

Distribution prints and broadcast transfers carry subtitles: one or two centred lines of
light lettering with a dark outline, a drop shadow or a dark box behind them, in the lower
part of the picture. A subtitle is lettering, and the models were taught that lettering over
a photograph is a hybrid composition, so a subtitled live-action film came out partly hybrid
(docs/results.md, "Burned-in subtitles"). Subtitles belong to the print, not to the film's
composition: when ``ModelSettings.skip_subtitles`` is on, the models look at the picture
above them (``borders.find_picture_box``).

A subtitle line is a band of rows in the lower ``SEARCH`` of the picture whose text pixels
(light pixels next to a dark one: lettering on its outline, shadow or box) are many, in many
separate strokes, and spread about the picture's centre. Lettering in a picture that is not
centred, a single light line (a horizon, a railing) or a light area with a dark edge is not
a subtitle. The levels below were set from how subtitles are made, then adjusted on the
calibration sources' frames with subtitles drawn on them (``bench/bench_subtitles.py``), never
on validation.
"""

from __future__ import annotations

import cv2
import numpy as np

# Subtitles lie in the lower part of the picture, their last line near its bottom.
SEARCH = 0.4
LAST_LINE_FROM = 0.78
# Luma (0-255) of lettering (white; yellow is about 200), and of its outline, shadow or box.
LIGHT = 190
DARK = 45
# A text row holds at least this share of the picture's width in text pixels.
ROW_SHARE = 0.03
# A band of text rows is one or two lines of lettering: this tall, as a share of the
# picture's height (a line is its letters' height; rows of one band may be a pixel or two
# apart). Bands taller than ONE_LINE hold two lines.
LINE_MIN, LINE_MAX, ONE_LINE = 0.015, 0.2, 0.1
# The smallest letter height of a subtitle (of the picture's height): a band of text rows may
# be only the middle of its letters.
LINE_HEIGHT = 0.045
LINE_GAP = 2
# A line is centred: its lettering's middle this close to the picture's middle (share of
# the width), and it is wider than this share.
CENTRE_SLACK = 0.06
MIN_WIDTH = 0.12
# Letters: along at least a quarter of the band's rows (its busiest), at least this many
# separate strokes per letter height of width (a word of five letters is about three letter
# heights wide and crossed ten times).
STROKES_PER_HEIGHT = 1.2
# Lines of one subtitle are at most this many letter heights apart.
LINE_SPACING = 1.6
# Rows left above the top band of text rows, as a share of its letter height: ascenders,
# accents and the outline.
MARGIN = 0.6


def subtitle_top(picture: np.ndarray) -> int | None:
    """The row of an RGB picture where burned-in subtitles at its bottom begin (the picture
    above it is free of them), or None when it has none."""
    height, width = picture.shape[:2]
    start = int(height * (1 - SEARCH))
    region = picture[start:]
    if height < 40 or width < 40:
        return None
    luma = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
    dark = (luma <= DARK).astype(np.uint8)
    near_dark = cv2.dilate(dark, np.ones((5, 5), np.uint8)).astype(bool)
    text = (luma >= LIGHT) & near_dark
    lines = _lines(text, height, width)
    if not lines:
        return None
    # The lowest line ends near the picture's bottom; lines above it join while close.
    lines.sort()
    top, end, line = lines[-1]
    if start + end < LAST_LINE_FROM * height:
        return None
    for first, above_end, above_line in reversed(lines[:-1]):
        if top - above_end > LINE_SPACING * line:
            break
        top, line = first, above_line
    # The band of text rows is the letters' middle: their tops reach higher.
    return max(0, start + top - int(MARGIN * line) - 1)


def _lines(text: np.ndarray, height: int, width: int) -> list[tuple[int, int, float]]:
    """(first row, end row, letter height) of each band of ``text`` rows that looks like
    subtitle lines."""
    rows = text.sum(axis=1) >= max(3, ROW_SHARE * width)
    lines = []
    for first, end in _runs(rows, LINE_GAP):
        size = end - first
        if not LINE_MIN * height <= size <= LINE_MAX * height:
            continue
        # A band's letter height: one line, or two; at least a small subtitle's.
        line = max(size if size <= ONE_LINE * height else size / 2, LINE_HEIGHT * height)
        # The lettering: the columns holding text, words at most a line height apart; the
        # cluster with the most text pixels (light spots of the picture beside it are not
        # part of the line).
        band = text[first:end]
        profile = band.sum(axis=0)
        clusters = _runs(profile > 0, int(line))
        left, right = max(clusters, key=lambda run: int(profile[run[0] : run[1]].sum()))
        if right - left < MIN_WIDTH * width or abs((left + right) / 2 - width / 2) > (
            CENTRE_SLACK * width
        ):
            continue
        # Strokes: runs of text pixels along the rows of the band.
        crossings = np.count_nonzero(
            np.diff(band[:, left:right].astype(np.int8), axis=1) == 1, axis=1
        )
        if np.percentile(crossings, 75) < STROKES_PER_HEIGHT * (right - left) / line:
            continue
        lines.append((first, end, line))
    return lines


def _runs(flags: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """(start, end) of the runs of True in ``flags``, runs at most ``gap`` apart joined."""
    runs: list[tuple[int, int]] = []
    indices = np.flatnonzero(flags)
    if not len(indices):
        return runs
    start = previous = int(indices[0])
    for index in map(int, indices[1:]):
        if index - previous > gap + 1:
            runs.append((start, previous + 1))
            start = index
        previous = index
    runs.append((start, previous + 1))
    return runs
