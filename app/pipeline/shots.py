"""Shot boundaries from the frames of the one decode, with PySceneDetect's detectors.

Usage::

    shot_detector = ShotDetector(settings.pipeline.shots, fps=info.fps)
    for frame in decode(...):
        new_cuts = shot_detector.process(frame)   # early hints, e.g. for the frame sampler
    shots = shot_detector.finish()               # list[Shot], covering every decoded frame
    record(shot_detector.describe())             # which detector and settings found them

Hard cuts come from the adaptive (default) or content detector, fades to and from black from
a threshold detector running beside it. Frames are shrunk to ``detect_width`` first: cut
detection needs no detail. Calling ``finish`` after a ``DecodeError`` gives the shots of the
part that was decoded.

Black-and-white and toned film: the detectors score a change as the mean of its hue,
saturation and luma changes, so where colour says nothing a cut counts a third of its luma
change, and cuts between shots of like brightness fell under the detectors' floor (a hard cut
of the demo film was missed so). Between two monochrome frames a twin detector that scores
luma alone, without each frame's mean brightness (flicker is no cut), finds cuts too (beside
the usual one, whose cuts count everywhere: a flat colour is "monochrome" as well, and two of
them may differ in hue alone). And a dark title card (white lettering on black) is under the
fade threshold from its first frame to its last: the fade detector's cut in its middle is
dropped when hard cuts (or the film's start) bound the dark stretch, as they bound a shot,
unless the picture changes inside it (two cards back to back, whose lettering alone
differs), where the cut then goes.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import scenedetect
from scenedetect import FrameTimecode, SceneDetector
from scenedetect.detectors import AdaptiveDetector, ContentDetector, ThresholdDetector

from app.core.config import ShotSettings
from app.pipeline.video import DecodedFrame


@dataclass(frozen=True)
class Shot:
    """A run of frames between two cuts; times in seconds, ``end_time`` exclusive (it is the
    next shot's ``start_time``), ``end_frame`` inclusive."""

    index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    # How the shot begins: "cut", "dissolve", "fade" or "wipe" (``transitions.TransitionKind``),
    # None for the first shot; and how many frames a gradual one takes (0 for a cut).
    transition: str | None = None
    transition_frames: int = 0

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1

    @property
    def duration_s(self) -> float:
        return self.end_time - self.start_time


def _adaptive(
    settings: ShotSettings, *, luma_only: bool = False
) -> tuple[SceneDetector | None, dict[str, Any]]:
    detector = AdaptiveDetector(
        adaptive_threshold=settings.adaptive_threshold,
        min_scene_len=settings.min_shot_frames,
        luma_only=luma_only,
    )
    return detector, {"adaptive_threshold": settings.adaptive_threshold}


def _content(
    settings: ShotSettings, *, luma_only: bool = False
) -> tuple[SceneDetector | None, dict[str, Any]]:
    detector = ContentDetector(
        threshold=settings.content_threshold,
        min_scene_len=settings.min_shot_frames,
        luma_only=luma_only,
    )
    return detector, {"content_threshold": settings.content_threshold}


def _fades_only(
    settings: ShotSettings, *, luma_only: bool = False
) -> tuple[SceneDetector | None, dict[str, Any]]:
    return None, {}


# scenedetect's hard-cut detector (and the settings it ran with) for each of the names
# app.pipeline.detectors registers for ShotDetector; "threshold" finds fades only. With
# ``luma_only`` the same detector scoring luma changes alone (for monochrome frames).
CUT_DETECTORS = {"adaptive": _adaptive, "content": _content, "threshold": _fades_only}

# A frame is monochrome (black-and-white, or toned: sepia, tinted) when the saturation of its
# pixels that are not near black varies by less than this (0-255). Grey film has none; a
# tint gives every pixel about the same; colour footage varies by 30-60.
MONOCHROME_SATURATION_SPREAD = 12.0
# Near-black pixels have no saturation to speak of (0 in HSV): left out of the spread.
MONOCHROME_MIN_VALUE = 32
# How far (frames) a hard cut may lie from the end of a dark stretch to bound it.
DARK_STRETCH_BOUND_FRAMES = 3
# Inside a bounded dark stretch, a change of picture (two intertitles back to back, whose
# lettering alone differs: too little for the cut detectors' floor) is a frame whose swap
# (``swap``) is at least this many levels and this many times the stretch's median swap.
CARD_CHANGE_MIN = 3.0
CARD_CHANGE_RATIO = 3.0


def swap(grey: np.ndarray, last: np.ndarray) -> float:
    """How much of a luma change goes both ways: twice the smaller of the mean brightening
    and the mean darkening. New lettering in place of old does both; a lamp switched on in a
    night scene, or a fade, mostly one."""
    change = grey.astype(np.int16) - last.astype(np.int16)
    brighter = float(np.maximum(change, 0).mean())
    darker = float(np.maximum(-change, 0).mean())
    return 2.0 * min(brighter, darker)


# The luma twin sees each frame's luma about mid-grey, its mean brightness taken out: the
# flicker of a black-and-white print (a few per cent of brightness from frame to frame) would
# otherwise read as cuts to a detector of luma changes alone, while a cut between shots of
# like brightness keeps its whole change.
MID_GREY = 128.0


def normalised(grey: np.ndarray) -> np.ndarray:
    """The frame's luma about mid-grey, without its mean brightness, as a BGR picture."""
    values = grey.astype(np.float32)
    out = values + (MID_GREY - float(values.mean()))
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def monochrome(bgr: np.ndarray) -> bool:
    """Whether colour says nothing in this frame (black-and-white or toned)."""
    hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
    lit = hsv[..., 2] >= MONOCHROME_MIN_VALUE
    if lit.mean() < 0.05:
        return True  # a black frame
    return float(hsv[..., 1][lit].std()) < MONOCHROME_SATURATION_SPREAD


class ShotDetector:
    """Feeds decoded frames to scenedetect's detectors and turns their cuts into shots (the
    ``adaptive``, ``content`` and ``threshold`` entries of ``app.pipeline.detectors``)."""

    def __init__(self, settings: ShotSettings, fps: float) -> None:
        self.settings = settings
        self.fps = float(fps)  # scenedetect refuses an int rate
        # Under another registered name (transnetv2, whose hard cuts come from here) the
        # cuts come from the adaptive detector.
        self.name = settings.detector if settings.detector in CUT_DETECTORS else "adaptive"
        self._cut_detector, self._cut_settings = CUT_DETECTORS[self.name](settings)
        self._luma_detector = CUT_DETECTORS[self.name](settings, luma_only=True)[0]
        self._fade_detector: SceneDetector | None = None
        self._fades = settings.detect_fades or self.name == "threshold"
        if self._fades:
            self._fade_detector = ThresholdDetector(
                threshold=settings.fade_threshold, min_scene_len=settings.min_shot_frames
            )
        # 17 bytes per frame (~2.3 MB for a 90-minute film): shot times need the pts of
        # frames that detectors report late, up to a whole fade back; which detector's cut
        # counts, whether the frames beside it are monochrome; a fade's dark stretch, the
        # frames' brightness and luma swaps.
        self._pts = array("d")
        self._brightness = array("f")
        self._swap = array("f")
        self._monochrome = bytearray()
        self._last_grey: np.ndarray | None = None
        self._hard_cuts: set[int] = set()
        self._fade_cuts: set[int] = set()
        # Fade cuts waiting for the hard cuts that may bound their dark stretch: (cut, the
        # frame from which they are known).
        self._pending_fades: list[tuple[int, int]] = []
        self._hinted: set[int] = set()
        self._finished_cuts: list[int] | None = None

    @property
    def cut_lag_frames(self) -> int:
        """How many frames behind the current one a hard cut may be reported. Fade cuts can
        come later, but they fall inside the dark stretch of the fade (the cut between two
        dark cards back to back, after the second card)."""
        if self._cut_detector is None:
            return 0
        return self._cut_detector.event_buffer_length + 1

    def process(self, frame: DecodedFrame) -> list[int]:
        """Look at the next frame; returns frame numbers of cuts found so far (each a shot's
        first frame). These are hints: ``finish`` may still merge cuts that are too close."""
        if frame.index != len(self._pts):
            raise ValueError(
                f"frames must come in order: expected {len(self._pts)}, got {frame.index}"
            )
        self._pts.append(frame.pts_s)
        image = self._prepare(frame.image)
        self._brightness.append(float(image.mean()))  # as the fade detector measures it
        # Every fourth pixel of every fourth row tells colour and a change of the whole
        # picture as well, for a sixteenth of the work.
        small = np.ascontiguousarray(image[::4, ::4])
        self._monochrome.append(monochrome(small))
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        last, self._last_grey = self._last_grey, grey
        self._swap.append(0.0 if last is None else swap(grey, last))
        timecode = FrameTimecode(frame.index, fps=self.fps)
        found: set[int] = set()
        # Reported a few frames late: both frames beside a cut have been seen.
        if self._cut_detector is not None:
            found.update(cut.frame_num for cut in self._cut_detector.process_frame(timecode, image))
        if self._luma_detector is not None and self._monochrome[-1]:
            # Fed monochrome frames only (colour footage never pays for it): a cut it reports
            # after colour frames is checked against the frames beside it.
            found.update(
                cut.frame_num
                for cut in self._luma_detector.process_frame(timecode, normalised(grey))
                if self._monochrome_at(cut.frame_num)
            )
        self._hard_cuts.update(cut for cut in found if cut > 0)
        if self._fade_detector is not None:
            for cut in self._fade_detector.process_frame(timecode, image):
                if cut.frame_num > 0 and cut.frame_num not in self._fade_cuts:
                    self._fade_cuts.add(cut.frame_num)
                    # Reported where the stretch ends: a hard cut that bounds it comes up to a
                    # lag later, and may lie a few frames on. (One still pending when the
                    # decode ends is never hinted; ``finish`` places it.)
                    known = frame.index + self.cut_lag_frames + DARK_STRETCH_BOUND_FRAMES
                    self._pending_fades.append((cut.frame_num, known))
        due = [cut for cut, known in self._pending_fades if known <= frame.index]
        self._pending_fades = [entry for entry in self._pending_fades if entry[1] > frame.index]
        found.update(placed for cut in due if (placed := self._place_fade_cut(cut)) is not None)
        hints = {cut for cut in found if cut > 0} - self._hinted
        self._hinted.update(hints)
        return sorted(hints)

    def _monochrome_at(self, cut: int) -> bool:
        """Whether the frames either side of a cut are both monochrome."""
        return cut > 0 and bool(self._monochrome[cut - 1] and self._monochrome[cut])

    def finish(self) -> list[Shot]:
        """Shots covering every frame processed (none if no frame was)."""
        frame_count = len(self._pts)
        if frame_count == 0:
            return []
        if self._finished_cuts is None:
            last = FrameTimecode(frame_count - 1, fps=self.fps)
            if self._cut_detector is not None:
                self._hard_cuts.update(c.frame_num for c in self._cut_detector.post_process(last))
            if self._luma_detector is not None:
                self._hard_cuts.update(
                    cut.frame_num
                    for cut in self._luma_detector.post_process(last)
                    if self._monochrome_at(cut.frame_num)
                )
            if self._fade_detector is not None:
                self._fade_cuts.update(
                    cut.frame_num
                    for cut in self._fade_detector.post_process(last)
                    if cut.frame_num > 0
                )
            self._finished_cuts = self._merge_close_cuts(frame_count)
        return build_shots(self._finished_cuts, self._pts, fps=self.fps)

    def describe(self) -> dict[str, Any]:
        """The detector and settings that found the shots, to store with the results."""
        description: dict[str, Any] = {
            "library": f"scenedetect {scenedetect.__version__}",
            "detector": self.name,
            "min_shot_frames": self.settings.min_shot_frames,
            "detect_width": self.settings.detect_width,
            "fades": self._fades,
        }
        if self._luma_detector is not None:
            # Cuts between monochrome frames from luma alone too (module docstring).
            description["monochrome_luma_cuts"] = True
        description.update(self._cut_settings)
        if self._fades:
            description["fade_threshold"] = self.settings.fade_threshold
        return description

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        if width > self.settings.detect_width:
            size = (
                self.settings.detect_width,
                max(1, round(height * self.settings.detect_width / width)),
            )
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        # scenedetect's detectors expect OpenCV's BGR order.
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)

    def _place_fade_cut(self, fade_cut: int) -> int | None:
        """Where a fade detector's cut (the middle of a stretch darker than the threshold)
        goes: there, for a fade; nowhere, for a dark shot of its own, which hard cuts (or the
        film's start) bound at both ends (a title card, black between two cuts); or where
        the picture changes inside such a stretch, for two dark shots back to back."""
        threshold = int(self.settings.fade_threshold)  # as the fade detector compares
        brightness = self._brightness
        if not 0 <= fade_cut < len(brightness) or brightness[fade_cut] >= threshold:
            return fade_cut
        first = last = fade_cut
        while first > 0 and brightness[first - 1] < threshold:
            first -= 1
        while last + 1 < len(brightness) and brightness[last + 1] < threshold:
            last += 1
        near = DARK_STRETCH_BOUND_FRAMES
        starts = first == 0 or any(abs(cut - first) <= near for cut in self._hard_cuts)
        ends = any(abs(cut - (last + 1)) <= near for cut in self._hard_cuts)
        if not (starts and ends):
            return fade_cut
        # Frames whose change from the one before lies inside the stretch, off its ends.
        offset = first + near + 1
        inside = np.asarray(self._swap[offset : last - near + 1])
        if len(inside) < 3:
            return None
        peak = int(np.argmax(inside))
        if inside[peak] >= max(CARD_CHANGE_MIN, CARD_CHANGE_RATIO * float(np.median(inside))):
            return offset + peak
        return None

    def _merge_close_cuts(self, frame_count: int) -> list[int]:
        """Cuts from two detectors can land a few frames apart on one transition (a hard cut
        into black and the fade detector's mid-black cut): keep the first of any cluster.
        Fade cuts go where ``_place_fade_cut`` puts them."""
        fades = {
            placed for cut in self._fade_cuts if (placed := self._place_fade_cut(cut)) is not None
        }
        kept: list[int] = []
        for cut in sorted(c for c in self._hard_cuts | fades if 0 < c < frame_count):
            if not kept or cut - kept[-1] >= self.settings.min_shot_frames:
                kept.append(cut)
        return kept


