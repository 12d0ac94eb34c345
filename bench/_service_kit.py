"""Shared by the service benchmarks: throwaway PostgreSQL databases, a Redis db, subprocesses
of ``hybridlens serve`` / ``hybridlens worker`` with the right environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg

from app.core.db import dispose_engine, upgrade_database

PG_SERVER = os.environ.get("HYBRIDLENS_TEST_PG", "postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("HYBRIDLENS_BENCH_REDIS", "redis://127.0.0.1:6379/14")
HYBRIDLENS = Path(sys.executable).parent / "hybridlens"


def _admin() -> psycopg.Connection:
    user, _, hostport = PG_SERVER.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(
        host=host, port=int(port or 5432), user=user, dbname="postgres", autocommit=True
    )


@contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://{PG_SERVER}/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        dispose_engine(url)
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HYBRIDLENS_")}
    env.update(
        HYBRIDLENS_DATABASE_URL=database_url,
        HYBRIDLENS_REDIS_URL=REDIS_URL,
        HYBRIDLENS_DATA_DIR=str(data_dir),
        **extra,
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wait_log(log: Path, needle: bytes, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if needle in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{needle!r} never appeared in {log}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]
