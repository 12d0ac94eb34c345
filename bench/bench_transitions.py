"""Transition benchmark: hard cuts, cross-dissolves (8-30 frames), fades through black (with a
black hold) and wipes, in films built from ../shared/data stills (panned, with grain) and
excerpts of its real clips; PySceneDetect's detectors alone, TransNetV2 alone and the
combination (``app.pipeline.transitions``), each fed by the pipeline's one decode.

Prints F1 of hard cuts (within +-2 frames), F1 of gradual transitions (a detected gradual
transition of any kind overlapping a true one, +-2 frames), how many gradual ones got the right
kind, false boundaries (matching no true transition of any kind), and wall time as a ratio
to ``ffmpeg -i FILM -f null -`` on the same film in the same run.

Run: ``nice -n 5 .venv/bin/python bench/bench_transitions.py [--films 3] [--seconds 60]``
"""

from __future__ import annotations

import argparse
import itertools
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scenedetect import FrameTimecode
from scenedetect.detectors import ContentDetector

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import PipelineSettings, ShotSettings
from app.pipeline.shots import ShotDetector
from app.pipeline.transitions import Transition, TransitionDetector, TransitionKind
from app.pipeline.video import decode, probe

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FPS = 25
SIZE = (480, 270)
TOLERANCE = 2
GRADUAL = (TransitionKind.DISSOLVE, TransitionKind.FADE, TransitionKind.WIPE)


# ----------------------------------------------------------------------------------------------
# Films of known truth


@dataclass(frozen=True)
class Truth:
    kind: TransitionKind
    start_frame: int
    end_frame: int  # inclusive; == start_frame for a cut (the new shot's first frame)


ShotFrames = Callable[[int], Iterator[np.ndarray]]


def still_shot(path: Path, rng: random.Random) -> ShotFrames:
    """A still, 25 % larger than the frame, panned and zoomed slowly, with film grain."""
    width, height = SIZE
    image = Image.open(path).convert("RGB")
    scale = max(width * 1.25 / image.width, height * 1.25 / image.height)
    big = np.asarray(image.resize((round(image.width * scale), round(image.height * scale))))
    x0, y0 = rng.randint(0, big.shape[1] - width), rng.randint(0, big.shape[0] - height)
    x1, y1 = rng.randint(0, big.shape[1] - width), rng.randint(0, big.shape[0] - height)
    grain = np.random.default_rng(rng.randint(0, 1 << 30))

    def frames(count: int) -> Iterator[np.ndarray]:
        for index in range(count):
            share = index / max(1, count - 1) * 0.3  # slow: 30 % of the way in one shot
            x, y = round(x0 + (x1 - x0) * share), round(y0 + (y1 - y0) * share)
            frame = big[y : y + height, x : x + width].astype(np.int16)
            frame += grain.integers(-4, 5, size=frame.shape, dtype=np.int16)
            yield np.clip(frame, 0, 255).astype(np.uint8)

    return frames


def clip_frames(path: Path) -> np.ndarray:
    width, height = SIZE
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf",
         f"scale={width}:{height}:force_original_aspect_ratio=increase,crop={width}:{height},fps={FPS}",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def clean_excerpts(frames: np.ndarray, length: int) -> list[int]:
    """Starts of ``length``-frame excerpts with no cut of their own (a sensitive content
    detector finds none), so the film's only transitions are the ones we put in."""
    detector = ContentDetector(threshold=15.0, min_scene_len=1)
    cuts = [0]
    for index, frame in enumerate(frames):
        for cut in detector.process_frame(FrameTimecode(index, fps=float(FPS)), frame[..., ::-1]):
            cuts.append(cut.frame_num)
    cuts.append(len(frames))
    starts = []
    for first, last in itertools.pairwise(cuts):
        starts += list(range(first + 3, last - length - 3, length))
    return starts


def clip_shot(frames: np.ndarray, start: int) -> ShotFrames:
    def shot(count: int) -> Iterator[np.ndarray]:
        yield from frames[start : start + count]

    return shot


