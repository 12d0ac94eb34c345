"""Fixtures for the service tests: a throwaway PostgreSQL database, a Redis database of their
own, the API under TestClient with tokens, and real Celery worker subprocesses.

Imported by ``tests/api/conftest.py`` and ``tests/service/conftest.py``. Nothing is mocked:
the API talks to PostgreSQL and enqueues into Redis, workers are ``hybridlens worker``
processes that pick the tasks up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient

from app.core.config import Settings, get_settings
from app.core.db import dispose_engine, get_engine, session_scope, upgrade_database
from app.models import Base
from app.tokens import service as tokens_service
from app.tokens.schemas import TokenCreate
from tests.services import unavailable

PG_SERVER = os.environ.get("HYBRIDLENS_TEST_PG", "postgres@127.0.0.1:5432")
REDIS_SERVER = os.environ.get("HYBRIDLENS_TEST_REDIS", "redis://127.0.0.1:6379")
# A Redis database number of the tests' own, emptied before and after.
REDIS_DB = int(os.environ.get("HYBRIDLENS_TEST_REDIS_DB", "13"))
# Stage leases short enough that a killed worker's stage is sent again within seconds (a
# heartbeat every 0.5 s keeps a healthy stage's lease). Redis's redelivery stays at its
# default hour, so the tests show that the leases, not the broker, bring a job back.
TEST_LEASE = {"LEASE_S": "3", "HEARTBEAT_S": "0.5", "REAPER_INTERVAL_S": "0.5"}
HYBRIDLENS = Path(sys.executable).parent / "hybridlens"


def _pg_admin() -> psycopg.Connection:
    user, _, hostport = PG_SERVER.partition("@")
    host, _, port = hostport.partition(":")
    return psycopg.connect(
        host=host, port=int(port or 5432), user=user, dbname="postgres", autocommit=True,
        connect_timeout=3,
    )  # fmt: skip


@pytest.fixture(scope="session")
def service_db_url() -> Iterator[str]:
    """A migrated PostgreSQL database for the whole session (emptied per test)."""
    name = f"hybridlens_service_{uuid.uuid4().hex[:10]}"
    try:
        with _pg_admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL not reachable at {PG_SERVER}: {exc}")
    url = f"postgresql+psycopg://{PG_SERVER}/{name}"
    try:
        upgrade_database(url)
        yield url
    finally:
        dispose_engine(url)
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def service_redis_url() -> Iterator[str]:
    url = f"{REDIS_SERVER}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        unavailable(f"Redis not reachable at {REDIS_SERVER}: {exc}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def clean_db(service_db_url: str) -> str:
    with get_engine(service_db_url).begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    return service_db_url


@pytest.fixture
def service_env(
    clean_db: str, service_redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The settings of the API under test (Celery mode, PostgreSQL, the tests' Redis db)."""
    monkeypatch.setenv("HYBRIDLENS_DATABASE_URL", clean_db)
    monkeypatch.setenv("HYBRIDLENS_REDIS_URL", service_redis_url)
    for name, value in TEST_LEASE.items():
        monkeypatch.setenv(f"HYBRIDLENS_TASKS__{name}", value)
    monkeypatch.setenv("HYBRIDLENS_API__STORAGE_ROOT", str(tmp_path / "archive"))
    (tmp_path / "archive").mkdir()
    get_settings.cache_clear()
    redis.Redis.from_url(service_redis_url).flushdb()
    return get_settings()


@dataclass
class Tokens:
    write: str
    read: str

    def header(self, *, write: bool = True) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.write if write else self.read}"}


def make_tokens(url: str) -> Tokens:
    with session_scope(url) as session:
        write = tokens_service.create_token(session, TokenCreate(name="writer", can_write=True))
        read = tokens_service.create_token(session, TokenCreate(name="reader", can_write=False))
    return Tokens(write=write.token, read=read.token)


@pytest.fixture
def tokens(service_env: Settings) -> Tokens:
    return make_tokens(service_env.sqlalchemy_url)


@pytest.fixture
def client(service_env: Settings, tokens: Tokens) -> Iterator[TestClient]:
    """The API with the writer's token sent by default."""
    from app.main import create_app

    with TestClient(create_app(service_env), headers=tokens.header()) as test_client:
        yield test_client


class Worker:
    """A ``hybridlens worker`` subprocess (own process group, so a SIGKILL takes it all)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, pool: str = "solo") -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [str(HYBRIDLENS), "worker", "--queues", "cpu,gpu", "--pool", pool,
             "--concurrency", "1", "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b" ready." in self.log_path.read_bytes():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"worker did not start:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no chance to ack or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def worker_env(settings: Settings, data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HYBRIDLENS_") and key != "PYTEST_CURRENT_TEST"
    }
    env.update(
        HYBRIDLENS_DATABASE_URL=settings.sqlalchemy_url,
        HYBRIDLENS_REDIS_URL=settings.redis_url,
        HYBRIDLENS_DATA_DIR=str(data_dir),
        HYBRIDLENS_MODEL__CPU_THREADS="1",
        HYBRIDLENS_TASKS__VISIBILITY_TIMEOUT_S=str(settings.tasks.visibility_timeout_s),
        HYBRIDLENS_TASKS__LEASE_S=str(settings.tasks.lease_s),
        HYBRIDLENS_TASKS__HEARTBEAT_S=str(settings.tasks.heartbeat_s),
        HYBRIDLENS_TASKS__REAPER_INTERVAL_S=str(settings.tasks.reaper_interval_s),
        HYBRIDLENS_LOG_LEVEL="INFO",
    )
    return env


@pytest.fixture
def start_worker(service_env: Settings, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """Start workers on demand (all stopped at the end); they share one data dir (spool)."""
    workers: list[Worker] = []

    def start(*, env: dict[str, str] | None = None, **kwargs: Any) -> Worker:
        number = len(workers)
        worker = Worker(
            {**worker_env(service_env, tmp_path / "worker-data"), **(env or {})},
            tmp_path / f"worker-{number}.log",
            **kwargs,
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(
    predicate: Callable[[], Any], *, timeout_s: float = 90.0, interval_s: float = 0.25,
    what: str = "condition",
) -> Any:  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
