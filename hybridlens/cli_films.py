"""`hybridlens` commands for films: analyse files in-process, show, export and plot results.

``analyze`` runs the embedded mode (SQLite under the data directory unless ``--db`` or
HYBRIDLENS_DATABASE_URL say otherwise). Progress bars and logs go to stderr; stdout carries
the human summary, or with ``--json`` one JSON object per film per line and nothing else.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tqdm import tqdm

    from app.analysis.schemas import FilmReport
    from app.core.config import Settings
    from app.films.schemas import FilmDetail
    from workers.orchestrator import AnalysisResult

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (overrides HYBRIDLENS_DATABASE_URL; default: SQLite in the data dir).",
    ),
]
AnalysisOpt = Annotated[
    int | None,
    typer.Option("--analysis", help="Which analysis of the film (default: its latest result)."),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("analyze")(analyze_cmd)
    app.command("show")(show_cmd)
    app.command("export")(export_cmd)
    app.command("plot")(plot_cmd)
    app.command("similar")(similar_cmd)


# ----------------------------------------------------------------------------------------------
# Commands


def analyze_cmd(
    films: Annotated[list[Path], typer.Argument(help="Film files to analyse.", show_default=False)],
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per film on stdout, nothing else.")
    ] = False,
    db: DbOpt = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bars on stderr.")
    ] = True,
) -> None:
    """Analyse films end to end in this process and store the results.

    Exits with code 1 when any film failed (the others are still analysed).
    """
    from workers.stages.models import ModelLoader

    settings = _settings(db)
    _check_url(settings.sqlalchemy_url)  # a mistyped --db fails before torch starts loading
    # Torch and the weights load on a thread of their own while the first film is probed
    # and decoded; the imports below and the database check run meanwhile too.
    models = ModelLoader(settings.model) if any(film.is_file() for film in films) else None

    from app.analysis import service as analysis_service
    from app.core.db import session_scope
    from app.exports.tables import film_document
    from workers.orchestrator import analyze_path

    _setup_logging(settings)
    _open_database(settings)
    failures = 0
    for film in films:
        bars = _StageBars(film.name, enabled=progress)
        try:
            result = analyze_path(film, settings, models=models, progress=bars)
        finally:
            bars.close()
        if not result.ok:
            failures += 1
            typer.echo(f"error: {film}: {result.error or result.status.value}", err=True)
        elif result.error:
            status = result.status.value
            if status == "partial" and result.summary:
                status += f", {_analysed(result.summary, result.error_time_s)}"
            typer.echo(f"warning: {film}: {status}: {result.error}", err=True)
        if as_json:
            if result.film_id is None:
                document = _unregistered_json(result)
            else:
                with session_scope(settings.sqlalchemy_url) as session:
                    report = analysis_service.get_film_report(
                        session, result.film_id, result.analysis_id
                    )
                document = film_document(report)
            typer.echo(json.dumps(document, default=str))
        else:
            typer.echo(_result_text(result))
    if failures:
        raise typer.Exit(code=1)


def show_cmd(
    film_id: Annotated[int, typer.Argument(help="Film id (see `hybridlens analyze`).")],
    analysis: AnalysisOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """Show a film, its analysis summary and its shots."""
    from app.exports.tables import film_document

    report = _report(film_id, analysis, db)
    if as_json:
        typer.echo(json.dumps(film_document(report)))
    else:
        typer.echo(_report_text(report))


def export_cmd(
    film_id: Annotated[int, typer.Argument(help="Film id.")],
    out: Annotated[Path, typer.Option("--out", help="File to write ('-' for stdout).")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="csv (one row per sampled frame), json, shots.csv, edl, otio, annotations or "
            "eaf (ELAN).",
        ),
    ] = "csv",
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Where the API serves the film, for the links in otio and annotations "
            "(default: http://127.0.0.1:8000, where `hybridlens serve` listens).",
        ),
    ] = None,
    drop_frame: Annotated[
        bool,
        typer.Option(
            "--drop-frame", help="Drop-frame timecode in edl/otio (29.97 and 59.94 fps films)."
        ),
    ] = False,
    analysis: AnalysisOpt = None,
    db: DbOpt = None,
) -> None:
    """Export one film's analysis: the same file, byte for byte, as the API's export."""
    from app.core.errors import ServiceError
    from app.core.registry import UnknownName
    from app.exports.registry import DEFAULT_BASE_URL, EXPORTS, ExportTarget, export_film

    try:
        export = EXPORTS.get(fmt)
    except UnknownName as exc:
        raise _fail(str(exc)) from exc
    to_stdout = str(out) == "-"
    if not to_stdout:
        _check_out(out, example=f"film-{film_id}.{export.suffix}")
    report = _report(film_id, analysis, db)
    target = ExportTarget(
        film_id=film_id, base_url=base_url or DEFAULT_BASE_URL, drop_frame=drop_frame
    )
    try:
        text = export_film(report, fmt, target).body
    except ServiceError as exc:  # not analysed, failed, or drop-frame asked of a 25 fps film
        raise _fail(str(exc)) from exc
    if to_stdout:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _cannot_write(out, exc) from exc
    typer.echo(f"wrote {out}", err=True)


def similar_cmd(
    film_id: Annotated[int, typer.Argument(help="The query frame's film.")],
    frame_index: Annotated[int, typer.Argument(help="The query frame's number (a sampled frame).")],
    k: Annotated[int, typer.Option("--k", help="How many frames.")] = 20,
    collection: Annotated[
        int | None, typer.Option("--collection", help="Only frames of this collection's films.")
    ] = None,
    frame_class: Annotated[
        str | None, typer.Option("--class", help="Only frames of this class: P, NP or hybrid.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """The frames of every film most like one frame, best first (what GET /frames/similar
    answers), one JSON object per line."""
    from app.core.db import session_scope
    from app.core.domain import FrameClass
    from app.core.errors import ServiceError
    from app.embeddings import service as embeddings_service

    settings = _database(db)
    try:
        chosen_class = FrameClass(frame_class) if frame_class else None
    except ValueError as exc:
        raise _fail(f"--class must be one of {', '.join(c.value for c in FrameClass)}") from exc
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            hits = embeddings_service.similar_to_frame(
                session,
                film_id,
                frame_index,
                k=k,
                collection_id=collection,
                frame_class=chosen_class,
            )
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    for hit in hits:
        typer.echo(hit.model_dump_json())


def plot_cmd(
    film_id: Annotated[int, typer.Argument(help="Film id.")],
    out: Annotated[
        Path,
        typer.Option("--out", help="Image file to write: .png (or a bare name), .svg or .pdf."),
    ] = Path("timeline.png"),
    analysis: AnalysisOpt = None,
    db: DbOpt = None,
) -> None:
    """Plot P / NP / hybrid over the film's running time and the P fraction of each frame."""
    _check_out(out, example=f"film-{film_id}-timeline.png")
    if plot_format(out) is None:
        raise _fail(f"cannot plot into {out}: name a {_PLOT_SUFFIXES} file")
    report = _report(film_id, analysis, db)
    if report.analysis is None or not report.frames:
        raise _fail(f"film {film_id} has no analysed frames to plot")
    try:
        plot_timeline(report, out)
    except OSError as exc:
        raise _cannot_write(out, exc) from exc
    typer.echo(f"wrote {out}", err=True)


