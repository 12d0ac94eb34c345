"""ELAN over HTTP and on the command line: one import, the same agreement from both, write
access, and clear 4xx / CLI errors for files that cannot be imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from typer.testing import CliRunner

from app.core.config import Settings
from app.core.db import session_scope
from hybridlens.cli import build_app
from tests.app.eaf import eaf_document
from tests.app.factories import make_analysis, make_film
from tests.service_harness import Tokens

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

runner = CliRunner()
IMAGE_TYPE = [(0, 3000, "Live-Action"), (3000, 6000, "Animation"), (6000, 9000, "Still Image")]


@pytest.fixture
def film(service_env: Settings) -> int:
    with session_scope(service_env.sqlalchemy_url) as session:
        film_id = make_film(session, title="Scholar's reel")
        make_analysis(session, film_id=film_id, frames=9, shots=3, hybrid_ratio=1 / 3)
    return film_id


def post_eaf(
    client: TestClient,
    film: int,
    data: bytes,
    tier: str,
    mapping: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return client.post(
        f"/films/{film}/elan",
        files={"file": ("reel.eaf", data, "application/xml")},
        data={"tier": tier, "map": mapping or []},
        headers=headers,
    )


def test_import_over_http_labels_the_film_under_the_tokens_name(
    client: TestClient, film: int
) -> None:
    answer = post_eaf(
        client, film, eaf_document({"Image Type": IMAGE_TYPE}), "Image Type", ["Still Image=P"]
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [item["label"] for item in body["imported"]] == ["P", "NP", "P"]
    assert (body["filename"], body["skipped"], body["replaced"]) == ("reel.eaf", [], 0)
    history = client.get(f"/films/{film}/frames/25/annotations").json()["labels"]
    assert [(h["source"], h["scope"], h["author"]) for h in history] == [
        ("elan", "range", "writer")
    ]
    shots = client.get(f"/films/{film}/shots").json()
    assert [(s["frame_class"], s["label_source"]) for s in shots] == [
        ("P", "elan"),
        ("NP", "elan"),
        ("P", "elan"),
    ]


def test_a_read_only_token_cannot_import(client: TestClient, film: int, tokens: Tokens) -> None:
    answer = post_eaf(
        client,
        film,
        eaf_document({"Image Type": IMAGE_TYPE}),
        "Image Type",
        headers=tokens.header(write=False),
    )

    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("data", "tier", "message"),
    [
        (b"plain text", "Image Type", "not an ELAN document"),
        (eaf_document({"Image Type": []}), "Image Type", "has no annotations"),
        (eaf_document({"Image Type": IMAGE_TYPE}), "Shots", "no tier 'Shots'"),
        (
            eaf_document({"Image Type": [(0, 2000, "Animation"), (1000, 3000, "Animation")]}),
            "Image Type",
            "overlap",
        ),
        (eaf_document({"Image Type": [(0, 90_000, "Animation")]}), "Image Type", "after the film"),
    ],
)
def test_a_file_that_cannot_be_imported_is_a_422_with_its_reason(
    client: TestClient, film: int, data: bytes, tier: str, message: str
) -> None:
    answer = post_eaf(client, film, data, tier)

    assert answer.status_code == 422
    assert message in answer.json()["detail"]
    assert "/tmp" not in answer.text


def test_import_into_a_missing_film_is_a_404(client: TestClient, film: int) -> None:
    answer = post_eaf(client, film + 1000, eaf_document({"T": IMAGE_TYPE}), "T")

    assert answer.status_code == 404


def test_agreement_is_the_same_from_the_api_and_the_cli(
    client: TestClient, film: int, service_env: Settings, tmp_path: Path
) -> None:
    eaf = tmp_path / "reel.eaf"
    eaf.write_bytes(eaf_document({"Image Type": IMAGE_TYPE}))
    db = ["--db", service_env.sqlalchemy_url]

    imported = runner.invoke(
        build_app(),
        ["elan", "import", str(film), str(eaf), "--tier", "Image Type",
         "--map", "Still Image=NP", *db],
    )  # fmt: skip
    cli = runner.invoke(build_app(), ["elan", "agreement", str(film), "--json", *db])
    text = runner.invoke(build_app(), ["elan", "agreement", str(film), *db])
    served = client.get(f"/films/{film}/elan/agreement")

    assert imported.exit_code == 0, imported.stderr
    assert "3 ranges of tier 'Image Type' imported" in imported.stdout
    assert cli.exit_code == 0 and served.status_code == 200
    assert json.loads(cli.stdout) == served.json()
    assert served.json()["agreement"] == pytest.approx(3 / 9)
    assert "agreement 33.3% of 9.00 s compared" in text.stdout


def test_cli_import_reports_bad_files_and_unmapped_values(
    film: int, service_env: Settings, tmp_path: Path
) -> None:
    eaf = tmp_path / "reel.eaf"
    eaf.write_bytes(eaf_document({"Image Type": IMAGE_TYPE}))
    db = ["--db", service_env.sqlalchemy_url]

    unmapped = runner.invoke(
        build_app(), ["elan", "import", str(film), str(eaf), "--tier", "Image Type", *db]
    )
    missing = runner.invoke(
        build_app(), ["elan", "import", str(film), str(eaf), "--tier", "Shots", *db]
    )
    no_labels = runner.invoke(build_app(), ["elan", "agreement", str(film + 1), *db])

    assert unmapped.exit_code == 0
    assert "not mapped: 'Still Image' (1x, 3.00 s)" in unmapped.stdout
    assert missing.exit_code == 2 and "no tier 'Shots'" in missing.stderr
    assert no_labels.exit_code == 2 and "error:" in no_labels.stderr


def test_agreement_before_any_import_is_a_409(client: TestClient, film: int) -> None:
    assert client.get(f"/films/{film}/elan/agreement").status_code == 409
