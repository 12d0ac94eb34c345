"""The ``hybridlens`` command: one entry point for models, films and the service.

Each group of commands lives in its own module and registers itself on ``app``; heavy
imports (torch, ffmpeg, the database) happen inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="hybridlens",
    help="Find and measure hybrid compositions (photographic + drawn content) in films.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


_registered = False


def build_app() -> typer.Typer:
    """The app with every command group registered (once)."""
    global _registered
    if not _registered:
        from hybridlens import cli_elan, cli_elements, cli_films, cli_ml, cli_service

        for module in (cli_ml, cli_films, cli_service, cli_elan, cli_elements):
            module.register(app)
        _registered = True
    return app


def main() -> None:
    build_app()()
