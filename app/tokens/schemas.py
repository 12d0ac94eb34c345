"""Values that cross the tokens boundary. Only ``CreatedToken`` ever carries a secret."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    can_write: bool = False


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    can_write: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class CreatedToken(TokenPublic):
    """The one time the token itself is shown; it cannot be recovered afterwards."""

    token: str
