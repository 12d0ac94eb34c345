"""The online frame-sampling policy and its time weights."""

from __future__ import annotations

import weakref
from collections.abc import Iterable

import numpy as np
import pytest

from app.core.config import SamplingSettings
from app.pipeline.sampling import FrameSampler, SampledFrame, luma_std
from app.pipeline.video import DecodedFrame

FPS = 10.0


def frame(index: int, *, blank: bool = False, fps: float = FPS) -> DecodedFrame:
    if blank:
        image = np.zeros((24, 32, 3), dtype=np.uint8)
    else:
        image = np.random.default_rng(index).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return DecodedFrame(index=index, pts_s=index / fps, image=image)


def run(
    sampler: FrameSampler,
    frames: Iterable[DecodedFrame],
    cuts: dict[int, list[int]] | None = None,
) -> list[SampledFrame]:
    """Feed frames, announcing ``cuts[i]`` alongside frame i (as the shot detector would)."""
    out: list[SampledFrame] = []
    for f in frames:
        out += sampler.push(f, (cuts or {}).get(f.index, []))
    return out + sampler.finish()


def test_sampler_takes_first_frame_of_each_shot_when_cuts_are_announced() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=10.0), fps=FPS, lag_frames=2)

    samples = run(sampler, (frame(i) for i in range(30)), cuts={12: [10], 22: [20]})

    assert [s.frame.index for s in samples] == [0, 10, 20]


def test_sampler_spaces_samples_by_max_interval_when_shot_is_long() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=1.0), fps=FPS)

    samples = run(sampler, (frame(i) for i in range(35)))

    assert [s.frame.index for s in samples] == [0, 10, 20, 30]


def test_sampler_weights_add_up_to_running_time_when_nothing_is_blank() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=1.0), fps=FPS, lag_frames=2)

    samples = run(sampler, (frame(i) for i in range(35)), cuts={17: [15]})

    assert [s.frame.index for s in samples] == [0, 10, 15, 25]
    assert [s.weight_s for s in samples] == pytest.approx([1.0, 0.5, 1.0, 1.0])


def test_sampler_skips_blank_frames_and_their_time_when_shot_starts_black() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=10.0), fps=FPS)

    samples = run(
        sampler, [*(frame(i, blank=True) for i in range(5)), *(frame(i) for i in range(5, 20))]
    )

    assert [s.frame.index for s in samples] == [5]
    assert samples[0].weight_s == pytest.approx(1.5)
    assert sampler.blank_frames == 5


def test_sampler_keeps_blank_frames_when_skipping_is_off() -> None:
    sampler = FrameSampler(SamplingSettings(skip_blank=False, max_interval_s=10.0), fps=FPS)

    samples = run(sampler, (frame(i, blank=True) for i in range(5)))

    assert [(s.frame.index, round(s.weight_s, 6)) for s in samples] == [(0, 0.5)]


def test_sampler_adds_spread_samples_when_shot_is_shorter_than_min_per_shot_needs() -> None:
    settings = SamplingSettings(min_per_shot=3, max_interval_s=10.0)
    sampler = FrameSampler(settings, fps=FPS, lag_frames=2)

    samples = run(sampler, (frame(i) for i in range(40)), cuts={22: [20]})

    first_shot = [s for s in samples if s.frame.index < 20]
    second_shot = [s for s in samples if s.frame.index >= 20]
    assert len(first_shot) == 3 and len(second_shot) == 3
    assert sum(s.weight_s for s in first_shot) == pytest.approx(2.0)
    assert sum(s.weight_s for s in second_shot) == pytest.approx(2.0)
    assert min(s.weight_s for s in samples) > 0


def test_sampler_starts_shot_at_next_frame_when_cut_is_announced_late() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=10.0), fps=FPS, lag_frames=1)

    samples = run(sampler, (frame(i) for i in range(20)), cuts={15: [10]})

    assert [s.frame.index for s in samples] == [0, 14]
    assert sum(s.weight_s for s in samples) == pytest.approx(2.0)


def test_sampler_holds_few_frames_when_film_is_long() -> None:
    sampler = FrameSampler(SamplingSettings(max_interval_s=5.0), fps=FPS, lag_frames=3)
    alive: list[weakref.ref[np.ndarray]] = []
    held_counts = []

    for i in range(300):
        f = frame(i)
        alive.append(weakref.ref(f.image))
        sampler.push(f, [])
        del f  # the sampler's references are now the only ones
        held_counts.append(sum(ref() is not None for ref in alive))

    # lag frames + the frame whose duration awaits the next + the pending sample.
    assert max(held_counts) <= 3 + 1 + 1


def test_luma_std_is_zero_when_frame_is_flat() -> None:
    assert luma_std(np.full((10, 10, 3), 128, dtype=np.uint8)) == 0.0