def build_film(path: Path, shots: list[ShotFrames], rng: random.Random) -> list[Truth]:
    """Join the shots with random transitions, encode H.264; returns the true transitions."""
    width, height = SIZE
    encoder = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{width}x{height}", "-r", str(FPS), "-i", "-",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p", str(path)],
        stdin=subprocess.PIPE,
    )  # fmt: skip
    assert encoder.stdin is not None
    truth: list[Truth] = []
    written = 0
    pending: list[np.ndarray] = []  # the current shot's frames not yet written

    def write(frames: list[np.ndarray]) -> None:
        nonlocal written
        for frame in frames:
            encoder.stdin.write(np.ascontiguousarray(frame).tobytes())  # type: ignore[union-attr]
        written += len(frames)

    for number, shot in enumerate(shots):
        length = rng.randint(45, 100)
        frames = list(shot(length))
        if number == 0:
            pending = frames
            continue
        kind = rng.choices(list(TransitionKind), weights=[0.35, 0.25, 0.15, 0.25])[0]
        if kind is TransitionKind.CUT:
            write(pending)
            truth.append(Truth(kind, written, written))
        elif kind is TransitionKind.DISSOLVE:
            span = rng.randint(8, 30)
            write(pending[:-span])
            alphas = (np.arange(1, span + 1) / (span + 1))[:, None, None, None]
            old, new = np.stack(pending[-span:]), np.stack(frames[:span])
            truth.append(Truth(kind, written, written + span - 1))
            write(list((old * (1 - alphas) + new * alphas).round().astype(np.uint8)))
            frames = frames[span:]
        elif kind is TransitionKind.FADE:
            out_frames, hold, in_frames = rng.randint(6, 20), rng.randint(2, 12), rng.randint(6, 20)
            start = written + len(pending) - out_frames
            gains_out = (1 - np.arange(1, out_frames + 1) / out_frames)[:, None, None, None]
            faded = (np.stack(pending[-out_frames:]) * gains_out).round().astype(np.uint8)
            write(pending[:-out_frames] + list(faded))
            write([np.zeros((height, width, 3), np.uint8)] * hold)
            gains_in = (np.arange(0, in_frames) / in_frames)[:, None, None, None]
            write(list((np.stack(frames[:in_frames]) * gains_in).round().astype(np.uint8)))
            truth.append(Truth(kind, start, written - 1))
            frames = frames[in_frames:]
        else:
            span = rng.randint(8, 30)
            direction = rng.choice(["left", "right", "up", "down"])
            write(pending[:-span])
            wiped = []
            for index, (old, new) in enumerate(zip(pending[-span:], frames[:span], strict=True)):
                share = (index + 1) / (span + 1)
                mask = _wipe_mask(direction, share)
                wiped.append(np.where(mask[..., None], new, old))
            truth.append(Truth(kind, written, written + span - 1))
            write(wiped)
            frames = frames[span:]
        pending = frames
    write(pending)
    encoder.stdin.close()
    encoder.wait()
    return truth


def _wipe_mask(direction: str, share: float) -> np.ndarray:
    width, height = SIZE
    xs, ys = np.meshgrid(np.arange(width) / width, np.arange(height) / height)
    return {
        "left": xs < share,
        "right": xs >= 1 - share,
        "up": ys < share,
        "down": ys >= 1 - share,
    }[direction]


def make_films(
    folder: Path, count: int, seconds: float, seed: int
) -> list[tuple[Path, list[Truth]]]:
    rng = random.Random(seed)
    stills = sorted((DATA / "photographic").glob("*.jpg")) + sorted(
        (DATA / "nonphotographic").glob("*.jpg")
    )
    clips = [clip_frames(path) for path in sorted((DATA / "videos").glob("*.mp4"))]
    excerpts = [(frames, start) for frames in clips for start in clean_excerpts(frames, 100)]
    films = []
    for number in range(count):
        shots: list[ShotFrames] = []
        for _ in range(round(seconds * FPS / 60)):
            if excerpts and rng.random() < 0.4:
                shots.append(clip_shot(*rng.choice(excerpts)))
            else:
                shots.append(still_shot(rng.choice(stills), rng))
        path = folder / f"film{number}.mkv"
        films.append((path, build_film(path, shots, rng)))
    return films


# ----------------------------------------------------------------------------------------------
# Scoring


@dataclass
class Score:
    cut_hits: int = 0
    cut_found: int = 0
    cut_true: int = 0
    gradual_hits: int = 0
    gradual_found: int = 0
    gradual_true: int = 0
    kind_right: int = 0
    false: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    windows: int = 0
    window_total: int = 0
    windows_idle: int = 0  # windows the network read with no true gradual transition in them

    def add(self, found: list[Transition], truth: list[Truth]) -> None:
        true_cuts = [t for t in truth if t.kind is TransitionKind.CUT]
        true_gradual = [t for t in truth if t.kind in GRADUAL]
        found_cuts = [t for t in found if t.kind is TransitionKind.CUT]
        found_gradual = [t for t in found if t.kind in GRADUAL]
        self.cut_true += len(true_cuts)
        self.cut_found += len(found_cuts)
        self.gradual_true += len(true_gradual)
        self.gradual_found += len(found_gradual)
        unmatched = list(true_cuts)
        for cut in found_cuts:
            hit = next(
                (t for t in unmatched if abs(t.start_frame - cut.cut_frame) <= TOLERANCE), None
            )
            if hit is not None:
                unmatched.remove(hit)
                self.cut_hits += 1
        unmatched = list(true_gradual)
        for gradual in found_gradual:
            hit = next((t for t in unmatched if _overlaps(gradual, t)), None)
            if hit is not None:
                unmatched.remove(hit)
                self.gradual_hits += 1
                self.kind_right += hit.kind is gradual.kind
        for boundary in found:
            if not any(_overlaps(boundary, t) for t in truth):
                self.false += 1

    def f1(self, hits: int, found: int, true: int) -> float:
        if hits == 0:
            return 1.0 if found == true == 0 else 0.0
        precision, recall = hits / found, hits / true
        return 2 * precision * recall / (precision + recall)


