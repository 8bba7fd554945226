"""Keeping a copy of another service's entities true.

Events keep a copy current, but an event published before the consumer's queue existed
went nowhere (the first admin is created before any service but auth runs). So a service
that keeps a copy starts consuming first and then catches up from the owner's snapshot:
every change is then either in the snapshot or delivered to the queue. Snapshot items are
applied by the same revision-guarded code as events, so the two can interleave freely.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.orm import Mapped, mapped_column

from ems.common.inbox import EventConsumer
from ems.common.outbox import OutboxRelay
from ems.common.unit_of_work import UnitOfWork
from ems.contracts.events import Envelope

log = logging.getLogger(__name__)


class DeletedUserColumns:
    """The `deleted_users` tombstone a service keeps of users it copies: the id and the
    revision of the deletion, so that a late or repeated event cannot bring the user back.
    Mixed into a service's own declarative class (`class DeletedUser(DeletedUserColumns,
    Base)`), which says what the tombstone guards there."""

    __tablename__ = "deleted_users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    revision: Mapped[int]
    deleted_at: Mapped[datetime] = mapped_column(server_default=func.now())


Item = TypeVar("Item")
Item_co = TypeVar("Item_co", covariant=True)


class RelayingConsumer(EventConsumer):
    """An idempotent consumer whose handlers add outbox events: the relay is woken after
    each commit, so a copy's own events leave at once rather than at the next poll."""

    def __init__(self, *args: Any, relay: OutboxRelay, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay = relay

    async def handle(self, envelope: Envelope) -> bool:
        applied = await super().handle(envelope)
        if applied:
            self.relay.notify()
        return applied


class Page(Protocol[Item_co]):
    @property
    def items(self) -> Sequence[Item_co]: ...

    @property
    def next_after(self) -> uuid.UUID | None: ...


P = TypeVar("P", bound=BaseModel)


async def fetch_page(
    client: httpx.AsyncClient, path: str, page_type: type[P], after: uuid.UUID | None, limit: int
) -> P:
    params: dict[str, str | int] = {"limit": limit}
    if after is not None:
        params["after"] = str(after)
    response = await client.get(path, params=params)
    response.raise_for_status()
    return page_type.model_validate_json(response.content)


async def catch_up(
    what: str,
    fetch: Callable[[uuid.UUID | None], Awaitable[Page[Item]]],
    apply: Callable[[Sequence[Item]], Awaitable[int]],
    *,
    retry_delay: float = 1.0,
    max_delay: float = 30.0,
) -> int:
    """Apply every page of a snapshot; retried from the start until the owner answers.

    Returns how many items changed the copy.
    """
    delay = retry_delay
    while True:
        try:
            changed = 0
            after: uuid.UUID | None = None
            while True:
                page = await fetch(after)
                changed += await apply(page.items)
                if page.next_after is None:
                    break
                after = page.next_after
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "snapshot not available yet; retrying",
                extra={"snapshot": what, "error": f"{type(exc).__name__}: {exc}"},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        log.info("caught up from snapshot", extra={"snapshot": what, "changed": changed})
        return changed


@asynccontextmanager
async def keeping_a_copy(
    uow: UnitOfWork,
    consumer: Callable[[UnitOfWork], EventConsumer],
    what: str,
    fetch: Callable[[uuid.UUID | None], Awaitable[Page[Item]]],
    apply: Callable[[UnitOfWork, Sequence[Item]], Awaitable[int]],
) -> AsyncIterator[None]:
    """While the service serves: its copy of `what` kept by its `consumer`, after catching up
    from the owner's snapshot (`fetch`, `apply`) in the background. Consume first, then read
    the snapshot: every change is in one or the other."""
    await consumer(uow).start(uow.relay.broker)
    catching_up = catch_up(what, fetch, functools.partial(apply, uow))
    task = asyncio.create_task(catching_up, name=f"catch-up {what}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
