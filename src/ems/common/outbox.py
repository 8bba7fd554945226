"""Transactional outbox: events are written in the same transaction as the change that
causes them, and a relay publishes them with broker confirms. A crash or a broker outage
between commit and publish delays an event; it never loses it. Consumers drop repeats."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, NamedTuple

from prometheus_client import Counter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.db import Database
from ems.common.messaging import EXCHANGE_SYNC, EXCHANGE_WS, Broker
from ems.common.tasks import Background
from ems.contracts.events import Envelope, EventBody
from ems.contracts.ws import Audience, WsBody, WsEnvelope

log = logging.getLogger(__name__)

PUBLISHED = Counter("ems_outbox_published_total", "Events the outbox relay published")
FAILURES = Counter("ems_outbox_publish_failures_total", "Relay rounds that failed to publish")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("exchange", String(64), nullable=False),
        Column("routing_key", String(255), nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class OutboxRow(NamedTuple):
    event_id: uuid.UUID
    exchange: str
    routing_key: str
    body: bytes


def ws_message_row(
    body: WsBody, audience: Audience, event_id: uuid.UUID | None = None
) -> OutboxRow:
    """The outbox row of a message for connected users (`ems.ws`)."""
    envelope = WsEnvelope.wrap(body, audience)
    return OutboxRow(
        event_id or uuid.uuid4(), EXCHANGE_WS, envelope.type, envelope.model_dump_json().encode()
    )


async def add_event(
    session: AsyncSession, table: Table, body: EventBody, exchange: str = EXCHANGE_SYNC
) -> Envelope:
    """Record an event in the caller's transaction; it is published after commit."""
    envelope = Envelope.wrap(body)
    row = OutboxRow(envelope.event_id, exchange, envelope.type, envelope.model_dump_json().encode())
    await session.execute(insert(table).values(row._asdict()))
    return envelope


async def add_ws_message(
    session: AsyncSession,
    table: Table,
    body: WsBody,
    audience: Audience,
    *,
    event_id: uuid.UUID | None = None,
) -> None:
    """Record a message for connected users (`ems.ws`) in the caller's transaction."""
    await session.execute(insert(table).values(ws_message_row(body, audience, event_id)._asdict()))


async def add_ws_message_on_driver(
    conn: Any,
    table: Table,
    body: WsBody,
    audience: Audience,
    *,
    event_id: uuid.UUID | None = None,
) -> None:
    """`add_ws_message` through the driver's (asyncpg's) connection, in its transaction: for
    code that writes plain SQL."""
    await conn.execute(
        f"INSERT INTO {table.name} (event_id, exchange, routing_key, body) "  # noqa: S608
        "VALUES ($1, $2, $3, $4)",
        *ws_message_row(body, audience, event_id),
    )


@dataclass(eq=False)
class OutboxRelay:
    """Publishes pending outbox rows in order, then deletes them.

    Rows are locked with SKIP LOCKED, so several replicas of a service can relay side by
    side; a failed publish rolls the round back and the rows are tried again.
    """

    db: Database
    broker: Broker
    table: Table
    _: KW_ONLY
    batch_size: int = 500
    poll_interval: float = 0.5
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _task: Background = field(default_factory=lambda: Background("outbox-relay"), init=False)

    def notify(self) -> None:
        """Called after a commit that added events: publish now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task.start(self._run())

    async def stop(self) -> None:
        await self._task.stop()

    async def _run(self) -> None:
        backoff = self.poll_interval
        while True:
            try:
                published = await self.publish_pending()
                backoff = self.poll_interval
            except asyncio.CancelledError:
                raise
            except Exception:
                FAILURES.inc()
                log.warning("outbox relay could not publish; will retry", exc_info=True)
                published = 0
                backoff = min(backoff * 2, 5.0)
            if published >= self.batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)

    async def publish_pending(self) -> int:
        """One round: publish up to a batch of pending events; returns how many."""
        if not self.broker.is_connected():
            raise ConnectionError("broker not connected")
        t = self.table
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(t.c.id, t.c.event_id, t.c.exchange, t.c.routing_key, t.c.body)
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # One channel keeps publish order; confirms are awaited together.
            await asyncio.gather(
                *(
                    self.broker.publish(
                        row.exchange, row.routing_key, row.body, message_id=str(row.event_id)
                    )
                    for row in rows
                )
            )
            await session.execute(delete(t).where(t.c.id.in_([row.id for row in rows])))
        PUBLISHED.inc(len(rows))
        return len(rows)
