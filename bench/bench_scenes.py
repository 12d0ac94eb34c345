"""Scenes and look-alikes on films of known scene structure.

    HYBRIDLENS_MODEL__CPU_THREADS=1 nice -n 10 python bench/bench_scenes.py

Each film is a run of scenes; a scene is 2-5 shots cut from one source with camera moves
(pans and zooms over crops of one still of /work/shared/data, or pieces of at most 6 s of one
continuous stretch of a clip of videos/: a stretch without a cut of its own, since a montage
clip holds several scenes), then a change of source. The films go through the real ``prepare`` and ``embed``
stages (shot detection, sampling, embeddings); then, on the same shots and frames:

- scene-boundary F1 (a boundary counts as right within one shot of the true one) for the
  scene rule on pretrained embeddings (``embedding``), on repro-VAE latents (``repro_vae``)
  and for every shot a scene (``shots``, plain PySceneDetect shots);
- precision@5 of look-alike search over the sampled frames of each film (the 5 nearest
  other frames should show the same source);
- seconds per film minute of each step.

Thresholds are chosen on tuning films (seeds 0.., even-numbered stills, two clips) and
reported on other films (seeds 100.., odd-numbered stills, the other clips).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.core.config import PipelineSettings, SceneSettings, Settings, ShotSettings
from app.core.db import session_scope, upgrade_database
from app.films import service as films_service
from app.pipeline.hashing import sha256_of_file
from app.scenes.detectors import SceneMaterial
from app.scenes.methods import embedding_shot_vectors
from app.scenes.rule import (
    ShotSpan,
    cosine_distance,
    link_distances,
    rms_distance,
    scenes_from_starts,
)
from workers.ml.repro_vae import vae_shot_vectors
from workers.orchestrator import start
from workers.stages.base import StageCall
from workers.stages.embed import embed
from workers.stages.models import model_versions
from workers.stages.prepare import prepare
from workers.stages.spool import Spool

DATA = Path("/work/shared/data")
SIZE = (320, 240)
FPS = 24
TUNING_CLIPS = ("oldfilm_002.mp4", "adain_cutBunny.mp4")
REPORT_CLIPS = ("psd_issue-195-aspect-ratio.mp4", "psd_testvideo.mp4")


@dataclass
class BuiltFilm:
    path: Path
    # Per ground-truth shot: first frame, source id; scene starts as shot indices.
    shot_starts: list[int]
    shot_sources: list[str]
    scene_starts: list[int]
    frame_count: int

    def source_at(self, frame: int) -> str:
        position = int(np.searchsorted(self.shot_starts, frame, side="right")) - 1
        return self.shot_sources[max(position, 0)]

    def shot_at(self, frame: int) -> int:
        return max(int(np.searchsorted(self.shot_starts, frame, side="right")) - 1, 0)


def _clip_frames(path: Path) -> np.ndarray:
    width, height = SIZE
    raw = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-vf",
            f"fps={FPS},scale={width}:{height},setsar=1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


def _continuous_runs(frames: np.ndarray, min_frames: int) -> list[tuple[int, int]]:
    """Stretches of a clip without a cut of its own (a montage clip is not one scene): cut
    where the mean absolute difference of small grey frames jumps."""
    small = np.stack(
        [
            cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), (32, 24)).astype(np.float32)
            for f in frames
        ]
    )
    jumps = np.abs(np.diff(small, axis=0)).mean(axis=(1, 2))
    cuts = [0, *(int(i) + 1 for i in np.flatnonzero(jumps > 20.0)), len(frames)]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b - a >= min_frames]


def _still_shot(still: np.ndarray, frames: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A camera move over one still: a crop window panning or zooming linearly."""
    height, width = still.shape[:2]
    aspect = SIZE[0] / SIZE[1]

    def window(scale: float) -> tuple[float, float]:
        crop_w = min(width, height * aspect) * scale
        return crop_w, crop_w / aspect

    scale_a, scale_b = rng.uniform(0.5, 0.95), rng.uniform(0.5, 0.95)
    if rng.random() < 0.5:  # a pan at one scale
        scale_b = scale_a
    w_a, h_a = window(scale_a)
    w_b, h_b = window(scale_b)
    x_a, y_a = rng.uniform(0, width - w_a), rng.uniform(0, height - h_a)
    x_b, y_b = rng.uniform(0, width - w_b), rng.uniform(0, height - h_b)
    out = []
    for step in range(frames):
        t = step / max(frames - 1, 1)
        w, h = w_a + (w_b - w_a) * t, h_a + (h_b - h_a) * t
        x, y = x_a + (x_b - x_a) * t, y_a + (y_b - y_a) * t
        crop = still[int(y) : int(y + h), int(x) : int(x + w)]
        out.append(cv2.resize(crop, SIZE, interpolation=cv2.INTER_AREA))
    return out


