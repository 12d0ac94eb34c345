"""`hybridlens analyze / show / export / plot` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from app.core.db import dispose_engine
from hybridlens.cli import build_app
from tests.app.conftest import _pg_database, _sqlite_template, db_url  # noqa: F401
from tests.figures import burn_subtitle, faded_print, photo_background
from tests.media import (
    GeneratedVideo,
    Segment,
    make_lossless_video,
    make_text_file,
    make_truncated,
    make_video,
)

runner = CliRunner()

FILM_KEYS = {"id", "sha256", "probe", "duration_s", "fps", "width", "height"}
SHOT_KEYS = {"start_frame", "end_frame", "start_time", "end_time", "frame_class", "hybrid_ratio"}
FRAME_KEYS = {"frame_index", "time_s", "frame_class", "p_fraction"}
SUMMARY_KEYS = {
    "hybrid_ratio",
    "p_time_share",
    "np_time_share",
    "hybrid_time_share",
    "mean_p_fraction",
}


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> GeneratedVideo:
    """3 s, two shots, 160x120."""
    return make_video(
        tmp_path_factory.mktemp("media") / "two_shots.mkv",
        segments=[Segment(source="testsrc2", frames=40), Segment(source="smptebars", frames=35)],
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    yield url
    dispose_engine(url)


@pytest.fixture
def analysed(film: GeneratedVideo, sqlite_url: str) -> dict[str, Any]:
    """The JSON document of ``film`` analysed into ``sqlite_url``."""
    result = runner.invoke(build_app(), ["analyze", "--json", "--db", sqlite_url, str(film.path)])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _documents(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_analyze_json_prints_one_document_per_film_when_given_two(
    tmp_path: Path,
    film: GeneratedVideo,
    db_url: str,  # noqa: F811
) -> None:
    other = make_video(tmp_path / "one_shot.mp4", duration_s=1.0)

    result = runner.invoke(
        build_app(), ["analyze", "--json", "--db", db_url, str(film.path), str(other.path)]
    )

    assert result.exit_code == 0, result.stderr
    first, second = _documents(result.stdout)
    for document in (first, second):
        assert set(document["film"]) >= FILM_KEYS
        assert document["analysis"]["status"] == "done"
        assert set(document["analysis"]["summary"]) >= SUMMARY_KEYS
        assert document["shots"] and all(set(s) >= SHOT_KEYS for s in document["shots"])
        assert document["frames"] and all(set(f) >= FRAME_KEYS for f in document["frames"])
    assert first["film"]["probe"]["frame_count"] == 75
    assert [shot["start_frame"] for shot in first["shots"]] == [0, 40]
    assert second["film"]["id"] != first["film"]["id"]


def test_analyze_json_stdout_carries_only_json_when_run_as_a_command(
    tmp_path: Path, film: GeneratedVideo
) -> None:
    environment = {**os.environ, "HYBRIDLENS_DATA_DIR": str(tmp_path / "data")}

    completed = subprocess.run(
        [sys.executable, "-m", "hybridlens", "analyze", "--json", str(film.path)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    (document,) = _documents(completed.stdout)
    assert document["analysis"]["status"] == "done"
    assert "prepare" in completed.stderr  # the progress bars went to stderr
    assert (tmp_path / "data" / "hybridlens.sqlite3").is_file()  # the embedded default


def test_analyze_reports_bad_film_and_goes_on_when_one_of_several_is_not_a_video(
    tmp_path: Path, film: GeneratedVideo, sqlite_url: str
) -> None:
    script = make_text_file(tmp_path / "script.mp4")

    result = runner.invoke(
        build_app(),
        ["analyze", "--json", "--db", sqlite_url, str(script), str(tmp_path / "gone.mkv"),
         str(film.path)],
    )  # fmt: skip

    assert result.exit_code == 1
    bad, missing, good = _documents(result.stdout)
    assert bad["analysis"]["status"] == "failed"
    assert "not a readable media file" in bad["analysis"]["error"]
    assert missing["analysis"]["error"] == "no such file" and missing["film"]["id"] is None
    assert good["analysis"]["status"] == "done"
    assert f"error: {script}: not a readable media file" in result.stderr


def test_a_bad_film_fails_with_its_reason_and_no_library_chatter_when_run_as_a_command(
    tmp_path: Path,
) -> None:
    script = make_text_file(tmp_path / "script.mp4")
    environment = {**os.environ, "HYBRIDLENS_DATA_DIR": str(tmp_path / "data")}

    completed = subprocess.run(
        [sys.executable, "-m", "hybridlens", "analyze", str(script)],
        capture_output=True, text=True, env=environment, timeout=300, check=False,
    )  # fmt: skip

    assert completed.returncode == 1
    assert "failed" in completed.stdout and "not a readable media file" in completed.stdout
    assert f"error: {script}: not a readable media file" in completed.stderr
    # Once on stdout (the summary), once on stderr (the error); not again as a log line,
    # and no logger names (the workers' log keeps the line for operators).
    assert (completed.stdout + completed.stderr).count("not a readable media file") == 2
    assert "workers." not in completed.stderr and "WARNING" not in completed.stderr
    # torch logs its cache statistics at exit when INFO logging is on: not for a user.
    assert "INFO torch" not in completed.stderr, completed.stderr[-500:]


def test_analyze_prints_a_human_summary_when_json_is_not_asked(
    film: GeneratedVideo, sqlite_url: str
) -> None:
    result = runner.invoke(build_app(), ["analyze", "--no-progress", "--db", sqlite_url,
                                         str(film.path)])  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "done (film 1, analysis 1" in result.stdout
    assert "hybrid ratio" in result.stdout and "2 shots" in result.stdout


def _pillarboxed(picture: np.ndarray) -> np.ndarray:
    return np.pad(picture, ((0, 0), (40, 40), (0, 0)))


def _subtitled(picture: np.ndarray) -> np.ndarray:
    return burn_subtitle(picture, ["come home"])


@pytest.mark.parametrize(
    ("dress", "says"),
    [
        (_pillarboxed, "judged inside black bars"),
        (_subtitled, "with subtitles left out"),
        (faded_print, "with a colour cast taken out"),
    ],
)
def test_analyze_says_how_many_frames_it_judged_inside_bars_or_above_subtitles(
    film: GeneratedVideo,
    sqlite_url: str,
    tmp_path: Path,
    dress: Callable[[np.ndarray], np.ndarray],
    says: str,
) -> None:
    pictures = [dress(photo_background(seed, (240, 180))) for seed in (3, 4)]
    dressed = make_lossless_video([p for p in pictures for _ in range(2)], tmp_path / "f.mkv")
    result = runner.invoke(build_app(), ["analyze", "--no-progress", "--db", sqlite_url,
                                         str(dressed), str(film.path)])  # fmt: skip

    assert result.exit_code == 0, result.stderr
    first, plain = result.stdout.split(str(film.path))
    assert says in first
    assert says not in plain


def test_show_prints_summary_and_shots_when_film_was_analysed(
    analysed: dict[str, Any], sqlite_url: str
) -> None:
    result = runner.invoke(build_app(), ["show", str(analysed["film"]["id"]), "--db", sqlite_url])

    assert result.exit_code == 0, result.stderr
    assert analysed["film"]["sha256"] in result.stdout
    assert "analysis 1: done" in result.stdout and "hybrid ratio" in result.stdout
    assert len([line for line in result.stdout.splitlines() if "00:00:0" in line]) == 2


def test_show_fails_with_message_when_film_is_unknown(sqlite_url: str) -> None:
    result = runner.invoke(build_app(), ["show", "99", "--db", sqlite_url])

    assert result.exit_code == 2
    assert "film 99 not found" in result.stderr


def test_export_csv_writes_one_row_per_sampled_frame(
    tmp_path: Path, analysed: dict[str, Any], sqlite_url: str
) -> None:
    out = tmp_path / "frames.csv"

    result = runner.invoke(
        build_app(), ["export", "1", "--format", "csv", "--out", str(out), "--db", sqlite_url]
    )

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(row["frame"]) for row in rows] == [f["frame_index"] for f in analysed["frames"]]
    assert rows[1]["timecode"] == "00:00:01:00" and float(rows[1]["time_s"]) == 1.0
    assert {row["class"] for row in rows} <= {"P", "NP", "hybrid"}
    assert {row["shot"] for row in rows} == {"1", "2"}  # shots are numbered from 1


def test_export_json_writes_the_analyze_document(
    tmp_path: Path, analysed: dict[str, Any], sqlite_url: str
) -> None:
    out = tmp_path / "report.json"

    result = runner.invoke(
        build_app(), ["export", "1", "--format", "json", "--out", str(out), "--db", sqlite_url]
    )

    assert result.exit_code == 0, result.stderr
    assert json.loads(out.read_text()) == analysed


def test_plot_writes_a_png_when_film_was_analysed(
    tmp_path: Path, analysed: dict[str, Any], sqlite_url: str
) -> None:
    out = tmp_path / "timeline.png"

    result = runner.invoke(build_app(), ["plot", "1", "--out", str(out), "--db", sqlite_url])

    assert result.exit_code == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_shades_each_timeline_bin_over_its_own_span(
    analysed: dict[str, Any], sqlite_url: str
) -> None:
    from app.analysis import service as analysis_service
    from app.core.db import session_scope
    from hybridlens.cli_films import timeline_figure

    with session_scope(sqlite_url) as session:
        report = analysis_service.get_film_report(session, 1)
    assert report.analysis is not None
    bins = report.analysis.timeline

    figure = timeline_figure(report)

    curve = figure.axes[1]
    shaded = [path.vertices[:, 0] for area in curve.collections for path in area.get_paths()]
    xs = sorted({round(float(x), 6) for vertices in shaded for x in vertices})
    edges = [round(b["start_s"], 6) for b in bins] + [round(bins[-1]["end_s"], 6)]
    assert xs == edges  # shading changes only at bin edges, from 0 to the end of the film
    line = curve.lines[0].get_xdata()
    last = report.frames[-1]
    assert list(line[:-1]) == [frame.time_s for frame in report.frames]
    assert line[-1] == pytest.approx(last.time_s + last.weight_s)


# ----------------------------------------------------------------------------------------------
# What a user gets wrong, or a damaged film: one line saying why, never a traceback


def _one_error_line(result: Any) -> str:
    """The only line on stderr, an ``error:`` one (no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    return line


@pytest.mark.parametrize("command", ["export", "plot"])
def test_writing_into_a_folder_fails_with_the_reason_and_writes_nothing_else(
    command: str, tmp_path: Path, sqlite_url: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()

    result = runner.invoke(build_app(), [command, "1", "--out", str(folder), "--db", sqlite_url])

    assert result.exit_code == 1
    assert f"cannot write {folder}: it is a folder" in _one_error_line(result)
    assert list(folder.iterdir()) == [] and not folder.with_suffix(".png").exists()


@pytest.mark.parametrize("command", ["export", "plot"])
def test_a_missing_folder_is_refused_not_created(
    command: str, tmp_path: Path, sqlite_url: str
) -> None:
    out = tmp_path / "typo" / "deeper" / "film.out"

    result = runner.invoke(build_app(), [command, "1", "--out", str(out), "--db", sqlite_url])

    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"folder {out.parent} does not exist" in line
    assert not (tmp_path / "typo").exists()


def test_export_says_why_when_the_file_cannot_be_written(
    tmp_path: Path, analysed: dict[str, Any], sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "frames.csv"

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(Path, "write_text", refuse)
    result = runner.invoke(build_app(), ["export", "1", "--out", str(out), "--db", sqlite_url])

    assert result.exit_code == 1
    assert _one_error_line(result) == f"error: cannot write {out}: permission denied"


def test_plot_writes_exactly_the_file_it_names(
    tmp_path: Path, analysed: dict[str, Any], sqlite_url: str
) -> None:
    bare, svg = tmp_path / "timeline", tmp_path / "timeline.svg"

    first = runner.invoke(build_app(), ["plot", "1", "--out", str(bare), "--db", sqlite_url])
    second = runner.invoke(build_app(), ["plot", "1", "--out", str(svg), "--db", sqlite_url])

    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert first.stderr.strip() == f"wrote {bare}" and second.stderr.strip() == f"wrote {svg}"
    assert bare.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # PNG, and no "timeline.png"
    assert b"<svg" in svg.read_bytes()[:500]
    assert sorted(path.name for path in tmp_path.iterdir() if "timeline" in path.name) == [
        "timeline",
        "timeline.svg",
    ]


@pytest.mark.parametrize("name", ["timeline.txt", "timeline.pgf", "timeline.raw"])
def test_plot_refuses_a_name_whose_suffix_is_not_a_picture_it_writes(
    name: str, tmp_path: Path, analysed: dict[str, Any], sqlite_url: str
) -> None:
    out = tmp_path / name

    result = runner.invoke(build_app(), ["plot", "1", "--out", str(out), "--db", sqlite_url])

    assert result.exit_code == 2
    expected = f"error: cannot plot into {out}: name a .png, .svg or .pdf file"
    assert _one_error_line(result) == expected
    assert not out.exists()


def test_plot_refuses_a_bad_suffix_before_opening_the_database(tmp_path: Path) -> None:
    out = tmp_path / "timeline.txt"

    result = runner.invoke(build_app(), ["plot", "1", "--out", str(out), "--db", "bogus://x"])

    assert result.exit_code == 2
    assert _one_error_line(result).startswith(f"error: cannot plot into {out}: ")


BAD_DATABASES = [
    pytest.param("bogus://x", "unknown kind of database 'bogus'", id="unknown-scheme"),
    pytest.param("not a url", "not a database URL", id="not-a-url"),
    # Port 1: nothing listens there, the connection is refused at once.
    pytest.param(
        "postgresql+psycopg://archivist:s3cret-pw@127.0.0.1:1/films",
        "connection",
        id="server-not-answering",
    ),
]
DB_COMMANDS = [
    pytest.param(["show", "1"], id="show"),
    pytest.param(["export", "1", "--out", "-"], id="export"),
    pytest.param(["plot", "1"], id="plot"),
    pytest.param(["similar", "1", "0"], id="similar"),
    pytest.param(["analyze", "no-such-film.mkv"], id="analyze"),
    pytest.param(["elan", "agreement", "1"], id="elan"),
    pytest.param(["elements", "1"], id="elements"),
]


@pytest.mark.parametrize("url, reason", BAD_DATABASES)
@pytest.mark.parametrize("command", DB_COMMANDS)
def test_a_database_that_cannot_be_used_is_one_line_with_the_reason(
    command: list[str], url: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # plot's default file would land here

    result = runner.invoke(build_app(), [*command, "--db", url])

    assert result.exit_code == 1, result.output
    line = _one_error_line(result)
    assert line.startswith("error: cannot use database ") and reason in line
    assert "s3cret-pw" not in result.output  # the password is hidden, the rest is named
    assert "archivist:***@127.0.0.1:1/films" in line or "archivist" not in url
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_database_in_a_missing_folder_is_refused_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'typo' / 'archive.sqlite3'}"

    result = runner.invoke(build_app(), ["show", "1", "--db", url])

    assert result.exit_code == 1
    assert f"folder {tmp_path / 'typo'} does not exist" in _one_error_line(result)
    assert not (tmp_path / "typo").exists()


def test_show_of_a_file_that_is_not_a_video_names_what_is_unknown(
    tmp_path: Path, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    script = make_text_file(tmp_path / "script.mp4")
    analysed = runner.invoke(build_app(), ["analyze", "--no-progress", "--db", sqlite_url,
                                           str(script)])  # fmt: skip

    result = runner.invoke(build_app(), ["show", "1", "--db", sqlite_url])

    assert analysed.exit_code == 1 and result.exit_code == 0, result.stderr
    assert "None" not in result.stdout
    assert "size, frame rate, duration and frame count unknown" in result.stdout
    assert "analysis 1: failed" in result.stdout and "not a readable media file" in result.stdout
    # Operators' logs (the workers' loggers) still carry the failure; only the CLI's own
    # handler leaves it out, as it prints the reason itself.
    (logged,) = [r for r in caplog.records if "not a readable media file" in r.getMessage()]
    assert logged.name.startswith("workers.") and logged.levelname == "WARNING"
    from hybridlens.cli_films import _not_an_outcome

    assert not _not_an_outcome(logged)


def test_a_damaged_film_says_how_much_of_it_the_figures_cover(
    tmp_path: Path, film: GeneratedVideo, sqlite_url: str
) -> None:
    damaged = make_truncated(film.path, tmp_path / "damaged.mkv", keep_share=0.5)

    analysed = runner.invoke(build_app(), ["analyze", "--no-progress", "--db", sqlite_url,
                                           str(damaged)])  # fmt: skip
    shown = runner.invoke(build_app(), ["show", "1", "--db", sqlite_url])
    document = json.loads(runner.invoke(build_app(), ["show", "1", "--json", "--db",
                                                      sqlite_url]).stdout)  # fmt: skip

    assert analysed.exit_code == 0 and shown.exit_code == 0, analysed.stderr
    analysis = document["analysis"]
    assert analysis["status"] == "partial"
    stopped, whole = analysis["error_time_s"], analysis["summary"]["duration_s"]
    assert 0 < stopped < whole - 0.5
    # The same point the API gives (error_time_s), against the whole film's length.
    covered = f"analysed {stopped:.1f} s of {whole:.1f} s"
    assert covered in analysed.stdout and covered in shown.stdout
    assert f"partial, {covered}" in analysed.stderr
    assert f"  {whole:.1f} s," not in analysed.stdout + shown.stdout  # not as if all was seen


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://bob:secret@db/x", "postgresql+psycopg://bob:***@db/x"),
        ("postgres//bob:secret@db/x", "postgres//bob:***@db/x"),  # not a URL: still hidden
        ("postgresql://bob:p@ss@db:5432/x", "postgresql://bob:***@db:5432/x"),
        ("host=db password=secret user=bob", "host=db password=*** user=bob"),
        ("sqlite:///data/x.sqlite3", "sqlite:///data/x.sqlite3"),
    ],
)
def test_database_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    from hybridlens.cli_films import _hide_password

    assert _hide_password(url) == shown
