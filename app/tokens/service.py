"""API token logic: mint a random token, keep only its sha256, check tokens on requests.

A sha256 (not a slow password hash) is enough: tokens are 256 random bits, not guessable
words, and the check runs on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from app.core.errors import NotFoundError
from app.models.base import utcnow
from app.tokens import repository
from app.tokens.schemas import CreatedToken, TokenCreate, TokenPublic

TOKEN_PREFIX = "hl_"
# last_used_at is refreshed at most this often, so reads do not all turn into writes.
TOUCH_INTERVAL = timedelta(minutes=1)


class TokenNotFound(NotFoundError):
    def __init__(self, token_id: int) -> None:
        super().__init__("token", token_id)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, data: TokenCreate) -> CreatedToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = repository.insert_token(
        session,
        {
            "name": data.name,
            "token_hash": hash_token(token),
            "prefix": token[:10],
            "can_write": data.can_write,
            "created_at": utcnow(),
            "revoked": False,
        },
    )
    row = repository.get(session, token_id)
    assert row is not None
    return CreatedToken(**TokenPublic.model_validate(row).model_dump(), token=token)


class TokenCache:
    """Tokens the database recently vouched for, by hash, each trusted for ``ttl_s`` seconds
    without asking again: a film page asks for a hundred pictures at once, and each would
    otherwise look its token up. So a token revoked or deleted elsewhere (the CLI) still
    works for at most ``ttl_s`` in a process that checked it just before. Only good tokens
    are kept (a wrong one is always looked up), so the cache holds at most one entry per
    live token. ``ttl_s=0`` keeps nothing."""

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[str, tuple[float, TokenPublic]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> TokenPublic | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self._clock() >= entry[0]:
                del self._entries[digest]
                return None
            return entry[1]

    def put(self, digest: str, token: TokenPublic) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            now = self._clock()
            # Drop expired entries now and then, so revoked tokens do not pile up.
            for stale in [key for key, (until, _) in self._entries.items() if until <= now]:
                del self._entries[stale]
            self._entries[digest] = (now + self.ttl_s, token)


def authenticate(
    session: Session, token: str, cache: TokenCache | None = None
) -> TokenPublic | None:
    """The token's record if it is known and not revoked, else None; with a ``cache``, a
    token checked less than its ``ttl_s`` ago is not looked up again."""
    if not token:
        return None
    digest = hash_token(token)
    if cache is not None and (known := cache.get(digest)) is not None:
        return known
    row = repository.get_by_hash(session, digest)
    # The lookup is by hash, so timing cannot reveal the token; compare anyway for form.
    if row is None or row.revoked or not hmac.compare_digest(row.token_hash, digest):
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        repository.touch(session, row.id, now)
        row.last_used_at = now
    public = TokenPublic.model_validate(row)
    if cache is not None:
        cache.put(digest, public)
    return public


def list_tokens(session: Session) -> list[TokenPublic]:
    return [TokenPublic.model_validate(row) for row in repository.list_all(session)]


def revoke_token(session: Session, token_id: int) -> None:
    if not repository.revoke(session, token_id):
        raise TokenNotFound(token_id)