def build_film(
    path: Path,
    seed: int,
    stills: Sequence[Path],
    clips: dict[str, tuple[np.ndarray, list[tuple[int, int]]]],
    scenes: int,
) -> BuiltFilm:
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    shot_starts: list[int] = []
    shot_sources: list[str] = []
    scene_starts: list[int] = []
    used: set[str] = set()
    for _ in range(scenes):
        scene_starts.append(len(shot_starts))
        shots = int(rng.integers(2, 6))
        runs = [(name, run) for name in sorted(clips) for run in clips[name][1]]
        if runs and rng.random() < 0.25:
            name, (first, last) = runs[int(rng.integers(0, len(runs)))]
            clip = clips[name][0]
            source = f"clip:{name}:{first}"
            # Pieces of 1-2 s from a window of at most 6 s of one continuous stretch (the
            # pieces of a take a scene is cut from; farther apart, a moving camera may show
            # another place altogether).
            window = min(last - first, 6 * FPS)
            first = int(rng.integers(first, last - window + 1))
            last = first + window
            for _ in range(shots):
                length = int(rng.integers(FPS, 2 * FPS))
                offset = int(rng.integers(first, max(first + 1, last - length)))
                shot_starts.append(len(frames))
                shot_sources.append(source)
                frames.extend(clip[offset : min(offset + length, last)])
            continue
        while True:
            still_path = stills[int(rng.integers(0, len(stills)))]
            if still_path.name not in used:
                used.add(still_path.name)
                break
        still = cv2.cvtColor(cv2.imread(str(still_path)), cv2.COLOR_BGR2RGB)
        for _ in range(shots):
            length = int(rng.integers(int(1.5 * FPS), 4 * FPS))
            shot_starts.append(len(frames))
            shot_sources.append(f"still:{still_path.name}")
            frames.extend(_still_shot(still, length, rng))
    width, height = SIZE
    encoder = subprocess.Popen(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(FPS),
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        stdin=subprocess.PIPE,
    )
    assert encoder.stdin is not None
    for frame in frames:
        encoder.stdin.write(np.ascontiguousarray(frame).tobytes())
    encoder.stdin.close()
    encoder.wait()
    return BuiltFilm(path, shot_starts, shot_sources, scene_starts, len(frames))


@dataclass
class Prepared:
    film: BuiltFilm
    material: SceneMaterial
    frame_indices: list[int]
    prepare_s: float
    embed_s: float
    minutes: float


def prepare_film(film: BuiltFilm, settings: Settings) -> Prepared:
    with session_scope(settings.sqlalchemy_url) as session:
        film_id = films_service.register_film(
            session, film.path, sha256_of_file(film.path)[0]
        ).film_id
    analysis_id = start(film_id, settings=settings, versions=model_versions(settings.model))
    mark = time.perf_counter()
    assert prepare(analysis_id, StageCall(settings)).proceed
    prepare_s = time.perf_counter() - mark
    mark = time.perf_counter()
    assert embed(analysis_id, StageCall(settings)).proceed
    embed_s = time.perf_counter() - mark
    spool = Spool(settings.data_dir, analysis_id)
    manifest = spool.read_manifest()
    vectors, _ = spool.read_embeddings()
    images = [image for chunk in range(manifest.chunk_count) for image in spool.read_frames(chunk)]
    material = SceneMaterial(
        shots=[
            ShotSpan(s.index, s.start_frame, s.end_frame, s.start_time, s.end_time)
            for s in manifest.shots
        ],
        frame_shots=[frame.shot_index for frame in manifest.frames],
        embeddings=vectors.astype(np.float32),
        images=lambda: iter(images),
    )
    spool.remove()
    return Prepared(
        film,
        material,
        [frame.frame_index for frame in manifest.frames],
        prepare_s,
        embed_s,
        film.frame_count / FPS / 60,
    )


def boundary_f1(
    film: BuiltFilm, material: SceneMaterial, starts: Sequence[int]
) -> tuple[int, int, int]:
    """(true positives, detected, true) with a boundary right within one shot."""
    scenes = scenes_from_starts(material.shots, starts)
    detected = [film.shot_at(scene.start_frame) for scene in scenes[1:]]
    truth = list(film.scene_starts[1:])
    matched = 0
    free = list(truth)
    for shot in detected:
        near = [t for t in free if abs(t - shot) <= 1]
        if near:
            free.remove(min(near, key=lambda t: abs(t - shot)))
            matched += 1
    return matched, len(detected), len(truth)