# ----------------------------------------------------------------------------------------------
# Output


# Class colours shared by the band and the shares: photographic, hybrid, drawn.
CLASS_COLOURS = {"P": "#4C78A8", "hybrid": "#F58518", "NP": "#54A24B"}
# The picture formats a plot is written in, by the suffix of its name (a bare name: PNG).
# Matplotlib knows more, but not as a picture one opens (.pgf needs LaTeX, .raw and .rgba
# are bare pixels), and any other name (.txt) would hold PNG bytes under a wrong suffix.
PLOT_FORMATS = {"": "png", ".png": "png", ".svg": "svg", ".pdf": "pdf"}
_PLOT_SUFFIXES = ".png, .svg or .pdf"


def plot_format(out: Path) -> str | None:
    """The format ``plot_timeline`` writes ``out`` in; None for a suffix it refuses."""
    return PLOT_FORMATS.get(out.suffix.lower())


def plot_timeline(report: FilmReport, out: Path) -> None:
    """A picture, at ``out`` exactly: the class of each stretch of running time (band), the
    shares of P / hybrid / NP over the film (stacked, per timeline bin), and each sampled
    frame's P fraction. In the format of ``PLOT_FORMATS`` for the name's suffix; never a name
    other than ``out`` (matplotlib alone would add ".png" to a bare one)."""
    import matplotlib.pyplot as plt

    kind = plot_format(out)
    if kind is None:
        raise ValueError(f"cannot plot into {out}: name a {_PLOT_SUFFIXES} file")
    figure = timeline_figure(report)
    try:
        figure.savefig(out, dpi=100, format=kind)
    finally:
        plt.close(figure)


