"""`hybridlens` commands for the service: `serve` (the API), `worker` (a Celery worker),
`migrate` (bring the database schema up to date) and `token create|list|revoke`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)


def _database_url() -> str:
    from app.core.config import get_settings
    from app.core.db import ensure_database
    from hybridlens.cli_films import _database_errors

    url = get_settings().sqlalchemy_url
    with _database_errors(url):
        ensure_database(url)
    return url


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate: Annotated[
        bool, typer.Option(help="Upgrade the database schema before serving.")
    ] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the REST API (OpenAPI docs at /docs). Without HYBRIDLENS_REDIS_URL, analyses run
    in this process; with it, on Celery workers (`hybridlens worker`)."""
    import uvicorn

    from app.core.config import get_settings
    from app.main import create_app

    if migrate:
        _database_url()
    settings = get_settings()
    typer.echo(f"hybridlens API on http://{host}:{port} (tasks: {settings.task_mode})", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def worker_cmd(
    queues: Annotated[
        str, typer.Option(help="Comma-separated queues to consume: cpu, gpu or both.")
    ] = "cpu,gpu",
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork, solo or threads.")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "INFO",
    hostname: Annotated[
        str | None, typer.Option(help="Node name (default: celery@<host>).")
    ] = None,
) -> None:
    """Run a Celery worker for analysis stages (broker: HYBRIDLENS_REDIS_URL)."""
    wanted = [queue.strip() for queue in queues.split(",") if queue.strip()]
    unknown = set(wanted) - {"cpu", "gpu"}
    if not wanted or unknown:
        typer.echo("error: --queues takes cpu, gpu or cpu,gpu", err=True)
        raise typer.Exit(code=2)
    from workers.celery_app import app

    argv = [
        "worker",
        "--queues",
        ",".join(wanted),
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        loglevel,
    ]
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)


def migrate_cmd() -> None:
    """Bring the database schema up to date (Alembic upgrade head)."""
    from app.core.config import get_settings
    from app.core.db import upgrade_database
    from hybridlens.cli_films import _database_errors

    url = get_settings().sqlalchemy_url
    with _database_errors(url):
        upgrade_database(url)
    typer.echo("database schema is up to date", err=True)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Who or what the token is for.")],
    write: Annotated[
        bool, typer.Option("--write", help="Allow changes (uploads, jobs, deletes).")
    ] = False,
) -> None:
    """Create a token; it is printed once, as the last line, and cannot be shown again."""
    from app.core.db import session_scope
    from app.tokens import service as tokens_service
    from app.tokens.schemas import TokenCreate

    with session_scope(_database_url()) as session:
        created = tokens_service.create_token(session, TokenCreate(name=name, can_write=write))
    access = "read-write" if created.can_write else "read-only"
    typer.echo(f"token {created.id} ({created.name}, {access}); keep it, it is shown only once:")
    typer.echo(created.token)


@token_app.command("list")
def token_list() -> None:
    """List tokens (their prefixes, never the tokens)."""
    from app.core.db import session_scope
    from app.tokens import service as tokens_service

    with session_scope(_database_url()) as session:
        tokens = tokens_service.list_tokens(session)
    for token in tokens:
        access = "write" if token.can_write else "read"
        state = "revoked" if token.revoked else "active"
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        typer.echo(
            f"{token.id}\t{token.prefix}…\t{access}\t{state}\tlast used {used}\t{token.name}"
        )


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="The token's id.")]) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    from app.core.db import session_scope
    from app.tokens import service as tokens_service

    try:
        with session_scope(_database_url()) as session:
            tokens_service.revoke_token(session, token_id)
    except tokens_service.TokenNotFound as exc:
        typer.echo(f"error: no token {token_id}", err=True)
        raise typer.Exit(code=1) from exc
    typer.echo(f"token {token_id} revoked")


collection_app = typer.Typer(help="Collection settings.", no_args_is_help=True)


@collection_app.command("set-models")
def collection_set_models(
    collection_id: Annotated[int, typer.Argument(help="The collection's id.")],
    classifier: Annotated[
        Path | None, typer.Option(help="Classifier weights directory (a train run's model/).")
    ] = None,
    segmenter: Annotated[
        Path | None, typer.Option(help="Segmenter weights directory (a train run's model/).")
    ] = None,
) -> None:
    """Analyse the collection's films with these weights (e.g. fine-tuned on its annotations
    by `hybridlens train segmenter --init ... --annotations --collection ID`); with neither
    option, back to the configured ones. The next analysis of each film uses them
    (`POST /collections/{id}/analyze` re-analyses them all)."""
    from app.collections import service as collections_service
    from app.core.db import session_scope
    from workers.ml.checkpoint import WEIGHTS_NAME

    for directory in (classifier, segmenter):
        if directory is not None and not (directory / WEIGHTS_NAME).is_file():
            typer.echo(f"error: {directory} holds no {WEIGHTS_NAME}", err=True)
            raise typer.Exit(code=2)
    try:
        with session_scope(_database_url()) as session:
            collections_service.set_models(
                session,
                collection_id,
                classifier_path=str(classifier.resolve()) if classifier else None,
                segmenter_path=str(segmenter.resolve()) if segmenter else None,
            )
    except collections_service.CollectionNotFound as exc:
        typer.echo(f"error: no collection {collection_id}", err=True)
        raise typer.Exit(code=1) from exc
    chosen = ", ".join(
        f"{kind} {path}"
        for kind, path in (("classifier", classifier), ("segmenter", segmenter))
        if path
    )
    typer.echo(f"collection {collection_id}: {chosen or 'the configured models'}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("serve")(serve_cmd)
    app.command("worker")(worker_cmd)
    app.command("migrate")(migrate_cmd)
    app.add_typer(token_app, name="token")
    app.add_typer(collection_app, name="collection")
