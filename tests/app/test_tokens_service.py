"""API tokens are stored hashed and checked against that hash."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiToken
from app.tokens import service as tokens_service
from app.tokens.schemas import TokenCreate


def test_create_token_stores_only_its_hash(session: Session) -> None:
    created = tokens_service.create_token(session, TokenCreate(name="ci", can_write=True))
    session.commit()

    row = session.scalars(select(ApiToken)).one()
    stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
    assert created.token.startswith("hl_") and len(created.token) > 40
    assert not any(created.token in value for value in stored)
    assert row.token_hash == tokens_service.hash_token(created.token)
    assert created.token.startswith(row.prefix)


def test_authenticate_accepts_token_and_records_use(session: Session) -> None:
    created = tokens_service.create_token(session, TokenCreate(name="reader"))

    token = tokens_service.authenticate(session, created.token)

    assert token is not None and token.id == created.id and not token.can_write
    assert token.last_used_at is not None


def test_authenticate_rejects_wrong_empty_and_revoked_tokens(session: Session) -> None:
    created = tokens_service.create_token(session, TokenCreate(name="gone"))

    assert tokens_service.authenticate(session, created.token + "x") is None
    assert tokens_service.authenticate(session, "") is None
    tokens_service.revoke_token(session, created.id)
    assert tokens_service.authenticate(session, created.token) is None
    assert [t.revoked for t in tokens_service.list_tokens(session)] == [True]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cached_token_stops_working_once_revoked_and_the_ttl_has_passed(
    session: Session,
) -> None:
    created = tokens_service.create_token(session, TokenCreate(name="cached"))
    clock = FakeClock()
    cache = tokens_service.TokenCache(ttl_s=5.0, clock=clock)
    assert tokens_service.authenticate(session, created.token, cache) is not None
    tokens_service.revoke_token(session, created.id)

    clock.now += 4.9
    within_ttl = tokens_service.authenticate(session, created.token, cache)
    clock.now += 0.2
    after_ttl = tokens_service.authenticate(session, created.token, cache)

    assert within_ttl is not None and within_ttl.id == created.id
    assert after_ttl is None


def test_token_cache_keeps_no_wrong_token_and_nothing_with_zero_ttl(session: Session) -> None:
    created = tokens_service.create_token(session, TokenCreate(name="uncached"))
    wrong = tokens_service.TokenCache(ttl_s=5.0)
    off = tokens_service.TokenCache(ttl_s=0.0)

    assert tokens_service.authenticate(session, created.token + "x", wrong) is None
    assert tokens_service.authenticate(session, created.token, off) is not None
    tokens_service.revoke_token(session, created.id)

    assert wrong.get(tokens_service.hash_token(created.token + "x")) is None
    assert tokens_service.authenticate(session, created.token, off) is None