def timeline_figure(report: FilmReport) -> Any:
    """The figure ``plot_timeline`` saves. Everything is drawn on one time axis: each bin is
    shaded from its start to its end, and each frame's P fraction holds from its time for
    the running time it stands for (``weight_s``), as the band and the statistics count it."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a display
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    analysis = report.analysis
    assert analysis is not None
    duration_s = report.film.duration_s or max(f.time_s + f.weight_s for f in report.frames)
    figure, (band, curve) = plt.subplots(
        2, 1, figsize=(12, 4.5), sharex=True, gridspec_kw={"height_ratios": [1, 4]}
    )
    for frame_class, colour in CLASS_COLOURS.items():
        spans = [(f.time_s, f.weight_s) for f in report.frames if f.frame_class == frame_class]
        band.broken_barh(spans, (0, 1), facecolors=colour)
    for shot in report.shots[1:]:
        band.axvline(shot.start_time, color="black", linewidth=0.5)
    band.set_yticks([])
    band.set_ylim(0, 1)
    ratio = (analysis.summary or {}).get("hybrid_ratio")
    band.set_title(
        f"{report.film.original_filename}: hybrid ratio "
        f"{'-' if ratio is None else f'{ratio:.1%}'} ({analysis.status.value})"
    )

    bins = analysis.timeline if isinstance(analysis.timeline, list) else []
    if bins:
        # Bin edges with step="post": bin i is shaded over [start_s, end_s), where its
        # figures were counted (centres with step="mid" began half a bin late).
        edges = [b["start_s"] for b in bins] + [bins[-1]["end_s"]]
        shares = [
            [b[key] for b in bins] + [bins[-1][key]]
            for key in ("p_share", "hybrid_share", "np_share")
        ]
        curve.stackplot(edges, *shares, colors=list(CLASS_COLOURS.values()), alpha=0.3, step="post")
    if report.frames:
        last = report.frames[-1]
        curve.plot(
            [f.time_s for f in report.frames] + [last.time_s + last.weight_s],
            [f.p_fraction for f in report.frames] + [last.p_fraction],
            color="black",
            marker=".",
            markevery=list(range(len(report.frames))),  # no dot on the closing point
            linewidth=1,
            drawstyle="steps-post",
        )
    curve.set_ylim(0, 1)
    curve.set_xlim(0, duration_s)
    curve.set_xlabel("time (s)")
    curve.set_ylabel("P fraction / share")
    handles = [Patch(color=c, label=k) for k, c in CLASS_COLOURS.items()]
    curve.legend(handles=handles, loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure


def _result_text(result: AnalysisResult) -> str:
    ids = f"film {result.film_id}, analysis {result.analysis_id}"
    head = f"{result.path}: {result.status.value} ({ids}, {result.wall_s:.1f} s)"
    if result.film_id is None:
        return f"{result.path}: {result.status.value}: {result.error or 'no reason given'}"
    if not result.summary:
        return f"{head}\n  {result.error or ''}".rstrip()
    # A partial analysis, or one with no analysable frames, says why above its figures.
    note = f"\n  {result.error}" if result.error else ""
    partial = result.status.value == "partial"
    return (
        head
        + note
        + "\n"
        + _summary_text(result.summary, partial=partial, stopped_s=result.error_time_s)
    )


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _adjusted(summary: dict[str, Any]) -> str:
    adjusted = summary.get("adjusted_hybrid_ratio")
    if adjusted is None:
        return ""
    text = f"{_share(adjusted)} adjusted for the models' measured error rates"
    span = summary.get("hybrid_ratio_range")
    if span:
        text += f"; 90% likely between {_share(span[0])} and {_share(span[1])}"
    return f" ({text})"


def _seconds(value: float | None) -> str:
    return "? s" if value is None else f"{value:.1f} s"


def _count(value: int | None, noun: str) -> str:
    if value is None:
        return f"? {noun}s"
    return f"{value} {noun}" + ("" if value == 1 else "s")


def _coverage(summary: dict[str, Any], *, partial: bool, stopped_s: float | None) -> str:
    """How much of the film the figures stand for: all of it, or (a damaged film, analysed
    ``partial``) its first part, up to where decoding stopped (the API's ``error_time_s``)."""
    if not partial:
        return _seconds(summary.get("duration_s"))
    return f"{_analysed(summary, stopped_s)} (the figures below are for that part only)"


def _analysed(summary: dict[str, Any], stopped_s: float | None) -> str:
    """How much a partial analysis covers, e.g. "analysed 1.8 s of 30.0 s": the film up to
    where decoding stopped (none of it when decoding broke before the first frame)."""
    analysed = 0.0 if stopped_s is None else stopped_s
    return f"analysed {_seconds(analysed)} of {_seconds(summary.get('duration_s'))}"


def _in_bars(summary: dict[str, Any]) -> str:
    """ ", N judged inside black bars" when the models looked inside letterbox or pillarbox
    bars, ", N with subtitles left out" when they looked above burned-in subtitles, ", N with
    a colour cast taken out" when they took faded or tinted colours out (none in analyses
    made before these were counted)."""
    bars = summary.get("frames_in_bars") or 0
    subtitles = summary.get("frames_with_subtitles") or 0
    balanced = summary.get("frames_colour_balanced") or 0
    return (
        (f", {bars} judged inside black bars" if bars else "")
        + (f", {subtitles} with subtitles left out" if subtitles else "")
        + (f", {balanced} with a colour cast taken out" if balanced else "")
    )


def _summary_text(
    summary: dict[str, Any], *, partial: bool = False, stopped_s: float | None = None
) -> str:
    coverage = _coverage(summary, partial=partial, stopped_s=stopped_s)
    counts = (
        f"{_count(summary.get('shot_count'), 'shot')} "
        f"({summary.get('hybrid_shot_count') or 0} hybrid), "
        f"{_count(summary.get('sampled_frames'), 'frame')} sampled "
        f"({summary.get('segmented_frames') or 0} segmented{_in_bars(summary)})"
    )
    # A partial analysis says how much was analysed on a line of its own, first.
    figures = f"  {coverage}\n  {counts}" if partial else f"  {coverage}, {counts}"
    return (
        f"{figures}\n"
        f"  hybrid ratio {_share(summary.get('hybrid_ratio'))}{_adjusted(summary)}; running time P "
        f"{_share(summary.get('p_time_share'))}, NP {_share(summary.get('np_time_share'))}, "
        f"hybrid {_share(summary.get('hybrid_time_share'))}; mean P area "
        f"{_share(summary.get('mean_p_fraction'))}; longest hybrid run "
        f"{_seconds(summary.get('longest_hybrid_run_s') or 0.0)}"
    )


def _report_text(report: FilmReport) -> str:
    from app.pipeline.timecode import timestamp

    film, analysis = report.film, report.analysis
    lines = [
        f"film {film.id}: {film.original_filename} ({film.stored_path})",
        f"  sha256 {film.sha256}",
        f"  {_film_facts(film)}",
    ]
    if analysis is None:
        lines.append("  not analysed")
        return "\n".join(lines)
    lines.append(f"analysis {analysis.id}: {analysis.status.value}")
    if analysis.error:
        lines.append(f"  {analysis.error}")
    if analysis.summary:
        partial = analysis.status.value == "partial"
        lines.append(
            _summary_text(analysis.summary, partial=partial, stopped_s=analysis.error_time_s)
        )
    if report.shots:
        lines.append("shots:")
        lines.append("  shot  start         end           class   hybrid  mean P  frames")
        for shot in report.shots:
            mean_p = "-" if shot.mean_p_fraction is None else f"{shot.mean_p_fraction:.2f}"
            lines.append(
                f"  {shot.number:>4}  {timestamp(shot.start_time)}  "
                f"{timestamp(shot.end_time)}  "
                f"{shot.frame_class.value if shot.frame_class else '-':<6}  "
                f"{shot.hybrid_ratio:>6.1%}  {mean_p:>6}  {shot.sampled_frames or 0:>6}"
            )
    return "\n".join(lines)


def _film_facts(film: FilmDetail) -> str:
    """Size, rate, length, frames and audio, as far as the probe could tell them; the rest
    named as unknown (a file that is not a video has none of them)."""
    facts = {
        "size": f"{film.width}x{film.height}" if film.width and film.height else None,
        "frame rate": f"{film.fps:.3f} fps" if film.fps else None,
        "duration": None if film.duration_s is None else f"{film.duration_s:.1f} s",
        "frame count": None if film.frame_count is None else _count(film.frame_count, "frame"),
    }
    known = [fact for fact in facts.values() if fact is not None]
    unknown = [name for name, fact in facts.items() if fact is None]
    if facts["size"] is not None:  # "no audio" means something only for a film that was read
        known.append("audio yes" if film.has_audio else "audio no")
    parts = [", ".join(known)] if known else []
    if unknown:
        names = unknown[0] if len(unknown) == 1 else f"{', '.join(unknown[:-1])} and {unknown[-1]}"
        parts.append(f"{names} unknown")
    return "; ".join(parts)


def _unregistered_json(result: AnalysisResult) -> dict[str, Any]:
    """The document for a file that could not even be registered (missing, a directory)."""
    return {
        "film": {"id": None, "path": result.path},
        "analysis": {"id": None, "status": result.status.value, "error": result.error},
        "shots": [],
        "frames": [],
    }


# ----------------------------------------------------------------------------------------------
# Helpers


class _StageBars:
    """One tqdm bar per stage on stderr, fed by the analysis' progress callback."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled
        self.stage: str | None = None
        self.bar: tqdm[Any] | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage or self.bar is None:
            self.close()
            self.stage = stage
            self.bar = tqdm(
                total=total,
                desc=f"{self.label}: {stage}",
                unit="frame",
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _settings(db: str | None) -> Settings:
    from app.core.config import get_settings

    settings = get_settings()
    if not db:
        return settings
    _check_sqlite_folder(db)
    return settings.model_copy(update={"database_url": db})


def _check_sqlite_folder(url: str) -> None:
    """A SQLite file named by ``--db`` must be in a folder that exists: a mistyped folder is
    refused, not created (only the data dir, the default, is made on first use)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return  # said when the database is opened
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return
    if database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    if not folder.is_dir():
        where = "does not exist" if not folder.exists() else "is not a folder"
        raise _fail(f"cannot use database {_hide_password(url)}: folder {folder} {where}", 1)


class _UserLogFormat(logging.Formatter):
    """Log lines as the CLI's own messages look: ``warning: ...``, no logger names."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {super().format(record)}"


def _not_an_outcome(record: logging.LogRecord) -> bool:
    """Leave out the records that state an analysis's outcome (``OUTCOME_LOG``): ``analyze``
    prints each film's outcome itself, once; workers' logs keep them."""
    return not getattr(record, "analysis_outcome", False)


def _setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UserLogFormat("%(message)s"))
    handler.addFilter(_not_an_outcome)
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    # Migration chatter on every first use, and torch's cache statistics at exit, say nothing
    # a user of `analyze` needs.
    for library in ("alembic", "torch"):
        logging.getLogger(library).setLevel(max(logging.WARNING, logging.root.level))


def _report(film_id: int, analysis_id: int | None, db: str | None) -> FilmReport:
    from app.analysis import service as analysis_service
    from app.core.db import session_scope
    from app.core.errors import NotFoundError

    settings = _database(db)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            return analysis_service.get_film_report(session, film_id, analysis_id)
    except NotFoundError as exc:
        raise _fail(str(exc)) from exc


def _database(db: str | None) -> Settings:
    """The settings, with ``--db`` applied, once their database is usable (schema brought up
    to date); a one-line error and exit 1 when it is not."""
    settings = _settings(db)
    _open_database(settings)
    return settings


def _open_database(settings: Settings) -> None:
    from app.core.db import ensure_database

    url = settings.sqlalchemy_url
    with _database_errors(url):
        ensure_database(url)


def _check_url(url: str) -> None:
    """That ``url`` is a database URL this program has a driver for (no connection made)."""
    from sqlalchemy.engine import make_url

    with _database_errors(url):
        make_url(url).get_dialect()


@contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """A database that cannot be used (a malformed URL, a driver not installed, a server not
    answering, a refused login, an unwritable SQLite file) ends the command with one line
    naming it, its password hidden, and the reason."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, ImportError, OSError) as exc:
        reason = _database_reason(exc, url)
        raise _fail(f"cannot use database {_hide_password(url)}: {reason}", code=1) from exc


def _hide_password(text: str) -> str:
    """``text`` with any password in it hidden: a URL's (``scheme://user:PASSWORD@host``) or a
    connection string's (``password=PASSWORD``)."""
    # user:PASSWORD@ with or without a scheme, up to the last @ (a password may hold one).
    text = re.sub(r"(^|[/\s])([^/:@\s]*:)[^/\s]*@", r"\1\2***@", text)
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.IGNORECASE)


