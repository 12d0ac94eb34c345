"""Every query on API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.models import ApiToken


def insert_token(session: Session, values: dict[str, Any]) -> int:
    token_id = session.scalar(insert(ApiToken).values(**values).returning(ApiToken.id))
    assert token_id is not None
    return token_id


def get(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id, populate_existing=True)


def get_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalars(
        select(ApiToken)
        .where(ApiToken.token_hash == token_hash)
        .execution_options(populate_existing=True)
    ).first()


def list_all(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)).all())


def touch(session: Session, token_id: int, when: datetime) -> None:
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(last_used_at=when)
        .execution_options(synchronize_session=False)
    )


def revoke(session: Session, token_id: int) -> bool:
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id)
        .values(revoked=True)
        .returning(ApiToken.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None
