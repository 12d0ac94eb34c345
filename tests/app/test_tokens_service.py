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