def build_shots(
    cuts: Sequence[int],
    pts: Sequence[float],
    *,
    fps: float,
    transitions: Sequence[tuple[str, int]] | None = None,
) -> list[Shot]:
    """Shots covering every frame that has a time in ``pts``, split before each cut frame;
    ``transitions`` gives each cut's (kind, frames), hard cuts when omitted."""
    frame_count = len(pts)
    if frame_count == 0:
        return []
    starts = [0, *cuts]
    ends = [*(cut - 1 for cut in cuts), frame_count - 1]
    leading: list[tuple[str | None, int]] = [
        (None, 0),
        *(transitions if transitions is not None else [("cut", 0)] * len(cuts)),
    ]
    return [
        Shot(
            index=index,
            start_frame=start,
            end_frame=end,
            start_time=pts[start],
            end_time=_end_time(pts, end, fps),
            transition=kind,
            transition_frames=frames,
        )
        for index, (start, end, (kind, frames)) in enumerate(
            zip(starts, ends, leading, strict=True)
        )
    ]


def _end_time(pts: Sequence[float], end_frame: int, fps: float) -> float:
    if end_frame + 1 < len(pts):
        return pts[end_frame + 1]
    # The last frame lasts as long as the one before it (or one nominal frame).
    if end_frame > 0:
        return pts[end_frame] + (pts[end_frame] - pts[end_frame - 1])
    return pts[end_frame] + 1 / fps
