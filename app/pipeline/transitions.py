"""Shot transitions (cut, dissolve, fade, wipe) from the frames of the one decode.

Usage (``workers.shots.transnet.create`` builds one for the shot-detector registry)::

    detector = TransitionDetector(ShotDetector(settings, fps=fps), scorer=scorer, fps=fps)
    for frame in decode(...):
        detector.process(frame)           # cut hints from the cheap detector
    shots = detector.finish()             # list[Shot], each with the transition into it
    transitions = detector.transitions()  # list[Transition], one per shot boundary

The cheap detector (PySceneDetect's, ``ShotDetector``) finds hard cuts. Gradual transitions
come from a neural scorer (TransNetV2, torch, given by the caller) run on 48x27 thumbnails in
windows of 100 frames: over the whole film (``scope="film"``, on a GPU) or only around frames
whose cheap metrics look like a gradual change (``scope="candidates"``, on a CPU, where the
network costs several times the decode). Wipes, which the network misses, come from the same
cheap metrics. Each transition is then classified from the thumbnails' luma and how the change
spreads over the picture. This module never imports torch.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from app.pipeline.shots import Shot, build_shots

# TransNetV2's input, and its windows: 100 frames advancing by 50, the middle 50 kept.
THUMB_WIDTH, THUMB_HEIGHT = 48, 27
WINDOW_FRAMES = 100
STEP_FRAMES = 50
CONTEXT_FRAMES = 25


class TransitionKind(StrEnum):
    """How one shot turns into the next."""

    CUT = "cut"
    DISSOLVE = "dissolve"  # cross-dissolve: both pictures mixed
    FADE = "fade"  # through black (out, maybe a black hold, in)
    WIPE = "wipe"  # an edge sweeps the new picture over the old


@dataclass(frozen=True)
class Transition:
    """One shot boundary. ``start_frame``..``end_frame`` (inclusive) are the frames the
    transition occupies; for a cut both are the new shot's first frame. ``cut_frame`` is where
    the next shot starts (the middle of a gradual transition)."""

    kind: TransitionKind
    start_frame: int
    end_frame: int

    @property
    def cut_frame(self) -> int:
        if self.kind is TransitionKind.CUT:
            return self.start_frame
        return (self.start_frame + self.end_frame + 1) // 2

    @property
    def frame_count(self) -> int:
        """Frames the transition takes: 0 for a cut, as an EDL counts a dissolve's length."""
        return 0 if self.kind is TransitionKind.CUT else self.end_frame - self.start_frame + 1


def thumbnail(rgb: np.ndarray) -> np.ndarray:
    """(27, 48, 3) uint8 RGB, the network's input and the cheap metrics' picture."""
    return cv2.resize(rgb, (THUMB_WIDTH, THUMB_HEIGHT), interpolation=cv2.INTER_AREA)


