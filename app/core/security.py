"""Request security helpers: reading a bearer token, and keeping file paths inside a root."""

from __future__ import annotations

import os
from pathlib import Path

from app.core.errors import ForbiddenError, InvalidRequestError


class PathOutsideRoot(ForbiddenError):
    def __init__(self) -> None:
        # The message names neither the root nor the resolved path: both are server details.
        super().__init__("the path is outside the storage root")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def resolve_under(root: Path, candidate: str) -> Path:
    """``candidate`` (relative to ``root``, or absolute) resolved, symlinks and ``..`` included,
    and checked to lie inside ``root``; raises ``PathOutsideRoot`` otherwise.

    Resolving before the check is what defeats ``../`` and symlinks pointing out of the root.
    """
    if not candidate or "\x00" in candidate:
        raise InvalidRequestError("path must be a non-empty string without NUL characters")
    real_root = Path(os.path.realpath(root))
    path = Path(candidate)
    joined = path if path.is_absolute() else real_root / path
    resolved = Path(os.path.realpath(joined))
    if resolved != real_root and not resolved.is_relative_to(real_root):
        raise PathOutsideRoot()
    return resolved