def _overlaps(found: Transition, truth: Truth) -> bool:
    return (
        found.start_frame <= truth.end_frame + TOLERANCE
        and found.end_frame >= truth.start_frame - TOLERANCE
    )


def ffmpeg_decode_seconds(path: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], check=True)
    return time.perf_counter() - started


def run_detector(path: Path, make: Callable[[float], Any]) -> tuple[list[Transition], float, Any]:
    settings = PipelineSettings()
    started = time.perf_counter()
    info = probe(path)
    detector = make(info.fps)
    for frame in decode(path, info, settings.working_size):
        detector.process(frame)
    detector.finish()
    found = detector.transitions()
    return found, time.perf_counter() - started, detector


class CheapOnly:
    """PySceneDetect's detectors as the pipeline runs them today: every boundary a cut."""

    def __init__(self, settings: ShotSettings, fps: float) -> None:
        self.detector = ShotDetector(settings, fps=fps)

    def process(self, frame: Any) -> None:
        self.detector.process(frame)

    def finish(self) -> None:
        self.shots = self.detector.finish()

    def transitions(self) -> list[Transition]:
        return [
            Transition(TransitionKind.CUT, shot.start_frame, shot.start_frame)
            for shot in self.shots[1:]
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each film")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the films here instead of a temp dir")
    args = parser.parse_args()

    import torch

    from workers.shots.transnet import TransNetV2Scorer

    torch.set_num_threads(2)
    started = time.perf_counter()
    scorer = TransNetV2Scorer(device="auto")
    load_seconds = time.perf_counter() - started
    shots = ShotSettings()
    systems: dict[str, Callable[[float], Any]] = {
        "PySceneDetect adaptive+fades (today)": lambda fps: CheapOnly(shots, fps),
        "PySceneDetect content+fades": lambda fps: CheapOnly(ShotSettings(detector="content"), fps),
        "cheap + wipe test, no network": lambda fps: TransitionDetector(
            ShotDetector(shots, fps=fps), scorer=None, fps=fps
        ),
        "TransNetV2 alone (whole film)": lambda fps: TransitionDetector(
            None, scorer=scorer, scope="film", find_wipes=False, fps=fps
        ),
        "combined, network on candidates": lambda fps: TransitionDetector(
            ShotDetector(shots, fps=fps), scorer=scorer, scope="candidates", fps=fps
        ),
        "combined, network on whole film": lambda fps: TransitionDetector(
            ShotDetector(shots, fps=fps), scorer=scorer, scope="film", fps=fps
        ),
    }
    scores = {name: Score() for name in systems}
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        films = make_films(folder, args.films, args.seconds, args.seed)
        kinds = [t.kind.value for _, truth in films for t in truth]
        print(
            f"{len(films)} films of {args.seconds:.0f} s, {SIZE[0]}x{SIZE[1]} @ {FPS} fps, H.264; "
            + ", ".join(f"{kinds.count(k.value)} {k.value}s" for k in TransitionKind)
        )
        print(f"TransNetV2 load: {load_seconds:.2f} s ({scorer.device.type}), not in the times")
        for path, truth in films:
            decode_seconds = ffmpeg_decode_seconds(path)
            for name, make in systems.items():
                found, seconds, detector = run_detector(path, make)
                score = scores[name]
                score.add(found, truth)
                score.seconds += seconds
                score.decode_seconds += decode_seconds
                if isinstance(detector, TransitionDetector) and detector.scorer is not None:
                    score.windows += detector.windows_run
                    score.window_total += -(-len(detector.metrics) // 50)
                    score.windows_idle += sum(
                        not any(
                            t.kind in GRADUAL
                            and t.end_frame >= 50 * window - 25
                            and t.start_frame < 50 * window + 75
                            for t in truth
                        )
                        for window in detector.windows_scored
                    )
    print(
        f"{'detector':<38}{'cut F1':>7}{'grad F1':>8}{'kinds':>7}{'false':>6}"
        f"{'time x':>8}{'windows':>9}{'idle':>6}"
    )
    for name, score in scores.items():
        windows = f"{score.windows}/{score.window_total}" if score.window_total else "-"
        idle = str(score.windows_idle) if score.window_total else "-"
        print(
            f"{name:<38}{score.f1(score.cut_hits, score.cut_found, score.cut_true):>7.3f}"
            f"{score.f1(score.gradual_hits, score.gradual_found, score.gradual_true):>8.3f}"
            f"{score.kind_right:>4}/{score.gradual_hits:<3}{score.false:>5}"
            f"{score.seconds / score.decode_seconds:>8.2f}{windows:>9}{idle:>6}"
        )
    print(
        "cut F1: cuts within +-2 frames; grad F1: a gradual transition of any kind overlapping a "
        "true one; kinds: of those, right kind (dissolve/fade/wipe); false: boundaries matching "
        "no true transition; time x: probe + decode + detection / `ffmpeg -i FILM -f null -`; "
        "windows: network windows run / in the films; idle: of those, windows with no true gradual "
        "transition in them"
    )


if __name__ == "__main__":
    main()
