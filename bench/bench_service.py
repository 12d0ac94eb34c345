"""Queue overhead: a batch of short generated films through the API and one Celery worker
(``hybridlens worker``, one process, both queues) vs ``hybridlens analyze`` on the same films
in one process. Prints throughput (film-seconds per wall-second) of both and their ratio
(target: the queue takes at most 1.15x the in-process time), and checks that every film is
done exactly once (no job lost, no analysis or frame duplicated).

    .venv/bin/python bench/bench_service.py [--films 50] [--seconds 3]

Needs PostgreSQL (HYBRIDLENS_TEST_PG, default postgres@127.0.0.1:5432) and Redis
(HYBRIDLENS_BENCH_REDIS, default redis://127.0.0.1:6379/14, flushed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from app.core.config import Settings  # noqa: E402
from app.core.db import session_scope  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import Analysis, Frame, Job  # noqa: E402
from app.tokens import service as tokens_service  # noqa: E402
from app.tokens.schemas import TokenCreate  # noqa: E402
from bench._service_kit import (  # noqa: E402
    HYBRIDLENS,
    REDIS_URL,
    pg_database,
    process,
    service_env,
    wait_log,
)
from tests.media import Segment, make_video  # noqa: E402

SOURCES = ("testsrc2", "smptebars", "mandelbrot", "rgbtestsrc", "testsrc")


def make_films(folder: Path, count: int, seconds: float) -> list[Path]:
    frames = max(3, round(seconds * 25 / 3))
    films = []
    for number in range(count):
        # Three shots of different sources, hue-shifted per film so every file is distinct.
        segments = [
            Segment(source=SOURCES[(number + shot) % len(SOURCES)], frames=frames,
                    extra=f"hue=h={number * 7 + shot * 40}")
            for shot in range(3)
        ]  # fmt: skip
        films.append(make_video(folder / f"film{number:03d}.mkv", segments=segments).path)
    return films


def through_queue(films: list[Path], workdir: Path) -> tuple[float, dict[str, int]]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    with pg_database("hybridlens_bench_queue") as url:
        settings = Settings(database_url=url, redis_url=REDIS_URL, data_dir=workdir / "api")
        with session_scope(url) as session:
            token = tokens_service.create_token(
                session, TokenCreate(name="bench", can_write=True)
            ).token
        env = service_env(url, workdir / "worker")
        log = workdir / "worker.log"
        command = [str(HYBRIDLENS), "worker", "--queues", "cpu,gpu", "--concurrency", "1"]
        with (
            process(command, env, log),
            TestClient(
                create_app(settings), headers={"Authorization": f"Bearer {token}"}
            ) as client,
        ):
            wait_log(log, b" ready.")
            ids = []
            for path in films:
                with path.open("rb") as handle:
                    response = client.post(
                        "/films", files={"file": (path.name, handle)}, data={"analyze": "false"}
                    )
                ids.append(response.json()["id"])
            collection = client.post("/collections", json={"name": "bench"}).json()["id"]
            client.post(f"/collections/{collection}/films", json={"film_ids": ids})
            started = time.perf_counter()
            batch = client.post(f"/collections/{collection}/analyze").json()["id"]
            while True:
                counts = client.get(f"/batches/{batch}").json()["counts"]
                if counts["queued"] == 0 and counts["running"] == 0:
                    break
                time.sleep(0.2)
            wall = time.perf_counter() - started
        with session_scope(url) as session:
            check = {
                "jobs_done": counts["done"],
                "jobs_failed": counts["failed"],
                "analyses": session.scalar(select(func.count()).select_from(Analysis)) or 0,
                "frames": session.scalar(select(func.count()).select_from(Frame)) or 0,
                "distinct_frames": session.scalar(
                    select(func.count()).select_from(
                        select(Frame.analysis_id, Frame.frame_index).distinct().subquery()
                    )
                )
                or 0,
                "max_attempts": session.scalar(select(func.max(Job.attempts))) or 0,
            }
    return wall, check


def in_this_process(films: list[Path], workdir: Path) -> float:
    """What ``hybridlens analyze`` runs, timed like the worker: model loading included,
    interpreter start and imports not (the worker's happen before its clock starts too)."""
    from workers.orchestrator import analyze_path
    from workers.stages.models import Models

    with pg_database("hybridlens_bench_loop") as url:
        settings = Settings(database_url=url, data_dir=workdir / "loop")
        started = time.perf_counter()
        models = Models.load(settings.model)
        results = [analyze_path(film, settings, models=models) for film in films]
        wall = time.perf_counter() - started
    assert all(result.ok for result in results)
    return wall


def cli(films: list[Path], workdir: Path) -> float:
    """``hybridlens analyze FILM...`` as a user runs it: its own start-up included."""
    with pg_database("hybridlens_bench_cli") as url:
        env = service_env(url, workdir / "cli")
        env.pop("HYBRIDLENS_REDIS_URL")
        started = time.perf_counter()
        subprocess.run(
            [str(HYBRIDLENS), "analyze", "--no-progress", "--db", url, *map(str, films)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hybridlens-bench-service-") as tmp:
        workdir = Path(tmp)
        films = make_films(workdir, args.films, args.seconds)
        film_seconds = args.films * 3 * max(3, round(args.seconds * 25 / 3)) / 25
        print(f"{args.films} films, {film_seconds:.0f} film-seconds in all")
        cli_wall = cli(films, workdir)
        loop_wall = in_this_process(films, workdir)
        queue_wall, check = through_queue(films, workdir)
    print(f"hybridlens analyze (CLI process): {cli_wall:7.1f} s  "
          f"{film_seconds / cli_wall:6.2f} film-s per wall-s  (start-up included)")  # fmt: skip
    print(f"same stages, in-process loop    : {loop_wall:7.1f} s  "
          f"{film_seconds / loop_wall:6.2f} film-s per wall-s")  # fmt: skip
    print(f"API + Redis + one Celery worker : {queue_wall:7.1f} s  "
          f"{film_seconds / queue_wall:6.2f} film-s per wall-s")  # fmt: skip
    print(f"queue overhead ratio            : {queue_wall / loop_wall:7.3f}  "
          f"vs the in-process loop, {queue_wall / cli_wall:.3f} vs the CLI (target <= 1.15)")  # fmt: skip
    print(f"films done {check['jobs_done']}/{args.films}, failed {check['jobs_failed']}, "
          f"analyses {check['analyses']}, frames {check['frames']} "
          f"(distinct {check['distinct_frames']}), most attempts per job {check['max_attempts']}")  # fmt: skip
    lost_or_duplicated = (
        check["jobs_done"] != args.films
        or check["analyses"] != args.films
        or check["frames"] != check["distinct_frames"]
    )
    print("none lost or duplicated" if not lost_or_duplicated else "LOST OR DUPLICATED WORK")


if __name__ == "__main__":
    main()
