"""The CLI and the API export a film through the one export registry: the same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.core.config import Settings
from app.core.db import session_scope
from app.core.domain import RunStatus
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


@pytest.mark.parametrize("fmt", ["csv", "json", "shots.csv", "edl", "otio", "annotations", "eaf"])
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


@pytest.mark.parametrize("fmt", ["json", "csv", "edl", "otio"])
def test_export_of_a_film_without_finished_analysis_is_409_with_the_reason(
    fmt: str, client: TestClient, service_env: Settings, tmp_path: Path
) -> None:
    with session_scope(service_env.sqlalchemy_url) as session:
        unanalysed = make_film(session, title="Never run")
        failed = make_film(session, title="Broken")
        make_analysis(session, film_id=failed, frames=0, shots=0, status=RunStatus.FAILED)

    never = client.get(f"/films/{unanalysed}/export", params={"format": fmt})
    broken = client.get(f"/films/{failed}/export", params={"format": fmt})
    cli = runner.invoke(
        build_app(),
        ["export", str(failed), "--format", fmt, "--out", str(tmp_path / "x"),
         "--db", service_env.sqlalchemy_url],
    )  # fmt: skip

    assert never.status_code == 409 and "has not been analysed" in never.json()["detail"]
    assert broken.status_code == 409 and "failed" in broken.json()["detail"]
    assert cli.exit_code != 0 and "failed" in cli.stderr
    assert not (tmp_path / "x").exists()


def test_drop_frame_export_is_refused_for_a_25_fps_film(client: TestClient, film_id: int) -> None:
    response = client.get(f"/films/{film_id}/export", params={"format": "edl", "drop_frame": True})
    assert response.status_code == 422 and "29.97 or 59.94" in response.json()["detail"]