def _database_reason(exc: BaseException, url: str) -> str:
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(exc, NoSuchModuleError):
        scheme = url.partition("://")[0] or url
        return (
            f"unknown kind of database {scheme!r} (use sqlite:///FILE or postgresql+psycopg://...)"
        )
    if isinstance(exc, ArgumentError):
        return "not a database URL (use sqlite:///FILE or postgresql+psycopg://...)"
    if isinstance(exc, ImportError):
        return f"its driver is not installed ({exc.name or exc})"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{(exc.strerror or str(exc)).lower()}{where}"
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    # The driver's first line says it (the rest are hints and SQLAlchemy's links).
    reason = next((line.strip() for line in str(cause).splitlines() if line.strip()), "")
    return _hide_password(reason) or "the database did not answer"


def _check_out(out: Path, *, example: str) -> None:
    """That a file can be written at ``out``: not a folder, in a folder that exists (a typo
    in the folder must not create it). Exit 1 with the reason otherwise."""
    if out.is_dir():
        raise _fail(f"cannot write {out}: it is a folder; name a file, e.g. {out / example}", 1)
    folder = out.parent
    if not folder.exists():
        raise _fail(f"cannot write {out}: folder {folder} does not exist", code=1)
    if not folder.is_dir():
        raise _fail(f"cannot write {out}: {folder} is not a folder", code=1)


def _cannot_write(out: Path, exc: OSError) -> typer.Exit:
    reason = exc.strerror or str(exc)
    return _fail(f"cannot write {out}: {reason[:1].lower()}{reason[1:]}", code=1)


def _fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; the exit to raise. Code 2: the command was asked
    something it cannot do (unknown film, bad option); 1: a file or database failed it."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=code)
