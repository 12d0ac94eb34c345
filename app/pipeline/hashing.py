"""The sha256 a film is known by, read from disk in blocks (films are many gigabytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

BLOCK_BYTES = 1 << 20


def sha256_of_file(path: str | Path) -> tuple[str, int]:
    """(hex sha256, size in bytes) of a file, read once."""
    digest = hashlib.sha256()
    size = 0
    with Path(path).open("rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