def window_count(frame_count: int) -> int:
    """How many windows cover ``frame_count`` frames (window ``w`` keeps ``[50w, 50w + 50)``)."""
    return -(-frame_count // STEP_FRAMES)


def window_frames(window: int, frame_count: int) -> np.ndarray:
    """The frame numbers a window is made of, clamped at the film's ends: shape (100,)."""
    first = window * STEP_FRAMES - CONTEXT_FRAMES
    return np.clip(np.arange(first, first + WINDOW_FRAMES), 0, max(0, frame_count - 1))


class TransitionScorer(Protocol):
    """What the detector needs of the network (``workers.shots.transnet``)."""

    def score(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, 100, 27, 48, 3) uint8 -> two (B, 50) float arrays: transition probability and
        within-transition probability of each window's 50 kept frames."""
        ...

    def describe(self) -> dict[str, Any]: ...


# ----------------------------------------------------------------------------------------------
# Cheap per-frame metrics


# Frames back that the long-range difference looks (dissolves run 8-30 frames).
LONG_GAP = 8
# Share of the pixels whose change counts as "where the change is" (for wipes).
TOP_SHARE_PIXELS = 0.2


class FrameMetrics:
    """Per-frame measures on the 48x27 grey thumbnail, kept for the whole film (16 bytes a
    frame, ~2 MB for a 90-minute film) so transitions can be judged after the decode:

    - ``luma``: mean grey level (fades go to black);
    - ``step``: mean absolute change from the previous frame;
    - ``long``: mean absolute change from ``LONG_GAP`` frames back; a dissolve, fade or wipe
      changes each pixel one way, so ``long`` adds up the steps (coherence near 1), while
      motion and noise go back and forth (coherence well below 1);
    - ``top_share``: the share of ``step`` carried by the 20 % most changed pixels (near 1 for
      a wipe's moving edge, ~0.4 for a dissolve).
    """

    def __init__(self) -> None:
        self.luma = array("f")
        self.step = array("f")
        self.long = array("f")
        self.top_share = array("f")
        self._recent: deque[np.ndarray] = deque(maxlen=LONG_GAP + 1)

    def __len__(self) -> int:
        return len(self.luma)

    def add(self, thumb: np.ndarray) -> None:
        grey = cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        self._recent.append(grey)
        self.luma.append(float(grey.mean()))
        if len(self._recent) == 1:
            self.step.append(0.0)
            self.long.append(0.0)
            self.top_share.append(0.0)
            return
        change = np.abs(grey - self._recent[-2]).ravel()
        total = float(change.sum())
        self.step.append(total / change.size)
        top = int(change.size * TOP_SHARE_PIXELS)
        self.top_share.append(
            float(np.partition(change, change.size - top)[-top:].sum()) / total
            if total > 0
            else 0.0
        )
        self.long.append(float(np.abs(grey - self._recent[0]).mean()))

    def coherence(self, frame: int) -> float:
        """``long`` over the sum of the steps it spans (1: every pixel moved one way)."""
        first = max(1, frame - LONG_GAP + 1)
        steps = sum(self.step[first : frame + 1])
        return self.long[frame] / steps if steps > 0 else 0.0

    def spike_share(self, frame: int) -> float:
        """The largest step's share of the steps ``long`` spans (1: a single hard cut)."""
        first = max(1, frame - LONG_GAP + 1)
        steps = self.step[first : frame + 1]
        total = sum(steps)
        return max(steps) / total if total > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# Wipes, from the thumbnails (the network misses them)


WIPE_MIN_FRAMES, WIPE_MAX_FRAMES = 6, 40
# Mean grey difference between the pictures before and after for a wipe to count.
WIPE_MIN_CONTRAST = 10.0
# Frames inside a wipe are, pixel by pixel, the picture before or the one after: what is
# neither, relative to the contrast, stays below this.
WIPE_MAX_RESIDUAL = 0.3
# Share of a wipe's frames in which its edge must visibly advance.
WIPE_MIN_ADVANCING_SHARE = 0.75
# Share of the picture that must differ by WIPE_MIN_CONTRAST between before and after.
WIPE_MIN_DECISIVE_SHARE = 0.5
# A decisive pixel is "in between" when it is this far (relative to its own contrast) from both
# pictures; a wipe leaves only its edge in between.
WIPE_BETWEEN, WIPE_MAX_BETWEEN_SHARE = 0.3, 0.15
# No single frame may switch more than this share of the picture (a cut or dissolve does).
WIPE_MAX_SWITCH_PER_FRAME = 0.45
# Gate: the last step of a wipe moves a visible edge, concentrated in few pixels.
WIPE_GATE_STEP, WIPE_GATE_TOP_SHARE = 1.5, 0.8


def find_wipe(greys: Sequence[np.ndarray]) -> tuple[int, int, float] | None:
    """The wipe ending at ``greys[-2]`` with ``greys[-1]`` the picture after it, as (first,
    last) indices into ``greys`` and its share of in-between pixels (lower is surer); None if
    the frames do not look like one.

    A wipe leaves each pixel either as it was before or as it is after, and moves the
    boundary between the two a little every frame: the share of pixels already switched
    grows steadily from ~0 to ~1.
    """
    stack = np.stack(list(greys))  # (N, 27, 48)
    after = stack[-1]
    last = len(stack) - 2
    to_after_all = np.abs(stack[:-1] - after)  # (N-1, 27, 48), the same for every length
    best: tuple[int, int, float] | None = None
    for length in range(WIPE_MIN_FRAMES, min(WIPE_MAX_FRAMES, len(stack) - 2) + 1, 2):
        first = last - length + 1
        before = stack[first - 1]
        contrast_map = np.abs(after - before)
        contrast = float(contrast_map.mean())
        if contrast < WIPE_MIN_CONTRAST:
            continue
        decisive = contrast_map > WIPE_MIN_CONTRAST
        if float(decisive.mean()) < WIPE_MIN_DECISIVE_SHARE:
            continue  # something moved inside one shot; a wipe replaces the whole picture
        frames = stack[first : last + 1]  # (L, 27, 48)
        to_before, to_after = np.abs(frames - before), to_after_all[first : last + 1]
        nearest = np.minimum(to_before, to_after)  # (L, 27, 48)
        if float(nearest.mean()) / contrast > WIPE_MAX_RESIDUAL:
            continue
        # A wiped pixel jumps from before to after in a frame or two; a pan or a dissolve
        # passes it through values that are neither.
        between = nearest[:, decisive] > WIPE_BETWEEN * contrast_map[decisive]
        between_share = float(between.mean())
        if between_share > WIPE_MAX_BETWEEN_SHARE:
            continue
        switched = ((to_after < to_before) & decisive).sum(axis=(1, 2)) / max(1, decisive.sum())
        steps = np.diff(np.concatenate([[0.0], switched, [1.0]]))
        if switched[0] > 0.3 or switched[-1] < 0.7 or steps.max() > WIPE_MAX_SWITCH_PER_FRAME:
            continue
        if steps.min() < -0.1:  # the boundary went back: motion, not a wipe
            continue
        # Frames at either end that are still all before, or already all after, are not part
        # of it (the longest span that passes starts in the stable picture before).
        moving = np.flatnonzero((switched > 0.02) & (switched < 0.98))
        if len(moving) < WIPE_MIN_FRAMES - 2:
            continue
        # The edge advances every frame; held drawings of cel animation switch whole areas
        # at once and then stand still for a frame or two.
        advances = np.diff(switched[moving[0] : moving[-1] + 1])
        if float((advances > 0.25 / len(moving)).mean()) < WIPE_MIN_ADVANCING_SHARE:
            continue
        if best is None or between_share <= best[2]:
            best = (first + int(moving[0]), first + int(moving[-1]), between_share)
    return best


# ----------------------------------------------------------------------------------------------
# The detector


# A frame darker than this (mean grey) is black for fades.
DARK_LUMA = 12.0
# Candidates for the network: coherent long-range change without a single-frame spike.
CANDIDATE_MIN_LONG, CANDIDATE_MIN_COHERENCE, CANDIDATE_MAX_SPIKE = 10.0, 0.85, 0.5
# Frames around a candidate frame whose window also runs (a transition's start is earlier).
CANDIDATE_MARGIN = 10
# A window is decided this many frames after its last kept frame (candidates lag by LONG_GAP).
DECISION_LAG = CONTEXT_FRAMES + LONG_GAP + CANDIDATE_MARGIN
# The network's probabilities above which a frame holds / is within a transition.
TRANSITION_THRESHOLD, WITHIN_THRESHOLD = 0.5, 0.5
# A transition the network spreads over this many frames or more is gradual.
GRADUAL_MIN_FRAMES = 3
# Fade out and fade in around a black hold merge into one fade when this close; a longer
# black stretch is a dark shot.
FADE_MAX_HOLD_FRAMES = 50
# How far from a gradual transition black makes it a fade, and how a fade's luma ramps are
# followed out of the black (at least this much brighter each frame, for at most so many).
FADE_REACH_FRAMES = 10
FADE_RAMP_STEP, FADE_MAX_RAMP_FRAMES = 1.0, 60
RING_FRAMES = WINDOW_FRAMES + DECISION_LAG + STEP_FRAMES + WIPE_MAX_FRAMES

Scope = Literal["film", "candidates"]


class TransitionDetector:
    """Cuts from the cheap detector, gradual transitions from the network and the wipe test;
    memory is bounded (a ring of thumbnails) apart from a few numbers per frame."""

    def __init__(
        self,
        shot_detector: Any | None,
        *,
        scorer: TransitionScorer | None,
        scope: Scope = "candidates",
        batch_windows: int = 8,
        find_wipes: bool = True,
        min_shot_frames: int = 8,
        fps: float = 25.0,
        name: str = "transnetv2",
    ) -> None:
        self.name = name  # as registered in app.pipeline.detectors
        # app.pipeline.shots.ShotDetector; without it (to measure the network alone) the
        # network's own cuts count.
        self.shot_detector = shot_detector
        self.find_wipes = find_wipes
        self.min_shot_frames = min_shot_frames
        self.scorer = scorer
        self.scope = scope
        self.batch_windows = max(1, batch_windows)
        self.fps = float(fps)
        self.metrics = FrameMetrics()
        self._pts = array("d")
        self._thumbs: deque[np.ndarray] = deque(maxlen=RING_FRAMES)
        self._greys: deque[np.ndarray] = deque(maxlen=WIPE_MAX_FRAMES + 2)
        self._candidate = array("b")
        self._transition = array("f")  # NaN where the network did not look
        self._within = array("f")
        self._next_window = 0
        self._pending: list[tuple[int, np.ndarray]] = []
        self.windows_run = 0
        self.windows_scored: list[int] = []  # which windows the network read (a few ints)
        self._wipes: list[tuple[int, int]] = []
        self._cheap_cuts: list[int] = []
        self._finished: list[Transition] | None = None

    @property
    def cut_lag_frames(self) -> int:
        """How late the cheap detector reports a cut (gradual transitions come at the end)."""
        return int(self.shot_detector.cut_lag_frames) if self.shot_detector is not None else 0

    def process(self, frame: Any) -> list[int]:
        """Look at the next decoded frame (``app.pipeline.video.DecodedFrame``); returns the
        cheap detector's cut hints."""
        hints: list[int] = []
        if self.shot_detector is not None:
            hints = self.shot_detector.process(frame)
        self._pts.append(frame.pts_s)
        thumb = thumbnail(frame.image)
        self._thumbs.append(thumb)
        self.metrics.add(thumb)
        index = len(self.metrics) - 1
        self._transition.append(float("nan"))
        self._within.append(float("nan"))
        self._candidate.append(0)
        self._mark_candidates(index)
        self._greys.append(cv2.cvtColor(thumb, cv2.COLOR_RGB2GRAY).astype(np.float32))
        if self.find_wipes:
            self._look_for_wipe(index)
        while self._next_window * STEP_FRAMES + STEP_FRAMES + DECISION_LAG <= index:
            self._decide_window(self._next_window, frame_count=None)
            self._next_window += 1
        return hints

    def finish(self) -> list[Shot]:
        """Shots covering every frame processed, each with the transition that leads into it
        (none if no frame was)."""
        frame_count = len(self._pts)
        if frame_count == 0:
            return []
        transitions = self.transitions()
        return build_shots(
            [t.cut_frame for t in transitions],
            self._pts,
            fps=self.fps,
            transitions=[(t.kind.value, t.frame_count) for t in transitions],
        )

    def transitions(self) -> list[Transition]:
        """Every shot boundary, in order (none if fewer than two shots)."""
        if self._finished is None:
            frame_count = len(self.metrics)
            if self.shot_detector is not None:
                self._cheap_cuts = [shot.start_frame for shot in self.shot_detector.finish()[1:]]
            while self._next_window < window_count(frame_count):
                self._decide_window(self._next_window, frame_count=frame_count)
                self._next_window += 1
            self._run_pending(frame_count)
            self._finished = self._combine(frame_count)
        return self._finished

    def describe(self) -> dict[str, Any]:
        """What found the shots, stored with the results (the window count is final once
        ``finish`` ran)."""
        description: dict[str, Any] = {
            "detector": self.name,
            "transitions": "cheap cuts + network dissolves and fades + wipe test",
            "scope": self.scope,
            "windows_run": self.windows_run,
        }
        if self.shot_detector is not None:
            description["cuts"] = self.shot_detector.describe()
        if self.scorer is not None:
            description["scorer"] = self.scorer.describe()
        return description

    # -- streaming --------------------------------------------------------------------------

    def _mark_candidates(self, index: int) -> None:
        metrics = self.metrics
        gradual = (
            metrics.long[index] > CANDIDATE_MIN_LONG
            and metrics.coherence(index) > CANDIDATE_MIN_COHERENCE
            and metrics.spike_share(index) < CANDIDATE_MAX_SPIKE
        )
        if gradual or metrics.luma[index] < DARK_LUMA:
            self._candidate[index] = 1

    def _look_for_wipe(self, index: int) -> None:
        last = index - 1
        if (
            last < WIPE_MIN_FRAMES + 1
            or self.metrics.step[last] < WIPE_GATE_STEP
            or self.metrics.top_share[last] < WIPE_GATE_TOP_SHARE
        ):
            return
        found = find_wipe(self._greys)
        if found is None:
            return
        offset = index - (len(self._greys) - 1)
        first, last = found[0] + offset, found[1] + offset
        if self._wipes and first <= self._wipes[-1][1]:
            merged = (min(first, self._wipes[-1][0]), max(last, self._wipes[-1][1]))
            if merged[1] - merged[0] < WIPE_MAX_FRAMES + 8:
                self._wipes[-1] = merged
                return
            first = self._wipes[-1][1] + 1
        self._wipes.append((first, last))

    def _decide_window(self, window: int, *, frame_count: int | None) -> None:
        """Queue the window for the network if the scope says so; run a full batch."""
        if self.scorer is None:
            return
        known = len(self.metrics)
        kept_first = window * STEP_FRAMES
        if self.scope == "candidates":
            low = max(0, kept_first - CANDIDATE_MARGIN)
            high = min(known, kept_first + STEP_FRAMES + CANDIDATE_MARGIN + LONG_GAP)
            if not any(
                self._candidate[frame] and not self._in_wipe(frame) for frame in range(low, high)
            ):
                return
        frames = window_frames(window, frame_count if frame_count is not None else known + 10**9)
        frames = np.minimum(frames, known - 1)
        ring_first = known - len(self._thumbs)
        self._pending.append((window, np.stack([self._thumbs[i - ring_first] for i in frames])))
        if len(self._pending) >= self.batch_windows:
            self._run_pending(known)

    def _in_wipe(self, frame: int) -> bool:
        """Whether a wipe already found covers the frame (the network cannot see wipes, so
        their change is no reason to run it)."""
        return any(first - LONG_GAP <= frame <= last + LONG_GAP for first, last in self._wipes[-4:])

    def _run_pending(self, known: int) -> None:
        if not self._pending or self.scorer is None:
            return
        transition, within = self.scorer.score(np.stack([w for _, w in self._pending]))
        for (window, _), scores, inside in zip(self._pending, transition, within, strict=True):
            first = window * STEP_FRAMES
            for offset in range(min(STEP_FRAMES, known - first)):
                self._transition[first + offset] = float(scores[offset])
                self._within[first + offset] = float(inside[offset])
        self.windows_run += len(self._pending)
        self.windows_scored.extend(window for window, _ in self._pending)
        self._pending = []

    # -- after the decode -------------------------------------------------------------------

    def _combine(self, frame_count: int) -> list[Transition]:
        transition = np.asarray(self._transition, dtype=np.float32)
        within = np.asarray(self._within, dtype=np.float32)
        luma = np.asarray(self.metrics.luma, dtype=np.float32)
        gradual: list[tuple[int, int]] = []
        network_cuts: list[int] = []
        for first, last in _runs(np.nan_to_num(transition) > TRANSITION_THRESHOLD):
            peak = first + int(np.argmax(transition[first : last + 1]))
            start, end = peak, peak
            while start > 0 and within[start - 1] > WITHIN_THRESHOLD:
                start -= 1
            while end + 1 < frame_count and within[end + 1] > WITHIN_THRESHOLD:
                end += 1
            start, end = min(start, first), max(end, last)
            if end - start + 1 >= GRADUAL_MIN_FRAMES:
                gradual.append((start, end))
            else:
                network_cuts.append(peak + 1)  # it marks the old shot's last frame
        spans = _merge_fades(sorted(gradual), luma)
        result = _merge_overlapping([_classify_gradual(start, end, luma) for start, end in spans])
        for first, last in self._wipes:
            result = [t for t in result if t.end_frame < first or t.start_frame > last]
            result.append(Transition(TransitionKind.WIPE, first, last))
        taken = [(t.start_frame - 2, t.end_frame + 2) for t in result]
        cuts = self._cheap_cuts if self.shot_detector is not None else network_cuts
        for cut in cuts:
            if not any(low <= cut <= high for low, high in taken):
                result.append(_cut_or_fade(cut, luma))
        result.sort(key=lambda t: t.cut_frame)
        return _drop_close(result, self.min_shot_frames, frame_count)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _merge_fades(spans: list[tuple[int, int]], luma: np.ndarray) -> list[tuple[int, int]]:
    """A fade out, a black hold and a fade in are one transition (the network sees two)."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged:
            previous_start, previous_end = merged[-1]
            gap = luma[previous_end : start + 1]
            if start - previous_end <= FADE_MAX_HOLD_FRAMES and (
                start <= previous_end + 1 or float(gap.max()) < DARK_LUMA
            ):
                merged[-1] = (previous_start, max(end, previous_end))
                continue
        merged.append((start, end))
    return merged


def _classify_gradual(start: int, end: int, luma: np.ndarray) -> Transition:
    """A fade when black is near (its span then follows the luma ramps around the black,
    which the network often sees only in part), else a dissolve over the network's span."""
    reach = max(FADE_REACH_FRAMES, end - start + 1)
    low, high = max(0, start - reach), min(len(luma), end + reach + 1)
    darkest = low + int(np.argmin(luma[low:high]))
    span = _fade_span(darkest, luma) if luma[darkest] < DARK_LUMA else None
    if span is None:
        return Transition(TransitionKind.DISSOLVE, start, end)
    return Transition(TransitionKind.FADE, *span)


def _cut_or_fade(cut: int, luma: np.ndarray) -> Transition:
    """A cheap cut at a short black stretch is a fade; a dark shot is not a black hold."""
    dark = [frame for frame in (cut - 1, cut) if 0 <= frame < len(luma) and luma[frame] < DARK_LUMA]
    span = _fade_span(dark[0], luma) if dark else None
    if span is None:
        return Transition(TransitionKind.CUT, cut, cut)
    return Transition(TransitionKind.FADE, *span)


def _fade_span(dark_frame: int, luma: np.ndarray) -> tuple[int, int] | None:
    """First and last frame of the fade around a black frame: the black hold and the luma
    ramps on either side; None when the black lasts too long to be a hold."""
    first = last = dark_frame
    while first > 0 and luma[first - 1] < DARK_LUMA:
        first -= 1
    while last + 1 < len(luma) and luma[last + 1] < DARK_LUMA:
        last += 1
    if last - first + 1 > FADE_MAX_HOLD_FRAMES:
        return None
    hold_first, hold_last = first, last
    while (
        first > 0
        and hold_first - first < FADE_MAX_RAMP_FRAMES
        and luma[first - 1] > luma[first] + FADE_RAMP_STEP
    ):
        first -= 1
    while (
        last + 1 < len(luma)
        and last - hold_last < FADE_MAX_RAMP_FRAMES
        and luma[last + 1] > luma[last] + FADE_RAMP_STEP
    ):
        last += 1
    return first, last


def _merge_overlapping(transitions: list[Transition]) -> list[Transition]:
    """One transition where two spans overlap (both halves of a fade found its black)."""
    merged: list[Transition] = []
    for transition in sorted(transitions, key=lambda t: t.start_frame):
        if merged and transition.start_frame <= merged[-1].end_frame:
            previous = merged[-1]
            kind = (
                TransitionKind.FADE
                if TransitionKind.FADE in (previous.kind, transition.kind)
                else previous.kind
            )
            merged[-1] = Transition(
                kind, previous.start_frame, max(previous.end_frame, transition.end_frame)
            )
            continue
        merged.append(transition)
    return merged


def _drop_close(
    transitions: list[Transition], min_frames: int, frame_count: int
) -> list[Transition]:
    kept: list[Transition] = []
    for transition in transitions:
        if not 0 < transition.cut_frame < frame_count:
            continue
        if kept and transition.cut_frame - kept[-1].cut_frame < min_frames:
            # Keep the gradual one: it says more about the boundary than a cut inside it.
            if kept[-1].kind is TransitionKind.CUT and transition.kind is not TransitionKind.CUT:
                kept[-1] = transition
            continue
        kept.append(transition)
    return kept
