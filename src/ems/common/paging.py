"""Paging for every list route: `page` and `size` query parameters, bounded (422 beyond),
the page a query selects, the `{items, total, page, size}` body, and search by `q`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

# Far beyond any real list, far below what a database offset can hold.
MAX_PAGE = 100_000

Row = TypeVar("Row")
Item = TypeVar("Item", bound=BaseModel)


@dataclass(frozen=True)
class PageParams:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def page_params(
    default_size: int = 20, max_size: int = 100
) -> Callable[..., Awaitable[PageParams]]:
    """The dependency of a list route: `Annotated[PageParams, Depends(page_params(...))]`."""

    # Defaults, not Annotated: the bounds are this call's values, which annotations (strings
    # under `from __future__ import annotations`) could not see. Async: FastAPI runs a plain
    # function dependency on its thread pool, a hop that costs more than the function.
    async def params(
        page: int = Query(1, ge=1, le=MAX_PAGE, description="1-based"),
        size: int = Query(default_size, ge=1, le=max_size),
    ) -> PageParams:
        return PageParams(page, size)

    return params


# The usual one: 20 items a page, at most 100.
Paging = Annotated[PageParams, Depends(page_params())]


class Page(BaseModel, Generic[Item]):
    """A page of a list; each list names its own (`class UserPage(Page[UserRead])`)."""

    items: list[Item]
    total: int
    page: int
    size: int

    @classmethod
    def of(cls, rows: Sequence[Any], total: int, paging: PageParams) -> Self:
        """The page of `rows` (table rows or models), `total` being the whole list's length."""
        body = {"items": rows, "total": total, "page": paging.page, "size": paging.size}
        return cls.model_validate(body, from_attributes=True)


async def page_of(
    session: AsyncSession, query: Select[Row], paging: PageParams, *order: Any
) -> tuple[list[Row], int]:
    """The rows of `query` on this page in `order`, and how many it selects in all."""
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(*order).offset(paging.offset).limit(paging.size))
    return list(rows), int(total or 0)


def contains(text: str, *columns: Any) -> ColumnElement[bool]:
    """Any of `columns` contains `text`, ignoring case; `%` and `_` in it are literal."""
    return or_(*(column.ilike(like_pattern(text), escape="\\") for column in columns))


def like_pattern(text: str) -> str:
    """The `ILIKE ... ESCAPE '\\'` pattern for 'contains `text`' (`%` and `_` literal)."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A list route's search text (`?q=`), matched with `contains`.
Search = Annotated[str | None, Query(max_length=100, description="text to search for")]
