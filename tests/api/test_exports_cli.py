"""The CLI and the API export a film through the one export registry: the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.core.config import Settings
from app.core.db import session_scope
from app.core.registry import UnknownName
from app.exports.registry import EXPORTS
from hybridlens.cli import build_app
from tests.app.factories import make_analysis, make_film

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

runner = CliRunner()


@pytest.fixture
def film_id(service_env: Settings) -> int:
    with session_scope(service_env.sqlalchemy_url) as session:
        film = make_film(session, title="Reel 1", year=1955)
        make_analysis(session, film_id=film, frames=9, shots=3, hybrid_ratio=0.4)
    return film


@pytest.mark.parametrize("fmt", ["csv", "json", "shots.csv", "edl", "otio", "annotations"])
def test_cli_export_is_byte_identical_to_the_api_export(
    fmt: str, client: TestClient, service_env: Settings, film_id: int, tmp_path: Path
) -> None:
    out = tmp_path / f"export.{fmt}"

    result = runner.invoke(
        build_app(),
        ["export", str(film_id), "--format", fmt, "--out", str(out),
         "--db", service_env.sqlalchemy_url, "--base-url", "http://testserver"],
    )  # fmt: skip
    served = client.get(f"/films/{film_id}/export", params={"format": fmt})

    assert result.exit_code == 0, result.stderr
    assert served.status_code == 200
    assert out.read_bytes() == served.content


def test_every_registered_export_is_offered_by_the_api(client: TestClient) -> None:
    parameters = client.get("/openapi.json").json()["paths"]["/films/{film_id}/export"]["get"]
    (fmt,) = [p for p in parameters["parameters"] if p["name"] == "format"]

    assert fmt["schema"]["enum"] == EXPORTS.names()


def test_export_registry_rejects_an_unknown_format_with_the_known_ones(
    client: TestClient, film_id: int, service_env: Settings, tmp_path: Path
) -> None:
    with pytest.raises(UnknownName, match=r"unknown export format 'xml'; known: json, csv"):
        EXPORTS.get("xml")
    served = client.get(f"/films/{film_id}/export", params={"format": "xml"})
    result = runner.invoke(
        build_app(),
        ["export", str(film_id), "--format", "xml", "--out", str(tmp_path / "x"),
         "--db", service_env.sqlalchemy_url],
    )  # fmt: skip

    assert served.status_code == 422 and "unknown export format 'xml'" in served.text
    assert result.exit_code == 2 and "unknown export format 'xml'" in result.stderr
