"""Getting film files into the archive: uploads streamed to disk and hashed on the way in,
and registration of files already on the archive's storage (never outside its root).

Uploads land in ``<media_dir>/incoming/`` while they arrive, then move (one rename) to
``<media_dir>/<sha[:2]>/<sha256><suffix>``; memory use does not depend on the file's size.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.errors import ForbiddenError, InvalidRequestError, PayloadTooLargeError
from app.core.security import resolve_under
from app.films import service as films_service
from app.films.schemas import FilmMetadata
from app.jobs import service as jobs_service
from app.pipeline.hashing import sha256_of_file

_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class UploadTooLarge(PayloadTooLargeError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the upload exceeds the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


class EmptyUpload(InvalidRequestError):
    def __init__(self) -> None:
        super().__init__("the upload is empty")


class RegistrationDisabled(ForbiddenError):
    def __init__(self) -> None:
        super().__init__("registering stored files is disabled (no storage root configured)")


class NotAFile(InvalidRequestError):
    def __init__(self) -> None:
        super().__init__("no readable file at that path under the storage root")


@dataclass(frozen=True)
class StoredFile:
    path: Path
    sha256: str
    size_bytes: int
    original_filename: str
    # False when an identical upload had already put the same bytes at ``path``.
    fresh: bool


class Ingested(BaseModel):
    film_id: int
    created: bool
    job_id: int | None


def safe_filename(name: str | None) -> str:
    """The last path component of a client's filename, without control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(char for char in base if char.isprintable() and char != "\x00").strip()
    return cleaned[:1024] or "upload"


def remove_stale_parts(media_dir: Path, *, older_than_s: float) -> list[Path]:
    """Delete upload parts (``media/incoming/*.part``) not written to for ``older_than_s``:
    left by an API process killed mid-upload (a live upload writes its part all the time).
    Returns what was deleted."""
    incoming = media_dir / "incoming"
    if not incoming.is_dir():
        return []
    cutoff = time.time() - older_than_s
    removed = []
    for part in incoming.glob("*.part"):
        try:
            if part.stat().st_mtime < cutoff:
                part.unlink()
                removed.append(part)
        except FileNotFoundError:  # finished or discarded meanwhile
            continue
    return removed


class IncomingFile:
    """One upload on its way to disk: written in the chunks it arrives in, hashed as written.

    Call ``write`` per chunk, then ``finish`` (or ``discard`` on any error).
    """

    def __init__(self, media_dir: Path, max_bytes: int) -> None:
        self._media_dir = media_dir
        self._max_bytes = max_bytes
        incoming = media_dir / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=incoming, suffix=".part")
        self._temp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.size_bytes + len(data) > self._max_bytes:
            raise UploadTooLarge(self._max_bytes)
        self._file.write(data)
        self._hash.update(data)
        self.size_bytes += len(data)

    def finish(self, original_filename: str) -> StoredFile:
        self._file.close()
        if self.size_bytes == 0:
            self.discard()
            raise EmptyUpload()
        sha256 = self._hash.hexdigest()
        suffix = Path(original_filename).suffix.lower()
        final = self._media_dir / sha256[:2] / f"{sha256}{suffix if _SUFFIX.match(suffix) else ''}"
        final.parent.mkdir(parents=True, exist_ok=True)
        fresh = not final.exists()
        if fresh:
            os.replace(self._temp, final)
        else:
            self._temp.unlink(missing_ok=True)
        return StoredFile(final, sha256, self.size_bytes, original_filename, fresh)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp.unlink(missing_ok=True)


def ingest(
    session: Session, stored: StoredFile, metadata: FilmMetadata, *, analyze: bool
) -> Ingested:
    """Register a stored upload; a file already known by its sha256 gives the existing film
    back untouched (and queues nothing). New films get an analysis job unless ``analyze`` is
    False. Enqueue the returned job only after the commit."""
    registered = films_service.register_film(
        session,
        stored.path,
        stored.sha256,
        None,
        metadata,
        original_filename=stored.original_filename,
        size_bytes=stored.size_bytes,
    )
    if not registered.created:
        existing_path = films_service.get_film(session, registered.film_id).stored_path
        if stored.fresh and Path(existing_path) != stored.path:
            # The same bytes were registered from the archive's storage: keep no copy.
            stored.path.unlink(missing_ok=True)
        return Ingested(film_id=registered.film_id, created=False, job_id=None)
    job_id = jobs_service.create_job(session, registered.film_id) if analyze else None
    return Ingested(film_id=registered.film_id, created=True, job_id=job_id)


def register_stored(
    session: Session,
    settings: Settings,
    relative_path: str,
    metadata: FilmMetadata,
    *,
    analyze: bool,
) -> Ingested:
    """Register a file that already lies under ``Settings.api.storage_root``, in place."""
    root = settings.api.storage_root
    if root is None:
        raise RegistrationDisabled()
    path = resolve_under(root, relative_path)
    try:
        readable = path.is_file() and os.access(path, os.R_OK)
    except OSError as exc:  # a name too long, a symlink loop...
        raise NotAFile() from exc
    if not readable:
        raise NotAFile()
    sha256, size = sha256_of_file(path)
    if size == 0:
        raise EmptyUpload()
    stored = StoredFile(path, sha256, size, path.name, fresh=False)
    return ingest(session, stored, metadata, analyze=analyze)


def is_owned(stored_path: str, settings: Settings) -> bool:
    """Whether the file is one of our uploads (ours to delete), not an archive file."""
    media = Path(os.path.realpath(settings.media_dir))
    return Path(os.path.realpath(stored_path)).is_relative_to(media)


def remove_owned_file(stored_path: str, settings: Settings) -> None:
    """Delete a deleted film's file if it was uploaded (registered archive files stay)."""
    if is_owned(stored_path, settings):
        Path(stored_path).unlink(missing_ok=True)
