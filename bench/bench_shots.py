"""Shot-boundary benchmark: F1 (within +-2 frames) of our detector, fed by the pipeline's one
decode, beside PySceneDetect's default on the same generated films, and the wall time of our
decode + detection against PySceneDetect's CLI (``scenedetect -i FILM detect-adaptive``).
The third film is the first desaturated: a black-and-white print of the same cuts.

Run: ``.venv/bin/python bench/bench_shots.py [--seconds 60] [--size 640x360] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import scenedetect
from scenedetect.detectors import AdaptiveDetector

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.config import PipelineSettings
from app.pipeline.shots import ShotDetector
from app.pipeline.video import decode, probe
from tests.media import GeneratedVideo, Segment, make_video

TOLERANCE_FRAMES = 2
FPS = 25.0
# Distinct looks for shots; neighbours never share one, so every join is a visible cut.
LOOKS = [
    Segment(source="testsrc2"),
    Segment(source="testsrc2", extra="hue=h=140,vflip"),
    Segment(source="smptebars"),
    Segment(source="smptebars", extra="negate"),
    Segment(source="mandelbrot"),
    Segment(source="rgbtestsrc"),
    Segment(source="color", color="navy", noise=25),
    Segment(source="color", color="darkorange", noise=25),
    Segment(source="color", color="seagreen", noise=25),
    Segment(source="cellauto", extra="scale=iw:ih"),
]


def build_segments(seconds: float, *, transitions: bool, seed: int) -> list[Segment]:
    """Shots of 20-70 frames (PySceneDetect's default minimum shot is 15) until ``seconds``;
    with ``transitions``, a third of the joins fade through black and a third dissolve."""
    rng = random.Random(seed)
    segments: list[Segment] = []
    total = 0
    previous = -1
    while total < seconds * FPS:
        look = rng.choice([i for i in range(len(LOOKS)) if i != previous])
        previous = look
        frames = rng.randint(20, 70)
        segment = Segment(**{**LOOKS[look].__dict__, "frames": frames})
        if transitions and segments:
            kind = rng.choice(["cut", "fade", "dissolve"])
            if kind == "fade":
                last = segments[-1]
                segments[-1] = Segment(**{**last.__dict__, "fade_out_frames": 8})
                segment = Segment(**{**segment.__dict__, "fade_in_frames": 8})
            elif kind == "dissolve":
                segment = Segment(**{**segment.__dict__, "dissolve_frames": 12})
        segments.append(segment)
        total += frames
    return segments


def desaturated(segment: Segment) -> Segment:
    extra = ",".join(part for part in (segment.extra, "hue=s=0") if part)
    return Segment(**{**segment.__dict__, "extra": extra})


def f1(found: list[int], truth: list[int], tolerance: int = TOLERANCE_FRAMES) -> float:
    unmatched = sorted(truth)
    hits = 0
    for cut in sorted(found):
        match = next((t for t in unmatched if abs(t - cut) <= tolerance), None)
        if match is not None:
            unmatched.remove(match)
            hits += 1
    if hits == 0:
        return 1.0 if not found and not truth else 0.0
    precision, recall = hits / len(found), hits / len(truth)
    return 2 * precision * recall / (precision + recall)


def ours(film: GeneratedVideo) -> tuple[list[int], float]:
    settings = PipelineSettings()
    started = time.perf_counter()
    info = probe(film.path)
    detector = ShotDetector(settings.shots, fps=info.fps)
    for frame in decode(film.path, info, settings.working_size):
        detector.process(frame)
    shots = detector.finish()
    return [shot.start_frame for shot in shots[1:]], time.perf_counter() - started


def pyscenedetect_api(film: GeneratedVideo) -> list[int]:
    scenes = scenedetect.detect(str(film.path), AdaptiveDetector())
    return [start.frame_num for start, _end in scenes[1:]]


def pyscenedetect_cli_seconds(film: GeneratedVideo) -> float:
    executable = shutil.which("scenedetect") or str(Path(sys.executable).parent / "scenedetect")
    started = time.perf_counter()
    subprocess.run(
        [executable, "-q", "-i", str(film.path), "detect-adaptive"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each film")
    parser.add_argument("--size", default="640x360", help="film picture size WxH")
    parser.add_argument("--keep", type=Path, help="write the films here instead of a temp dir")
    args = parser.parse_args()
    width, height = (int(part) for part in args.size.split("x"))

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"films: {args.seconds:.0f} s each, {width}x{height} @ {FPS:g} fps, H.264 in mkv")
        print(f"{'film':<22}{'cuts':>6}{'F1 ours':>10}{'F1 PySD':>10}"
              f"{'ours s':>9}{'CLI s':>8}{'ratio':>7}{'film s/s':>10}")  # fmt: skip
        for name, transitions, seed, grey in (
            ("hard cuts", False, 1, False),
            ("cuts+fades+dissolves", True, 2, False),
            ("hard cuts, b/w", False, 1, True),
        ):
            segments = build_segments(args.seconds, transitions=transitions, seed=seed)
            if grey:  # the same film desaturated, as a black-and-white print
                segments = [desaturated(segment) for segment in segments]
            film = make_video(
                folder / f"{name.replace(' ', '_').replace('+', '_').replace('/', '')}.mkv",
                fps=FPS,
                size=(width, height),
                segments=segments,
            )
            found, our_seconds = ours(film)
            baseline = pyscenedetect_api(film)
            cli_seconds = pyscenedetect_cli_seconds(film)
            film_seconds = film.frame_count / FPS
            print(
                f"{name:<22}{len(film.cut_frames):>6}{f1(found, film.cut_frames):>10.3f}"
                f"{f1(baseline, film.cut_frames):>10.3f}{our_seconds:>9.2f}{cli_seconds:>8.2f}"
                f"{our_seconds / cli_seconds:>7.2f}{film_seconds / our_seconds:>10.1f}"
            )
    print(
        "ratio = our probe + decode + shot detection wall time / "
        "`scenedetect -i FILM detect-adaptive` wall time"
    )


if __name__ == "__main__":
    main()
