"""The page's files as the API serves them: the address, the security policy, no way out of
the page's folder, and nothing fetched from another server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.routes import ui
from app.api.routes.ui import UI_DIR
from app.main import create_app


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app())


def test_ui_redirects_to_the_page_folder(client: TestClient) -> None:
    response = client.get("/ui", follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"] == "ui/"


def test_page_is_served_without_token_under_a_strict_policy(client: TestClient) -> None:
    response = client.get("/ui/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert client.get("/ui/js/app.js").headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/ui/%2e%2e/secret.css", "/ui/..%2fsecret.css", "/ui/missing.js"])
def test_paths_outside_the_page_folder_are_not_found(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    (tmp_path / "secret.css").write_text("body { color: red }")
    (tmp_path / "page").mkdir()
    monkeypatch.setattr(ui, "UI_DIR", (tmp_path / "page").resolve())

    assert client.get(path).status_code == 404


def test_only_page_file_types_are_served(client: TestClient) -> None:
    assert client.get("/ui/js/").status_code == 404
    assert client.get("/ui/../api/routes/ui.py").status_code == 404


def test_ui_is_left_out_of_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    assert not any(path.startswith("/ui") for path in paths)


def test_page_files_load_nothing_from_other_servers() -> None:
    remote = re.compile(r"""(?:src|href|url|import)\s*[=(]?\s*["']?(?:https?:)?//""")
    files = [path for path in UI_DIR.rglob("*") if path.is_file()]

    assert files
    for path in files:
        assert not remote.search(path.read_text()), path
