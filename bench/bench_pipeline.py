"""Pipeline benchmark: the whole ``hybridlens analyze`` process against PySceneDetect's CLI on
the same films, speed, time per stage, peak memory for a short and a long film, and
frame-class accuracy on a film cut from labelled stills with known truth.

Every analysis runs in a process of its own (fresh data dir and SQLite file): the speed films
through the ``hybridlens analyze`` command itself, start, imports, model loading and database
check included, so peak RSS is that film's alone. Printed, not asserted; the background load
of this machine moves the figures, so both tools run in the same run, scenedetect just before
and just after the analysis, and the ratio is against the mean of those two.

Run: ``.venv/bin/python bench/bench_pipeline.py [--minutes 2 20] [--size 640x360] [--source DIR]
[--truth-stills 60] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import Segment, make_video  # noqa: E402

FPS = 25.0
# Whole process / scenedetect: at most 2.0 on a 2-minute film, 1.5 on a 20-minute one.
TARGET_RATIOS = {2.0: 2.0, 20.0: 1.5}
# The stages alone (models already loaded) / scenedetect.
STAGES_TARGET_RATIO = 2.5
# Distinct looks for shots (neighbours never share one, so every join is a visible cut).
LOOKS = [
    Segment(source="testsrc2"),
    Segment(source="testsrc2", extra="hue=h=140,vflip"),
    Segment(source="smptebars"),
    Segment(source="smptebars", extra="negate"),
    Segment(source="rgbtestsrc"),
    Segment(source="color", color="navy", noise=25),
    Segment(source="color", color="darkorange", noise=25),
    Segment(source="color", color="seagreen", noise=25),
    Segment(source="cellauto", extra="scale=iw:ih"),
]


# ----------------------------------------------------------------------------------------------
# Films


def make_long_film(path: Path, minutes: float, size: tuple[int, int], work: Path) -> Path:
    """A film of ``minutes`` made of one 2-minute reel of 2-8 s shots, repeated (stream copy):
    generating 20 minutes of lavfi shots directly would take longer than analysing them."""
    if path.exists():
        return path
    reel = work / f"reel-{size[0]}x{size[1]}.mkv"
    if not reel.exists():
        rng = random.Random(0)
        segments, frames, previous = [], 0, -1
        while frames < 120 * FPS:
            look = rng.choice([i for i in range(len(LOOKS)) if i != previous])
            count = rng.randint(int(2 * FPS), int(8 * FPS))
            segments.append(Segment(**{**LOOKS[look].__dict__, "frames": count}))
            frames, previous = frames + count, look
        make_video(reel, fps=FPS, size=size, segments=segments)
    copies = max(1, round(minutes / 2))
    listing = work / f"list-{copies}.txt"
    listing.write_text("".join(f"file '{reel}'\n" for _ in range(copies)))
    _run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
          "-i", str(listing), "-c", "copy", str(path)])  # fmt: skip
    return path


def make_truth_film(path: Path, stills: int, hold_s: float, data: Path) -> list[dict[str, Any]]:
    """A film of validation-split stills (P, NP, and exact-mask composites of both), each held
    ``hold_s`` seconds; returns the truth of each still in order."""
    from app.core.config import ClassThresholds
    from workers.ml.composites import homogeneous, make_composite
    from workers.ml.data import load_splits

    splits = load_splits(data, ROOT / "runs" / "cache")
    rng = np.random.default_rng(0)
    height, width = 360, 480
    thresholds = ClassThresholds()
    truth: list[dict[str, Any]] = []
    hold = round(hold_s * FPS)
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{width}x{height}", "-r", str(FPS), "-i", "pipe:0", "-c:v", "libx264",
               "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", str(path)]  # fmt: skip
    encoder = subprocess.Popen(command, stdin=subprocess.PIPE)
    assert encoder.stdin is not None
    for number in range(stills):
        kind = ("P", "NP", "composite")[number % 3]
        p_img = splits.val_p.images[int(rng.integers(len(splits.val_p)))]
        np_img = splits.val_np.images[int(rng.integers(len(splits.val_np)))]
        if kind == "composite":
            sample = make_composite(p_img, np_img, height=height, width=width, rng=rng)
        else:
            source = p_img if kind == "P" else np_img
            sample = homogeneous(source, kind == "P", height=height, width=width, rng=rng)
        p_fraction = float(sample.p_mask.mean())
        truth.append(
            {
                "kind": kind,
                "style": sample.style,
                "p_fraction": p_fraction,
                "class": thresholds.classify(p_fraction).value,
                "start_frame": number * hold,
            }
        )
        frame = np.ascontiguousarray(sample.image, dtype=np.uint8).tobytes()
        for _ in range(hold):
            encoder.stdin.write(frame)
    encoder.stdin.close()
    if encoder.wait() != 0:
        raise RuntimeError("ffmpeg could not encode the truth film")
    return truth


# ----------------------------------------------------------------------------------------------
# Measurements


def child_analyze(film: Path, data_dir: Path, truth_path: Path | None) -> None:
    """In a fresh process: analyse ``film`` the way ``hybridlens analyze`` does; print JSON."""
    started = time.perf_counter()
    from app.analysis import service as analysis_service
    from app.core.config import Settings
    from app.core.db import session_scope
    from workers.orchestrator import analyze_path
    from workers.stages.models import Models

    settings = Settings(data_dir=data_dir)
    models = Models.load(settings.model)
    ready = time.perf_counter()
    result = analyze_path(film, settings, models=models)
    done = time.perf_counter()
    with session_scope(settings.sqlalchemy_url) as session:
        report = analysis_service.get_film_report(session, result.film_id or 0)
    assert report.analysis is not None
    figures: dict[str, Any] = {
        "status": result.status.value,
        "error": result.error,
        "startup_s": ready - started,
        "analyze_s": done - ready,
        "timings": report.analysis.timings,
        "summary": report.analysis.summary,
        # This process only: RUSAGE_CHILDREN would count the pages each ffmpeg child shared
        # with us between fork and exec (ffmpeg itself peaks at ~70 MB on these films).
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if truth_path is not None:
        truth = json.loads(truth_path.read_text())
        starts = [still["start_frame"] for still in truth]
        hits, p_errors = 0, []
        for frame in report.frames:
            still = truth[max(0, np.searchsorted(starts, frame.frame_index, side="right") - 1)]
            hits += frame.frame_class.value == still["class"]
            p_errors.append(abs(frame.p_fraction - still["p_fraction"]))
        true_ratio = sum(still["class"] == "hybrid" for still in truth) / len(truth)
        found = [shot.start_frame for shot in report.shots[1:]]
        matched = sum(any(abs(f - c) <= 2 for f in found) for c in starts[1:])
        figures["truth"] = {
            "frames": len(report.frames),
            "accuracy": hits / max(1, len(report.frames)),
            "p_fraction_mae": float(np.mean(p_errors)) if p_errors else None,
            "true_hybrid_ratio": true_ratio,
            "hybrid_ratio": (report.analysis.summary or {}).get("hybrid_ratio"),
            "adjusted_hybrid_ratio": (report.analysis.summary or {}).get("adjusted_hybrid_ratio"),
            "hybrid_ratio_range": (report.analysis.summary or {}).get("hybrid_ratio_range"),
            "cut_recall": matched / max(1, len(starts) - 1),
            "cut_precision": sum(any(abs(f - c) <= 2 for c in starts[1:]) for f in found)
            / max(1, len(found)),
        }
    print(json.dumps(figures))


def analyze_in_subprocess(film: Path, work: Path, truth: Path | None = None) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(dir=work, prefix="data-"))
    command = [sys.executable, __file__, "--child", str(film), "--data-dir", str(data_dir)]
    if truth is not None:
        command += ["--truth", str(truth)]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall_s = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"analysis of {film} failed:\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["process_s"] = wall_s
    shutil.rmtree(data_dir, ignore_errors=True)
    return figures


def analyze_with_cli(film: Path, work: Path, source: Path = ROOT) -> dict[str, Any]:
    """``hybridlens analyze --json FILM`` in a fresh data dir, run from the checkout ``source``:
    its wall time and peak RSS, and the stage timings and summary it stored."""
    data_dir = Path(tempfile.mkdtemp(dir=work, prefix="data-"))
    environment = {**os.environ, "HYBRIDLENS_DATA_DIR": str(data_dir)}
    environment.pop("HYBRIDLENS_DATABASE_URL", None)
    command = [sys.executable, "-m", "hybridlens", "analyze", "--json", "--no-progress", str(film)]
    out, err = data_dir / "stdout.json", data_dir / "stderr.txt"
    with out.open("w") as stdout_file, err.open("w") as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=stdout_file, stderr=stderr_file, env=environment, cwd=source
        )
        # wait4: this child's own peak RSS (ffmpeg's ~70 MB stays below it), not the
        # largest of every child so far as RUSAGE_CHILDREN would give.
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    rss_mb = usage.ru_maxrss / 1024
    # CPU time of the process and the children it waited for (ffmpeg, ffprobe).
    cpu_s = usage.ru_utime + usage.ru_stime
    if process.returncode != 0:
        raise RuntimeError(f"hybridlens analyze {film} failed:\n{err.read_text()[-3000:]}")
    stdout = out.read_text()
    document = json.loads(stdout.strip().splitlines()[-1])
    # Read with plain SQL, not the ORM: an older --source checkout has an older schema.
    with contextlib.closing(sqlite3.connect(data_dir / "hybridlens.sqlite3")) as connection:
        status, timings, summary = connection.execute(
            "SELECT status, timings, summary FROM analyses WHERE film_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (document["film"]["id"],),
        ).fetchone()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "status": status,
        "process_s": wall_s,
        "timings": json.loads(timings or "{}"),
        "summary": json.loads(summary or "{}"),
        "rss_mb": rss_mb,
        "cpu_s": cpu_s,
    }


def scenedetect_cli_s(film: Path) -> tuple[float, float]:
    """Wall and CPU time of ``scenedetect -i FILM detect-adaptive`` (its default backend, no
    output)."""
    binary = Path(sys.executable).with_name("scenedetect")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    _run([str(binary), "-q", "-i", str(film), "detect-adaptive"])
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall_s, cpu_s


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")


# ----------------------------------------------------------------------------------------------
# Report


STAGE_KEYS = ("decode_s", "shots_s", "sampling_s", "spool_s", "prepare_s", "classify_s",
              "segment_s", "masks_s", "infer_s", "embed_s", "scenes_s", "store_s",
              "finish_s")  # fmt: skip


def report_speed(film: Path, minutes: float, source: Path) -> None:
    work = film.parent
    before_s, before_cpu_s = scenedetect_cli_s(film)
    figures = analyze_with_cli(film, work, source)
    after_s, after_cpu_s = scenedetect_cli_s(film)
    scenedetect_s = (before_s + after_s) / 2
    scenedetect_cpu_s = (before_cpu_s + after_cpu_s) / 2
    summary, timings = figures["summary"], figures["timings"]
    duration_s = summary.get("duration_s") or minutes * 60
    stages_s = timings.get("total_s", 0.0)
    process_ratio = figures["process_s"] / scenedetect_s
    print(f"\n== {minutes:g}-minute film ({film.name}, {duration_s:.0f} s) ==")
    print(f"status {figures['status']}; {summary.get('sampled_frames')} frames sampled, "
          f"{summary.get('segmented_frames')} segmented, {summary.get('shot_count')} shots")  # fmt: skip
    print(f"hybridlens analyze, whole process {figures['process_s']:7.1f} s   "
          f"{duration_s / figures['process_s']:6.1f} film-s per wall-s")  # fmt: skip
    print(f"  of which the stages             {stages_s:7.1f} s   (the rest: start, imports, "
          f"database check, hashing, registration, waiting for models)")  # fmt: skip
    print(f"scenedetect detect-adaptive        {scenedetect_s:7.1f} s   "
          f"(before {before_s:.1f}, after {after_s:.1f})")  # fmt: skip
    target = TARGET_RATIOS.get(minutes)
    verdict = "" if target is None else (
        f" (target <= {target}: {'met' if process_ratio <= target else 'MISSED'})")  # fmt: skip
    print(f"ratio whole process / scenedetect {process_ratio:5.2f}{verdict}")
    stages_ratio = stages_s / scenedetect_s
    print(f"ratio stages / scenedetect        {stages_ratio:5.2f} (target <= "
          f"{STAGES_TARGET_RATIO}: {'met' if stages_ratio <= STAGES_TARGET_RATIO else 'MISSED'})")  # fmt: skip
    print(
        "per stage: " + ", ".join(f"{k[:-2]} {timings[k]:.1f}" for k in STAGE_KEYS if k in timings)
    )
    print(f"peak RSS {figures['rss_mb']:.0f} MB (the analysing process, models included)")
    # CPU seconds move less with the machine's other work than wall time does (on a shared
    # machine the two tools get different shares of its cores: scenedetect uses about one).
    print(f"CPU time (user + sys, children included): hybridlens {figures['cpu_s']:.1f} s, "
          f"scenedetect {scenedetect_cpu_s:.1f} s, ratio "
          f"{figures['cpu_s'] / scenedetect_cpu_s:.2f}; load average "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip


def report_truth(film: Path, truth_path: Path, work: Path) -> None:
    figures = analyze_in_subprocess(film, work, truth_path)
    truth = figures["truth"]
    print(f"\n== truth film ({film.name}: {len(json.loads(truth_path.read_text()))} stills) ==")
    print(f"frame-class accuracy     {truth['accuracy']:.3f} over {truth['frames']} sampled frames")
    print(f"hybrid ratio             {truth['hybrid_ratio']:.3f} found, "
          f"{truth['true_hybrid_ratio']:.3f} true: abs error "
          f"{abs(truth['hybrid_ratio'] - truth['true_hybrid_ratio']):.3f}")  # fmt: skip
    adjusted = truth.get("adjusted_hybrid_ratio")
    if adjusted is not None:
        print(f"adjusted hybrid ratio    {adjusted:.3f} found, "
              f"{truth['true_hybrid_ratio']:.3f} true: abs error "
              f"{abs(adjusted - truth['true_hybrid_ratio']):.3f}")  # fmt: skip
    span = truth.get("hybrid_ratio_range")
    if span:
        held = "holds" if span[0] <= truth["true_hybrid_ratio"] <= span[1] else "misses"
        print(f"90% range                {span[0]:.3f} to {span[1]:.3f}: {held} the true ratio")
    print(f"P fraction MAE           {truth['p_fraction_mae']:.3f}")
    print(f"cuts within 2 frames     recall {truth['cut_recall']:.3f}, "
          f"precision {truth['cut_precision']:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, nargs="*", default=[2.0, 20.0])
    parser.add_argument("--size", default="640x360", help="Picture size of the speed films.")
    parser.add_argument("--truth-stills", type=int, default=60)
    parser.add_argument("--hold-s", type=float, default=2.0)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the films in this folder.")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="Run `hybridlens analyze` from this checkout (e.g. `git archive` of an older "
        "commit, to compare in one run).",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_analyze(args.child, args.data_dir, args.truth)
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    try:
        for minutes in args.minutes:
            film = work / f"film-{minutes:g}min-{width}x{height}.mkv"
            started = time.perf_counter()
            make_long_film(film, minutes, (width, height), work)
            print(f"(made {film.name} in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
            report_speed(film, minutes, args.source)
        if args.truth_stills:
            film = work / f"truth-{args.truth_stills}.mkv"
            truth_path = work / f"truth-{args.truth_stills}.json"
            if not (film.exists() and truth_path.exists()):
                truth = make_truth_film(film, args.truth_stills, args.hold_s, args.data)
                truth_path.write_text(json.dumps(truth))
            report_truth(film, truth_path, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
