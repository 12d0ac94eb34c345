"""Which decoded frames get classified, decided online while the film decodes.

Usage::

    sampler = FrameSampler(settings.pipeline.sampling, fps=info.fps,
                           lag_frames=shot_detector.cut_lag_frames)
    for frame in decode(...):
        cuts = shot_detector.process(frame)
        for sample in sampler.push(frame, cuts):
            classify(sample.frame.image) ...    # sample.frame, sample.weight_s
    for sample in sampler.finish():             # also after a DecodeError
        ...

The policy, within each shot: the first usable frame is sampled, then one frame whenever
``max_interval_s`` has passed since the last sample; a shot that ends with fewer than
``min_per_shot`` samples gets extra ones spread over it. Blank frames (luma standard deviation
below ``blank_std``: black, flat colour) are never sampled.

Each sample's ``weight_s`` is the usable running time it stands for: the non-blank time from
it to the next sample of its shot (the first sample also covers the shot's start). The weights
of a shot add up to its non-blank time, so time-weighted statistics are not biased by how
densely frames were sampled, and blank time counts for no class.

Shots are only final at the end, so the sampler follows the cut detector's early hints and
holds frames back by ``lag_frames`` to hear about a cut before the cut frame leaves. It holds
at most ``lag_frames + 1`` frames, one pending sample (``min_per_shot - 1`` more, plus as many
spares, when ``min_per_shot`` > 1): memory never grows with the film.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from app.core.config import SamplingSettings
from app.pipeline.video import DecodedFrame

# Blank detection looks at every n-th pixel: a flat frame is flat at any scale.
BLANK_PIXEL_STRIDE = 2
# Pts arithmetic in binary floats: 1.0 s after 0.04 s can come out as 0.99999.
TIME_EPSILON_S = 1e-6


@dataclass(frozen=True)
class SampledFrame:
    frame: DecodedFrame
    weight_s: float  # usable running time this frame stands for within its shot


def luma_std(image: np.ndarray) -> float:
    """Standard deviation of the luma (0-255) of an RGB image."""
    height, width = image.shape[:2]
    if height % BLANK_PIXEL_STRIDE == 0 and width % BLANK_PIXEL_STRIDE == 0:
        # The same pixels as the strided view below (nearest neighbour at an exact integer
        # factor takes each stride's first), in half the time: this runs on every frame.
        size = (width // BLANK_PIXEL_STRIDE, height // BLANK_PIXEL_STRIDE)
        small = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
    else:
        small = np.ascontiguousarray(image[::BLANK_PIXEL_STRIDE, ::BLANK_PIXEL_STRIDE])
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return float(gray.std())


@dataclass
class _Held:
    frame: DecodedFrame
    clock_s: float  # the shot's usable time before this frame


class FrameSampler:
    """Streams decoded frames in and sampled frames, with their final weights, out."""

    def __init__(self, settings: SamplingSettings, *, fps: float, lag_frames: int = 0) -> None:
        self.settings = settings
        self.fps = fps
        # At least one frame is held back: a frame's duration is known when the next arrives.
        self._delay = max(1, lag_frames)
        self._queue: deque[DecodedFrame] = deque()
        self._pending_cuts: set[int] = set()
        self._last_duration_s = 1.0 / fps
        self.blank_frames = 0
        self._start_shot()

    def push(self, frame: DecodedFrame, new_cuts: Iterable[int] = ()) -> list[SampledFrame]:
        """Take the next decoded frame and any cuts just found (first frames of new shots);
        returns the samples whose weights are now final."""
        self._pending_cuts.update(new_cuts)
        self._queue.append(frame)
        out: list[SampledFrame] = []
        while len(self._queue) > self._delay:
            leaving = self._queue.popleft()
            duration_s = self._queue[0].pts_s - leaving.pts_s
            out += self._take(leaving, duration_s)
        return out

    def finish(self) -> list[SampledFrame]:
        """The remaining samples, once the decode has ended (whole or not)."""
        out: list[SampledFrame] = []
        while self._queue:
            leaving = self._queue.popleft()
            duration_s = (
                self._queue[0].pts_s - leaving.pts_s if self._queue else self._last_duration_s
            )
            out += self._take(leaving, duration_s)
        out += self._end_shot()
        return out

    # ------------------------------------------------------------------------------------------

    def _start_shot(self) -> None:
        self._clock_s = 0.0
        self._held: list[_Held] = []
        self._last_sample_pts: float | None = None
        self._spares: list[_Held] = []
        self._spare_spacing = 1  # frames between kept spares; doubles as the shot grows

    def _take(self, frame: DecodedFrame, duration_s: float) -> list[SampledFrame]:
        if duration_s <= 0:  # a repeated or disordered pts: count one nominal frame
            duration_s = 1.0 / self.fps
        self._last_duration_s = duration_s
        out: list[SampledFrame] = []
        cuts_reached = [cut for cut in self._pending_cuts if cut <= frame.index]
        if cuts_reached:
            # A cut reported too late for its own frame starts the shot here instead; such
            # late cuts come from fades, whose dark middle is blank and unsampled anyway.
            self._pending_cuts.difference_update(cuts_reached)
            out += self._end_shot()
            self._start_shot()

        if self.settings.skip_blank and luma_std(frame.image) < self.settings.blank_std:
            self.blank_frames += 1
            return out
        due = (
            self._last_sample_pts is None
            or frame.pts_s - self._last_sample_pts >= self.settings.max_interval_s - TIME_EPSILON_S
        )
        if due:
            self._held.append(_Held(frame, self._clock_s))
            self._last_sample_pts = frame.pts_s
            if len(self._held) >= self.settings.min_per_shot:
                # The shot has enough samples: spares are moot, and every sample but the
                # newest now knows where its stretch of time ends.
                self._spares.clear()
                out += self._emit(self._held[:-1], end_clock_s=self._held[-1].clock_s)
                self._held = self._held[-1:]
        elif len(self._held) < self.settings.min_per_shot:
            self._keep_spare(frame)
        self._clock_s += duration_s
        return out

    def _keep_spare(self, frame: DecodedFrame) -> None:
        """Keep a thinning, evenly spread set of unsampled frames in case the shot ends with
        too few samples."""
        capacity = 2 * (self.settings.min_per_shot - 1)
        if frame.index % self._spare_spacing:
            return
        self._spares.append(_Held(frame, self._clock_s))
        if len(self._spares) > capacity:
            self._spare_spacing *= 2
            self._spares = [s for s in self._spares if s.frame.index % self._spare_spacing == 0]

    def _end_shot(self) -> list[SampledFrame]:
        held = self._held
        missing = self.settings.min_per_shot - len(held)
        if missing > 0 and self._spares:
            # Evenly spread picks among the spares.
            step = len(self._spares) / missing
            picks = {self._spares[int(i * step)].frame.index: self._spares[int(i * step)]
                     for i in range(min(missing, len(self._spares)))}  # fmt: skip
            held = sorted([*held, *picks.values()], key=lambda h: h.frame.index)
        return self._emit(held, end_clock_s=self._clock_s)

    @staticmethod
    def _emit(held: list[_Held], *, end_clock_s: float) -> list[SampledFrame]:
        if not held:
            return []
        ends = [h.clock_s for h in held[1:]] + [end_clock_s]
        return [
            SampledFrame(frame=h.frame, weight_s=end - h.clock_s)
            for h, end in zip(held, ends, strict=True)
        ]
