"""Idempotent event consumers: each event is handled once per service.

The event id is recorded in the same transaction as the handler's changes, and the
message is acked only after that commit; a redelivered or repeated event finds its id
already there and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, Uuid, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.db import Database
from ems.common.messaging import Broker, Delivery, Refused, require_routed_type
from ems.contracts.events import Envelope, EventBody

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, Any], Awaitable[None]]

# The envelope of the event a handler is applying (handlers get its body): for a handler
# that needs when it happened (`occurred_at`). Unset outside `EventConsumer.handle`, e.g.
# for snapshot items applied by the same handler.
current_envelope: ContextVar[Envelope | None] = ContextVar("current_envelope", default=None)


def processed_events_table(metadata: MetaData) -> Table:
    return Table(
        "processed_events",
        metadata,
        Column("event_id", Uuid, primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


@dataclass(frozen=True)
class Subscription:
    body: type[EventBody]
    handler: EventHandler


class EventConsumer:
    """Routes events from one queue to typed handlers, once each."""

    def __init__(
        self,
        db: Database,
        processed: Table,
        queue: str,
        subscriptions: list[Subscription],
    ) -> None:
        self.db = db
        self.processed = processed
        self.queue = queue
        self.by_type = {s.body.routing_key: s for s in subscriptions}

    async def start(self, broker: Broker, prefetch: int = 20) -> None:
        """Consume the service's queue (its bindings are in the topology table)."""
        await broker.consume(self.queue, self.handle_message, prefetch=prefetch)

    async def handle_message(self, delivery: Delivery) -> None:
        envelope = Envelope.model_validate_json(delivery.body)
        require_routed_type(envelope.type, delivery)
        await self.handle(envelope)

    async def handle(self, envelope: Envelope) -> bool:
        """Apply one event; False when it had been applied before."""
        subscription = self.by_type.get(envelope.type)
        if subscription is None:
            raise Refused(f"no handler for event type {envelope.type!r}")
        body = subscription.body.model_validate(envelope.data)
        async with self.db.transaction() as session:
            first_time = await session.execute(
                insert(self.processed)
                .values(event_id=envelope.event_id)
                .on_conflict_do_nothing()
                .returning(self.processed.c.event_id)
            )
            if first_time.first() is None:
                log.info("repeated event dropped", extra={"event_id": str(envelope.event_id)})
                return False
            token = current_envelope.set(envelope)
            try:
                await subscription.handler(session, body)
            finally:
                current_envelope.reset(token)
        return True
