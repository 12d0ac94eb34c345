"""Bearer tokens: nothing but health and docs without one; read-only tokens cannot write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import session_scope
from app.tokens import service as tokens_service
from tests.service_harness import Tokens, worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_health_and_docs_need_no_token(client: TestClient) -> None:
    client.headers.pop("Authorization")
    assert client.get("/health").json()["database"] == "ok"
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("path", ["/films", "/collections", "/batches", "/films/1/stats"])
def test_request_without_token_is_401(client: TestClient, path: str) -> None:
    client.headers.pop("Authorization")
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer hl_not-a-real-token", "Basic dXNlcjpwdw==", "Bearer"])
def test_request_with_wrong_token_is_401(client: TestClient, header: str) -> None:
    assert client.get("/films", headers={"Authorization": header}).status_code == 401


def test_read_only_token_reads_but_cannot_write(client: TestClient, tokens: Tokens) -> None:
    reader = tokens.header(write=False)
    assert client.get("/films", headers=reader).status_code == 200
    assert client.post("/collections", json={"name": "x"}, headers=reader).status_code == 403
    response = client.post("/films", content=b"\x00" * 10, headers=reader)
    assert response.status_code == 403
    assert client.delete("/films/1", headers=reader).status_code == 403


def test_me_tells_what_the_token_may_do(client: TestClient, tokens: Tokens) -> None:
    reader = client.get("/me", headers=tokens.header(write=False)).json()
    writer = client.get("/me", headers=tokens.header(write=True)).json()

    assert reader["can_write"] is False and writer["can_write"] is True
    assert reader["token_prefix"] == tokens.read[:10]
    assert "token" not in reader  # never the secret
    client.headers.pop("Authorization")
    assert client.get("/me").status_code == 401


def test_revoked_token_is_401(client: TestClient, service_env: Settings, tokens: Tokens) -> None:
    with session_scope(service_env.sqlalchemy_url) as session:
        token = tokens_service.authenticate(session, tokens.read)
        assert token is not None
        tokens_service.revoke_token(session, token.id)
    assert client.get("/films", headers=tokens.header(write=False)).status_code == 401


def test_revoked_token_is_401_once_the_token_cache_expires(
    client: TestClient, service_env: Settings, tokens: Tokens
) -> None:
    now = [1000.0]
    client.app.state.token_cache = tokens_service.TokenCache(  # type: ignore[attr-defined]
        ttl_s=service_env.api.token_cache_s, clock=lambda: now[0]
    )
    reader = tokens.header(write=False)
    assert client.get("/films", headers=reader).status_code == 200
    with session_scope(service_env.sqlalchemy_url) as session:
        token = tokens_service.authenticate(session, tokens.read)
        assert token is not None
        tokens_service.revoke_token(session, token.id)

    within_ttl = client.get("/films", headers=reader).status_code
    now[0] += service_env.api.token_cache_s
    assert (within_ttl, client.get("/films", headers=reader).status_code) == (200, 401)


def test_cached_read_only_token_still_cannot_write(client: TestClient, tokens: Tokens) -> None:
    reader = tokens.header(write=False)
    assert client.get("/films", headers=reader).status_code == 200  # now in the token cache
    assert client.get("/films", headers=reader).status_code == 200

    assert client.post("/collections", json={"name": "x"}, headers=reader).status_code == 403
    assert client.get("/collections", headers=reader).json()["total"] == 0


def test_token_create_prints_the_token_last(service_env: Settings, tmp_path: Path) -> None:
    hybridlens = Path(sys.executable).parent / "hybridlens"
    done = subprocess.run(
        [str(hybridlens), "token", "create", "--name", "cli", "--write"],
        env=worker_env(service_env, tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    token = done.stdout.strip().splitlines()[-1]
    with session_scope(service_env.sqlalchemy_url) as session:
        found = tokens_service.authenticate(session, token)
    assert found is not None and found.can_write and found.name == "cli"
