"""Who the caller is: the token's name and what it may do, so the page offers only the
actions the token is allowed (a read-only token sees no Upload, Create or Re-analyse)."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import ReaderDep
from app.api.schemas import Me

router = APIRouter(tags=["tokens"])


@router.get("/me", response_model=Me)
def me(token: ReaderDep) -> Me:
    """The caller's token (never its secret) and whether it may change data."""
    return Me(token_name=token.name, token_prefix=token.prefix, can_write=token.can_write)
