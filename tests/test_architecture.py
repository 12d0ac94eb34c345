"""Which package may import which: the fence is torch, not the folder.

``app`` (the torch-free core: domain, pipeline, exports, database, HTTP) never imports torch,
``workers`` or the CLI; ``workers`` never imports the CLI; the pure core (domain values,
registries, pipeline, exports) knows neither HTTP nor the database; the CLI imports torch
and model code only inside the commands that need them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH = ("torch", "torchvision", "transformers", "safetensors")


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # what it imports, dotted
    top_level: bool  # at import time (not inside a function, not under TYPE_CHECKING)


def _imports(package: str) -> Iterator[Import]:
    for path in sorted((REPO / package).rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        tree = ast.parse(path.read_text(), str(path))
        yield from _walk(module, tree.body, top_level=True)


def _walk(module: str, body: list[ast.stmt], *, top_level: bool) -> Iterator[Import]:
    for node in body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, top_level)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield Import(module, node.module, top_level)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _walk(module, node.body, top_level=False)
            yield from _walk(module, node.orelse, top_level=top_level)
        else:
            nested = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for field in ("body", "orelse", "finalbody", "handlers"):
                children = getattr(node, field, None)
                if isinstance(children, list) and children and isinstance(children[0], ast.AST):
                    statements = [
                        child.body if isinstance(child, ast.ExceptHandler) else [child]
                        for child in children
                    ]
                    flat = [stmt for group in statements for stmt in group]
                    yield from _walk(module, flat, top_level=top_level and not nested)


def _root(target: str) -> str:
    return target.split(".")[0]


def _under(target: str, *prefixes: str) -> bool:
    return any(target == prefix or target.startswith(prefix + ".") for prefix in prefixes)


def test_app_imports_neither_torch_nor_workers_nor_the_cli_anywhere() -> None:
    bad = [i for i in _imports("app") if _root(i.target) in (*TORCH, "workers", "hybridlens")]

    assert bad == []


def test_workers_never_import_the_cli() -> None:
    assert [i for i in _imports("workers") if _root(i.target) == "hybridlens"] == []


@pytest.mark.parametrize(
    "core",
    [
        "app.core.domain",
        "app.core.registry",
        "app.pipeline",
        "app.exports",
        "app.embeddings.index",
        "app.scenes.rule",
        "app.scenes.detectors",
        "app.scenes.methods",
    ],
)
def test_pure_core_knows_neither_http_nor_the_database(core: str) -> None:
    bad = [
        i
        for i in _imports("app")
        if _under(i.module, core) and _root(i.target) in ("fastapi", "starlette", "sqlalchemy")
    ]

    assert bad == []


def test_cli_imports_torch_and_model_code_only_inside_commands() -> None:
    bad = [
        i
        for i in _imports("hybridlens")
        if i.top_level and (_root(i.target) in TORCH or _under(i.target, "workers"))
    ]

    assert bad == []


def test_only_model_code_imports_torch_at_import_time_in_workers() -> None:
    """Stages, orchestrator and tasks load torch only when models are loaded: a cpu worker
    never does."""
    bad = [
        i
        for i in _imports("workers")
        if i.top_level and _root(i.target) in TORCH and not _under(i.module, "workers.ml")
        and not _under(i.module, "workers.shots")
    ]  # fmt: skip

    assert bad == []


@pytest.mark.parametrize(
    "modules",
    [
        "workers.orchestrator, workers.tasks.analysis, app.pipeline.detectors",
        "workers.tasks.still, app.scenes.detectors, app.embeddings.service",
        "hybridlens.cli",
    ],
)
def test_importing_loads_no_torch(modules: str) -> None:
    """(The API's own case is tests/service/test_deployment.py.)"""
    probe = (
        f"import sys, {modules}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{TORCH!r})\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == ""