def f1(counts: Sequence[tuple[int, int, int]]) -> float:
    tp = sum(c[0] for c in counts)
    detected = sum(c[1] for c in counts)
    truth = sum(c[2] for c in counts)
    precision = tp / detected if detected else 0.0
    recall = tp / truth if truth else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def precision_at_5(prepared: Prepared) -> tuple[int, int]:
    vectors = prepared.material.embeddings
    labels = [prepared.film.source_at(frame) for frame in prepared.frame_indices]
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -9.0)
    hits = total = 0
    for row, label in enumerate(labels):
        top = np.argsort(-similarity[row])[:5]
        hits += sum(labels[other] == label for other in top)
        total += len(top)
    return hits, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tuning-films", type=int, default=4)
    parser.add_argument("--report-films", type=int, default=6)
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--detector", default="adaptive", help="shot detector")
    parser.add_argument("--vae-steps", type=int, default=SceneSettings().vae_steps)
    args = parser.parse_args()
    stills = sorted(
        path
        for folder in ("photographic", "nonphotographic", "hybrid")
        for path in (DATA / folder).glob("*.jpg")
    )
    work = Path(tempfile.mkdtemp(prefix="bench_scenes_"))
    settings = Settings(
        database_url=f"sqlite:///{work / 'bench.sqlite3'}",
        data_dir=work / "data",
        pipeline=PipelineSettings(shots=ShotSettings(detector=args.detector)),
    )
    upgrade_database(settings.sqlalchemy_url)
    scene_settings = SceneSettings(vae_steps=args.vae_steps)
    groups = {
        "tuning": (range(args.tuning_films), stills[0::2], TUNING_CLIPS),
        "report": (range(100, 100 + args.report_films), stills[1::2], REPORT_CLIPS),
    }
    vectors: dict[str, list[tuple[Prepared, dict[str, list[np.ndarray | None]]]]] = {}
    timings: dict[str, float] = {"minutes": 0.0, "prepare_s": 0.0, "embed_s": 0.0, "vae_s": 0.0}
    for group, (seeds, pool, clip_names) in groups.items():
        clips = {}
        for name in clip_names:
            frames = _clip_frames(DATA / "videos" / name)
            clips[name] = (frames, _continuous_runs(frames, 3 * FPS))
        vectors[group] = []
        for seed in seeds:
            film = build_film(work / f"{group}-{seed}.mp4", seed, pool, clips, args.scenes)
            prepared = prepare_film(film, settings)
            mark = time.perf_counter()
            vae_vectors, _ = vae_shot_vectors(scene_settings, prepared.material)
            vae_s = time.perf_counter() - mark
            timings["minutes"] += prepared.minutes
            timings["prepare_s"] += prepared.prepare_s
            timings["embed_s"] += prepared.embed_s
            timings["vae_s"] += vae_s
            shots = {
                "embedding": embedding_shot_vectors(prepared.material),
                "repro_vae": vae_vectors,
            }
            vectors[group].append((prepared, shots))
            print(
                f"{group} film {seed}: {prepared.minutes * 60:.0f} s, "
                f"{len(film.shot_starts)} true shots, {len(prepared.material.shots)} found, "
                f"{len(film.scene_starts)} scenes; vae {vae_s:.1f} s",
                flush=True,
            )
    distance = {"embedding": cosine_distance, "repro_vae": rms_distance}
    grids = {
        "embedding": np.round(np.arange(0.02, 0.9, 0.01), 3),
        "repro_vae": np.round(np.arange(0.1, 3.0, 0.05), 3),
    }

    def score(group: str, method: str, threshold: float) -> float:
        counts = []
        for prepared, shots in vectors[group]:
            starts, _ = link_distances(
                shots[method], distance[method], threshold, scene_settings.window
            )
            counts.append(boundary_f1(prepared.film, prepared.material, starts))
        return f1(counts)

    print("\nscene-boundary F1 (right within one shot); threshold chosen on the tuning films")
    for method in ("embedding", "repro_vae"):
        tuned = [(score("tuning", method, float(t)), float(t)) for t in grids[method]]
        best_f1 = max(value for value, _ in tuned)
        # The middle of the thresholds that reach the best tuning F1: the widest margin.
        plateau = [t for value, t in tuned if value >= best_f1 - 1e-9]
        best_t = plateau[len(plateau) // 2]
        print(
            f"  {method:10s} threshold {best_t:.3f} (best from {plateau[0]:.3f} to "
            f"{plateau[-1]:.3f}): tuning F1 {best_f1:.3f}, "
            f"report F1 {score('report', method, best_t):.3f}"
        )
    shipped = scene_settings.embedding_threshold
    print(f"  embedding  at the shipped threshold {shipped:.3f}: tuning F1 "
          f"{score('tuning', 'embedding', shipped):.3f}, report F1 "
          f"{score('report', 'embedding', shipped):.3f}")  # fmt: skip
    baseline = [
        boundary_f1(p.film, p.material, list(range(1, len(p.material.shots))))
        for p, _ in vectors["report"]
    ]
    print(f"  shots      (every shot a scene): report F1 {f1(baseline):.3f}")
    hits = total = 0
    for prepared, _ in vectors["report"]:
        h, t = precision_at_5(prepared)
        hits, total = hits + h, total + t
    print(f"\nlook-alike precision@5 over each report film's sampled frames: {hits / total:.3f}")
    minutes = timings["minutes"]
    print(
        f"\nper film minute ({minutes:.1f} min in all): prepare (decode, shots, sampling) "
        f"{timings['prepare_s'] / minutes:.1f} s, embed {timings['embed_s'] / minutes:.1f} s, "
        f"repro-VAE training + latents {timings['vae_s'] / minutes:.1f} s"
    )


if __name__ == "__main__":
    main()
