"""Query latency over HTTP with 1,000 films x 500 frames in PostgreSQL: p50 and p99 of the
film query (``GET /films?min_hybrid_ratio=0.2&sort=-hybrid_ratio&collection=...``) and of the
collection statistics endpoint (target: p99 < 50 ms), through a real ``hybridlens serve``.

    .venv/bin/python bench/bench_query.py [--films 1000] [--frames 500] [--requests 400]

The film query filters and sorts on the summary columns cached on ``films`` (indexed:
hybrid_ratio, p/np time shares, hybrid shot count, year, created_at), and the collection
filter is an EXISTS on ``collection_films`` (primary key collection_id, film_id); frames are
never touched. The plans are printed too.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402

from app.core.db import session_scope  # noqa: E402
from app.tokens import service as tokens_service  # noqa: E402
from app.tokens.schemas import TokenCreate  # noqa: E402
from bench._service_kit import (  # noqa: E402
    HYBRIDLENS,
    free_port,
    percentile,
    pg_database,
    process,
    service_env,
    wait_http,
)

COLLECTIONS = 10


def populate(url: str, films: int, frames: int, seed: int = 0) -> list[int]:
    """Films with cached figures, one finished analysis each with ``frames`` frames, in ten
    collections of films[i::10] plus one holding every film. Returns the collection ids."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:
        for number in range(films):
            hybrid = rng.betavariate(1.2, 4.0)
            p_share = (1.0 - hybrid) * rng.random()
            cursor.execute(
                "INSERT INTO films (sha256, original_filename, stored_path, size_bytes, probe,"
                " duration_s, fps, width, height, frame_count, has_audio, title, year, extra,"
                " created_at, hybrid_ratio, p_time_share, np_time_share, hybrid_time_share,"
                " mean_p_fraction, hybrid_shot_count) VALUES (%s, %s, %s, %s, '{}', %s, 25,"
                " 720, 576, %s, false, %s, %s, '{}', %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    hashlib.sha256(f"film {number}".encode()).hexdigest(),
                    f"film-{number}.mkv",
                    f"/archive/film-{number}.mkv",
                    10**9,
                    frames * 1.0,
                    frames * 25,
                    f"Film {number}",
                    rng.randint(1900, 2020),
                    now,
                    hybrid,
                    p_share,
                    1.0 - hybrid - p_share,
                    hybrid,
                    rng.random(),
                    rng.randint(0, 40),
                ),
            )
            film_id = cursor.fetchone()[0]  # type: ignore[index]
            cursor.execute(
                "INSERT INTO analyses (film_id, classifier_version, segmenter_version, settings,"
                " settings_hash, status, progress, created_at, finished_at, summary)"
                " VALUES (%s, 'bench', 'bench', '{}', 'bench', 'done', 1.0, %s, %s, '{}')"
                " RETURNING id",
                (film_id, now, now),
            )
            analysis_id = cursor.fetchone()[0]  # type: ignore[index]
            cursor.execute(
                "UPDATE films SET last_analysis_id = %s WHERE id = %s", (analysis_id, film_id)
            )
            buffer = io.StringIO()
            for frame in range(frames):
                p_fraction = rng.random()
                frame_class = "P" if p_fraction > 0.92 else "NP" if p_fraction < 0.08 else "hybrid"
                grid = json.dumps([[round(1 - p_fraction, 3)] * 4] * 4)
                buffer.write(
                    f"{analysis_id}\t{frame // 25}\t{frame * 25}\t{frame * 1.0}\t{frame_class}\t"
                    f"{p_fraction:.4f}\t0.9\t1.0\t{grid}\n"
                )
            buffer.seek(0)
            with cursor.copy(
                "COPY frames (analysis_id, shot_index, frame_index, time_s, frame_class,"
                " p_fraction, confidence, weight_s, np_grid) FROM STDIN"
            ) as copy:
                copy.write(buffer.read())
        collection_ids = []
        for number in range(COLLECTIONS + 1):
            name = "everything" if number == COLLECTIONS else f"collection {number}"
            cursor.execute(
                "INSERT INTO collections (name, created_at) VALUES (%s, %s) RETURNING id",
                (name, now),
            )
            collection_id = cursor.fetchone()[0]  # type: ignore[index]
            collection_ids.append(collection_id)
            members = "" if number == COLLECTIONS else f" WHERE id %% {COLLECTIONS} = {number}"
            cursor.execute(
                "INSERT INTO collection_films (collection_id, film_id, added_at)"
                f" SELECT %s, id, %s FROM films{members}",
                (collection_id, now),
            )
        connection.commit()
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return collection_ids


def explain(url: str, collection_id: int) -> str:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as connection:
        rows = connection.execute(
            "EXPLAIN ANALYZE SELECT * FROM films WHERE hybrid_ratio >= 0.2 AND EXISTS"
            " (SELECT 1 FROM collection_films WHERE collection_films.film_id = films.id AND"
            f" collection_films.collection_id IN ({collection_id}))"
            " ORDER BY hybrid_ratio DESC NULLS LAST, id DESC LIMIT 50"
        ).fetchall()
    return "\n".join("    " + row[0] for row in rows)


def measure(client: httpx.Client, path: str, requests: int) -> tuple[float, float]:
    for _ in range(20):  # warm connections, plans and caches
        client.get(path).raise_for_status()
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        timings.append((time.perf_counter() - started) * 1000.0)
    return percentile(timings, 0.5), percentile(timings, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, pg_database("hybridlens_bench_query") as url:
        started = time.perf_counter()
        collections = populate(url, args.films, args.frames)
        print(f"stored {args.films} films x {args.frames} frames in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        with session_scope(url) as session:
            token = tokens_service.create_token(session, TokenCreate(name="bench")).token
        port = free_port()
        env = service_env(url, Path(tmp))
        command = [str(HYBRIDLENS), "serve", "--port", str(port), "--no-migrate",
                   "--log-level", "warning"]  # fmt: skip
        with process(command, env, Path(tmp) / "serve.log"):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/health")
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=10.0) as client:
                cases = {
                    "film query, one collection": "/films?min_hybrid_ratio=0.2"
                    f"&sort=-hybrid_ratio&collection={collections[3]}",
                    "film query, all films": "/films?min_hybrid_ratio=0.2&sort=-hybrid_ratio",
                    "film query, year + shots": "/films?min_year=1950&max_year=1980"
                    "&min_hybrid_shots=10&sort=-np_time_share",
                    f"collection stats ({args.films // COLLECTIONS} films)": (
                        f"/collections/{collections[3]}/stats"
                    ),
                    f"collection stats ({args.films} films)": (
                        f"/collections/{collections[-1]}/stats"
                    ),
                }
                print(f"{'request':40s} {'p50 ms':>8s} {'p99 ms':>8s}   ({args.requests} each)")
                for name, path in cases.items():
                    p50, p99 = measure(client, path, args.requests)
                    flag = "ok" if p99 < 50 else "OVER 50 ms"
                    print(f"{name:40s} {p50:8.1f} {p99:8.1f}   {flag}")
        print("plan of the film query with a collection filter:")
        print(explain(url, collections[3]))


if __name__ == "__main__":
    main()
