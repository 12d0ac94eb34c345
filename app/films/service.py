"""Film logic: register a file once per sha256, keep its metadata, find films by their figures.

Every function takes an open session and leaves the commit to the caller (one
``session_scope`` per unit of work), and returns plain values, never ORM rows.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.errors import NotFoundError
from app.core.pagination import Page
from app.films import repository
from app.films.schemas import (
    FilmDetail,
    FilmMetadata,
    FilmMetadataUpdate,
    FilmPublic,
    FilmQuery,
    RegisteredFilm,
)
from app.models.base import utcnow


class FilmNotFound(NotFoundError):
    def __init__(self, film_id: int | str) -> None:
        super().__init__("film", film_id)


# Probe fields copied into indexed columns, with the other names a probe may use for them.
_PROBE_COLUMNS: dict[str, tuple[str, ...]] = {
    "duration_s": ("duration_s", "duration"),
    "fps": ("fps", "frame_rate", "avg_frame_rate"),
    "width": ("width",),
    "height": ("height",),
    "frame_count": ("frame_count", "nb_frames", "frames"),
    "has_audio": ("has_audio", "audio"),
}
_PROBE_TYPES: dict[str, type] = {
    "duration_s": float,
    "fps": float,
    "width": int,
    "height": int,
    "frame_count": int,
    "has_audio": bool,
}


def probe_as_dict(probe: Mapping[str, Any] | BaseModel | Any | None) -> dict[str, Any]:
    """A probe result (mapping, pydantic model or dataclass) as a JSON-ready dict."""
    if probe is None:
        return {}
    if isinstance(probe, BaseModel):
        return probe.model_dump(mode="json")
    if dataclasses.is_dataclass(probe) and not isinstance(probe, type):
        probe = dataclasses.asdict(probe)
    if not isinstance(probe, Mapping):
        raise TypeError(
            f"probe must be a mapping, a pydantic model or a dataclass, not {type(probe)}"
        )
    return _jsonable(dict(probe))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def probe_columns(probe: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed columns taken from a probe record; missing or unreadable ones are None."""
    columns: dict[str, Any] = {}
    for column, names in _PROBE_COLUMNS.items():
        raw = next((probe[name] for name in names if probe.get(name) is not None), None)
        try:
            columns[column] = None if raw is None else _PROBE_TYPES[column](raw)
        except (TypeError, ValueError):
            columns[column] = None
    return columns


def register_film(
    session: Session,
    path: str | os.PathLike[str],
    sha256: str,
    probe: Mapping[str, Any] | BaseModel | Any | None = None,
    metadata: FilmMetadata | Mapping[str, Any] | None = None,
    *,
    original_filename: str | None = None,
    size_bytes: int | None = None,
) -> RegisteredFilm:
    """Record a film file; a file already known by its sha256 gives back the existing film.

    The existing film keeps its stored path and metadata: the same bytes are the same film.
    ``size_bytes`` defaults to the file's size on disk.
    """
    sha256 = sha256.lower()
    existing = repository.get_id_by_sha256(session, sha256)
    if existing is not None:
        return RegisteredFilm(film_id=existing, created=False)

    meta = (
        metadata
        if isinstance(metadata, FilmMetadata)
        else FilmMetadata.model_validate(metadata or {})
    )
    probe_dict = probe_as_dict(probe)
    stored = Path(path)
    values: dict[str, Any] = {
        "sha256": sha256,
        "original_filename": original_filename or stored.name,
        "stored_path": str(stored),
        "size_bytes": stored.stat().st_size if size_bytes is None else size_bytes,
        "probe": probe_dict,
        **probe_columns(probe_dict),
        "title": meta.title,
        "year": meta.year,
        "extra": meta.extra,
        "created_at": utcnow(),
    }
    # Conflict-ignoring insert: a concurrent upload of the same file wins quietly.
    repository.insert_if_new(session, values)
    film_id = repository.get_id_by_sha256(session, sha256)
    if film_id is None:  # pragma: no cover - the row was just inserted or already there
        raise RuntimeError(f"film {sha256} vanished right after its insert")
    return RegisteredFilm(film_id=film_id, created=True)


def update_probe(
    session: Session, film_id: int, probe: Mapping[str, Any] | BaseModel | Any
) -> None:
    """Store (or replace) the probe of a film registered before it could be probed."""
    if not repository.exists_by_id(session, film_id):
        raise FilmNotFound(film_id)
    probe_dict = probe_as_dict(probe)
    repository.update_values(session, film_id, {"probe": probe_dict, **probe_columns(probe_dict)})


def update_metadata(session: Session, film_id: int, change: FilmMetadataUpdate) -> FilmPublic:
    values = change.model_dump(exclude_unset=True)
    if not repository.exists_by_id(session, film_id):
        raise FilmNotFound(film_id)
    if values:
        repository.update_values(session, film_id, values)
    return get_film(session, film_id)


def get_film(session: Session, film_id: int) -> FilmPublic:
    film = repository.get(session, film_id)
    if film is None:
        raise FilmNotFound(film_id)
    return FilmPublic.model_validate(film)


def get_film_detail(session: Session, film_id: int) -> FilmDetail:
    film = repository.get(session, film_id)
    if film is None:
        raise FilmNotFound(film_id)
    return FilmDetail.model_validate(film)


def name_the_file(text: str, stored_path: str, original_filename: str) -> str:
    """``text`` (an error about the film's file) with the server's path and storage name
    of the file replaced by the name its uploader gave it."""
    stored = Path(stored_path)
    names = {stored_path, os.path.abspath(stored_path), str(stored.resolve()), stored.name}
    names.discard(original_filename)
    names.discard("")
    if not names:
        return text
    # One pass, longest first: a whole path goes before the bare name inside it (ffmpeg
    # writes it as a "file:" URL).
    pattern = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    # Whole names only: stored "1.mp4" must not change "reel1.mp4".
    return re.sub(
        rf"(?<![\w.-])(?:file:)?(?:{pattern})(?![\w.-])", lambda _: original_filename, text
    )


def user_text(session: Session, film_id: int, text: str) -> str:
    """``name_the_file`` for a stored film (``text`` unchanged for an unknown film)."""
    film = repository.get(session, film_id)
    if film is None:
        return text
    return name_the_file(text, film.stored_path, film.original_filename)


def find_film_by_sha256(session: Session, sha256: str) -> int | None:
    return repository.get_id_by_sha256(session, sha256.lower())


def delete_film(session: Session, film_id: int) -> str:
    """Delete a film and everything computed from it; returns its stored path.

    The file itself is the caller's to remove (after the commit), since only the caller
    knows whether it owns it (an upload) or merely points at it (a registered archive file).
    """
    stored_path = repository.delete_by_id(session, film_id)
    if stored_path is None:
        raise FilmNotFound(film_id)
    return stored_path


def query_films(session: Session, query: FilmQuery) -> Page[FilmPublic]:
    rows, total = repository.query(session, query)
    return Page[FilmPublic](
        items=[FilmPublic.model_validate(row) for row in rows],
        total=total,
        limit=query.limit,
        offset=query.offset,
    )
