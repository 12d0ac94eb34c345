"""``hybridlens elements``: a collection's recurring drawn elements, and running the
elements job here (the same services and job as ``POST /collections/{id}/elements``)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from hybridlens.cli_films import DbOpt, _fail, _open_database, _settings, _setup_logging


def register(app: typer.Typer) -> None:
    app.command("elements")(elements_cmd)


def elements_cmd(
    collection_id: Annotated[int, typer.Argument(help="Collection id.")],
    run: Annotated[
        bool,
        typer.Option("--run", help="Run the elements job here first (extract, refine, cluster)."),
    ] = False,
    refine: Annotated[
        bool, typer.Option("--refine/--no-refine", help="Refine the embedding on the collection.")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="The clusters as JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """List the clusters of recurring drawn elements of a collection (largest first)."""
    from app.core.db import session_scope
    from app.core.errors import ServiceError
    from app.elements import service as elements_service
    from app.elements.schemas import ElementRunCreate

    settings = _settings(db)
    _setup_logging(settings)
    _open_database(settings)
    try:
        if run:
            from workers.elements.job import run_elements

            with session_scope(settings.sqlalchemy_url) as session:
                run_id = elements_service.start_run(
                    session, collection_id, ElementRunCreate(refine=refine, seed=seed)
                )
            outcome = run_elements(settings, run_id)
            if outcome is None or outcome.status.value != "done":
                reason = outcome.error if outcome is not None else "the run did not start"
                raise _fail(f"element run failed: {reason}")
        with session_scope(settings.sqlalchemy_url) as session:
            clusters = elements_service.list_clusters(session, collection_id)
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps([cluster.model_dump() for cluster in clusters]))
        return
    if not clusters:
        typer.echo("no clusters (run with --run to find them)")
    for cluster in clusters:
        films = ", ".join(f"film {film.film_id} x{film.count}" for film in cluster.films)
        typer.echo(
            f"cluster {cluster.cluster_id}: {cluster.name or '(unnamed)'}, {cluster.size} sightings; {films}"
        )
