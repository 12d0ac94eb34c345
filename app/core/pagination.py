"""One shape for every paginated answer: the page's items and the total they come from."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

# The absolute ceiling; the API narrows it further with ``Settings.api.page_size_max``.
MAX_PAGE_SIZE = 10_000


class PageParams(BaseModel):
    limit: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)
    offset: int = Field(default=0, ge=0)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
