"""Paging for every list route: `page` and `size` query parameters, bounded (422 beyond)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

# Far beyond any real list, far below what a database offset can hold.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class PageParams:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def page_params(default_size: int = 20, max_size: int = 100) -> Callable[..., PageParams]:
    """The dependency of a list route: `Annotated[PageParams, Depends(page_params(...))]`."""

    # Defaults, not Annotated: the bounds are this call's values, which annotations (strings
    # under `from __future__ import annotations`) could not see.
    def params(
        page: int = Query(1, ge=1, le=MAX_PAGE, description="1-based"),
        size: int = Query(default_size, ge=1, le=max_size),
    ) -> PageParams:
        return PageParams(page, size)

    return params


# The usual one: 20 items a page, at most 100.
Paging = Annotated[PageParams, Depends(page_params())]
