"""`hybridlens elan`: import a scholar's ELAN tier as a film's labels, and measure the
analysis against them (the same services, and answers, as ``POST /films/{id}/elan`` and
``GET /films/{id}/elan/agreement``). ``hybridlens export ID --format eaf`` goes the other way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hybridlens.cli_films import AnalysisOpt, DbOpt, _database, _fail

if TYPE_CHECKING:
    from app.annotations.schemas import ElanAgreement, ElanImport

elan_app = typer.Typer(help="ELAN (.eaf) labels: import, agreement.", no_args_is_help=True)


@elan_app.command("import")
def import_cmd(
    film_id: Annotated[int, typer.Argument(help="Film id.")],
    file: Annotated[Path, typer.Argument(help="The .eaf file.", dir_okay=False)],
    tier: Annotated[str, typer.Option("--tier", help="The tier to import, e.g. 'Image Type'.")],
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="Override the value mapping, e.g. --map 'Still Image=P' (repeatable; classes "
            "P, NP, hybrid). Default: Animation=NP, Live-Action=P, Hybrid Image=hybrid.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The import's report as JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """Store the tier's annotations as the film's ELAN labels (replacing a previous import)."""
    from app.annotations import elan_service
    from app.core.db import session_scope
    from app.core.errors import ServiceError

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror}") from exc
    settings = _database(db)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            report = elan_service.import_eaf(
                session,
                film_id,
                data,
                tier=tier,
                mapping=mapping or [],
                author="cli",
                filename=file.name,
            )
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(report.model_dump_json() if as_json else _import_text(report))


@elan_app.command("agreement")
def agreement_cmd(
    film_id: Annotated[int, typer.Argument(help="Film id.")],
    analysis: AnalysisOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The figures as JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """The analysis's classes against the imported ELAN labels, by running time."""
    from app.annotations import elan_service
    from app.core.db import session_scope
    from app.core.errors import ServiceError

    settings = _database(db)
    try:
        with session_scope(settings.sqlalchemy_url) as session:
            result = elan_service.agreement(session, film_id, analysis)
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    typer.echo(json.dumps(result.model_dump(mode="json")) if as_json else _agreement_text(result))


def _import_text(report: ElanImport) -> str:
    lines = [
        f"film {report.film_id}: {len(report.imported)} ranges of tier {report.tier!r} imported"
        + (f", {report.replaced} of the previous import replaced" if report.replaced else "")
    ]
    by_class: dict[str, float] = {}
    for item in report.imported:
        by_class[item.label.value] = by_class.get(item.label.value, 0.0) + (
            item.end_time - item.start_time
        )
    lines.extend(f"  {label:<7} {seconds:9.2f} s" for label, seconds in sorted(by_class.items()))
    for skipped in report.skipped:
        lines.append(
            f"  not mapped: {skipped.value!r} ({skipped.count}x, {skipped.duration_s:.2f} s); "
            f"map it with --map '{skipped.value}=P|NP|hybrid'"
        )
    return "\n".join(lines)


def _agreement_text(result: ElanAgreement) -> str:
    share = "n/a" if result.agreement is None else f"{result.agreement:.1%}"
    classes = [item.label.value for item in result.classes]
    lines = [
        f"film {result.film_id}, analysis {result.analysis_id}: agreement {share} of "
        f"{result.compared_s:.2f} s compared ({result.labelled_s:.2f} s labelled, "
        f"{result.unclassified_s:.2f} s unclassified)",
        "seconds by ELAN label (rows) and analysis class (columns):",
        f"  {'':<8}" + "".join(f"{name:>10}" for name in classes),
    ]
    for row in classes:
        lines.append(
            f"  {row:<8}" + "".join(f"{result.confusion[row][name]:>10.2f}" for name in classes)
        )
    for item in result.classes:
        recall = "n/a" if item.recall is None else f"{item.recall:.1%}"
        precision = "n/a" if item.precision is None else f"{item.precision:.1%}"
        lines.append(f"  {item.label.value}: recall {recall}, precision {precision}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(elan_app, name="elan")
