"""Time-weighted statistics of a film's classified frames: per shot, per film, and as a timeline.

Pure arithmetic on plain values. Every classified frame counts for its ``weight_s`` (the
running time it stands for, see ``sampling``), so shares are shares of running time, not of
sampled frames. Shares are taken over classified time: blank frames and undecoded parts
count for no class.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from app.core.domain import FrameClass
from app.pipeline.quantify import HybridRates, ratio_range

# When two classes hold a shot for exactly the same time, the shot takes the first of these:
# a tie means the shot does show both kinds of content.
TIE_ORDER = (FrameClass.HYBRID, FrameClass.NP, FrameClass.P)


@dataclass(frozen=True)
class FrameResult:
    """One classified frame."""

    frame_index: int
    time_s: float
    frame_class: FrameClass
    p_fraction: float
    weight_s: float


class ShotSpan(Protocol):
    """What statistics need of a shot (``shots.Shot`` is one)."""

    @property
    def index(self) -> int: ...
    @property
    def start_frame(self) -> int: ...
    @property
    def end_frame(self) -> int: ...
    @property
    def start_time(self) -> float: ...
    @property
    def end_time(self) -> float: ...
    @property
    def transition(self) -> str | None: ...
    @property
    def transition_frames(self) -> int: ...


@dataclass(frozen=True)
class ShotStats:
    shot_index: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    frame_class: FrameClass | None  # by majority of classified time; None if nothing classified
    hybrid_ratio: float  # hybrid share of the shot's classified time
    mean_p_fraction: float | None  # time-weighted
    classified_s: float
    sampled_frames: int
    transition: str | None = None  # how the shot begins (cut, dissolve, fade, wipe)
    transition_frames: int = 0


@dataclass(frozen=True)
class FilmStats:
    duration_s: float
    classified_s: float
    # Time-weighted share of the (classified) film that is hybrid. The shares are None when
    # nothing was classified (every frame blank, or none decoded): such a film is not a 0 %
    # film, and must not match ratio queries as one.
    hybrid_ratio: float | None
    p_time_share: float | None  # the three shares sum to 1 when anything was classified
    np_time_share: float | None
    hybrid_time_share: float | None
    mean_p_fraction: float | None  # time-weighted
    shot_count: int
    hybrid_shot_count: int
    longest_hybrid_run_s: float  # longest stretch of consecutive hybrid samples
    # The hybrid ratio adjusted for the models' measured error rates (``quantify``); None
    # when the models carry no rates for these settings, or nothing was classified.
    adjusted_hybrid_ratio: float | None = None
    # Where the true hybrid share plausibly lies (90 %: ``quantify.ratio_range``), as
    # (low, high); None whenever the adjusted ratio is, and for rates stored before their
    # spreads were measured.
    hybrid_ratio_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class TimelineBin:
    start_s: float
    end_s: float
    classified_s: float
    p_share: float
    np_share: float
    hybrid_share: float
    mean_p_fraction: float | None


def shot_stats(frames: Sequence[FrameResult], shots: Sequence[ShotSpan]) -> list[ShotStats]:
    """Statistics of each shot from the frames that fall in it (by frame number)."""
    ordered = sorted(frames, key=lambda f: f.frame_index)
    result: list[ShotStats] = []
    cursor = 0
    for shot in sorted(shots, key=lambda s: s.start_frame):
        while cursor < len(ordered) and ordered[cursor].frame_index < shot.start_frame:
            cursor += 1
        inside: list[FrameResult] = []
        while cursor < len(ordered) and ordered[cursor].frame_index <= shot.end_frame:
            inside.append(ordered[cursor])
            cursor += 1
        times = _class_times(inside)
        classified_s = sum(times.values())
        majority = (
            max(TIE_ORDER, key=lambda c: (times[c], -TIE_ORDER.index(c)))
            if classified_s > 0
            else None
        )
        result.append(
            ShotStats(
                shot_index=shot.index,
                start_frame=shot.start_frame,
                end_frame=shot.end_frame,
                start_time=shot.start_time,
                end_time=shot.end_time,
                frame_class=majority,
                hybrid_ratio=_share(times, FrameClass.HYBRID),
                mean_p_fraction=_weighted_mean_p(inside),
                classified_s=classified_s,
                sampled_frames=len(inside),
                transition=shot.transition,
                transition_frames=shot.transition_frames,
            )
        )
    return result


def film_stats(
    frames: Sequence[FrameResult],
    shots: Sequence[ShotStats],
    *,
    duration_s: float,
    rates: HybridRates | None = None,
) -> FilmStats:
    """Whole-film figures from its classified frames and its shots' statistics; with
    ``rates``, the hybrid ratio adjusted for them too (``quantify``)."""
    times = _class_times(frames)
    classified_s = sum(times.values())

    def share(frame_class: FrameClass) -> float | None:
        return _share(times, frame_class) if classified_s > 0 else None

    longest_run_s = run_s = 0.0
    for frame in sorted(frames, key=lambda f: f.frame_index):
        run_s = run_s + frame.weight_s if frame.frame_class == FrameClass.HYBRID else 0.0
        longest_run_s = max(longest_run_s, run_s)
    return FilmStats(
        duration_s=duration_s,
        classified_s=classified_s,
        hybrid_ratio=share(FrameClass.HYBRID),
        p_time_share=share(FrameClass.P),
        np_time_share=share(FrameClass.NP),
        hybrid_time_share=share(FrameClass.HYBRID),
        mean_p_fraction=_weighted_mean_p(frames),
        shot_count=len(shots),
        hybrid_shot_count=sum(1 for s in shots if s.frame_class == FrameClass.HYBRID),
        longest_hybrid_run_s=longest_run_s,
        adjusted_hybrid_ratio=(
            rates.adjust(_share(times, FrameClass.HYBRID))
            if rates is not None and classified_s > 0
            else None
        ),
        hybrid_ratio_range=(
            ratio_range(*_range_units(frames, shots), rates)
            if rates is not None and rates.ranged and classified_s > 0
            else None
        ),
    )


def _range_units(
    frames: Sequence[FrameResult], shots: Sequence[ShotStats]
) -> tuple[list[bool], list[float]]:
    """What errs together, for the ratio's range: the frames of one shot called hybrid, and
    those called otherwise, each one unit of their running time (a frame outside every
    shot is a unit of its own)."""
    ordered = sorted(shots, key=lambda shot: shot.start_frame)
    starts = [shot.start_frame for shot in ordered]
    units: dict[tuple[int, bool], float] = defaultdict(float)
    for number, frame in enumerate(frames):
        at = bisect.bisect_right(starts, frame.frame_index) - 1
        inside = at >= 0 and frame.frame_index <= ordered[at].end_frame
        key = at if inside else len(ordered) + number
        units[(key, frame.frame_class == FrameClass.HYBRID)] += frame.weight_s
    return [hybrid for _, hybrid in units], list(units.values())


def timeline(
    frames: Sequence[FrameResult], *, duration_s: float, bins: int = 100
) -> list[TimelineBin]:
    """Shares of P / NP / hybrid and mean P fraction in ``bins`` equal stretches of the film.

    Each frame's weight is laid from its time onwards and split across the bins it overlaps.
    """
    if duration_s <= 0 or bins <= 0:
        return []
    width_s = duration_s / bins
    class_s = [dict.fromkeys(FrameClass, 0.0) for _ in range(bins)]
    p_weighted = [0.0] * bins
    for frame in frames:
        start, end = frame.time_s, min(frame.time_s + frame.weight_s, duration_s)
        first = max(0, int(start // width_s))
        for number in range(first, bins):
            overlap = min(end, (number + 1) * width_s) - max(start, number * width_s)
            if overlap <= 0:
                if number * width_s >= end:
                    break
                continue
            class_s[number][frame.frame_class] += overlap
            p_weighted[number] += overlap * frame.p_fraction
    result: list[TimelineBin] = []
    for number, times in enumerate(class_s):
        classified_s = sum(times.values())
        result.append(
            TimelineBin(
                start_s=number * width_s,
                end_s=(number + 1) * width_s,
                classified_s=classified_s,
                p_share=_share(times, FrameClass.P),
                np_share=_share(times, FrameClass.NP),
                hybrid_share=_share(times, FrameClass.HYBRID),
                mean_p_fraction=p_weighted[number] / classified_s if classified_s > 0 else None,
            )
        )
    return result


def _class_times(frames: Sequence[FrameResult]) -> dict[FrameClass, float]:
    times = dict.fromkeys(FrameClass, 0.0)
    for frame in frames:
        times[frame.frame_class] += frame.weight_s
    return times


def _share(times: dict[FrameClass, float], frame_class: FrameClass) -> float:
    total_s = sum(times.values())
    return times[frame_class] / total_s if total_s > 0 else 0.0


def _weighted_mean_p(frames: Sequence[FrameResult]) -> float | None:
    total_s = sum(f.weight_s for f in frames)
    if total_s <= 0:
        return None
    return sum(f.p_fraction * f.weight_s for f in frames) / total_s
