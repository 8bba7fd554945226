"""Dead letters and counted redeliveries, published with confirms before the original is
acked: a message is never acked without having gone where it must.

They carry the original's headers, which any client wrote: some come back from pamqp as
values it cannot send again (a string that is not UTF-8 arrives as bytes, a double beyond
single precision overflows the float it is sent as). Those are passed on as their repr, so
a header can never keep a message from its dead-letter queue."""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Sequence
from typing import Any

from pamqp.encode import encode_table_value

from ems.common.messaging.consume import REASON_HEADER, Delivery, settle
from ems.common.messaging.metrics import CONSUMED, DEAD_LETTERED, DEAD_LETTERED_BYTES, count
from ems.common.messaging.publisher import Publisher, properties
from ems.common.messaging.topology import EXCHANGE_DLX

log = logging.getLogger(__name__)


def sendable(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers, each value one pamqp can encode (else its repr)."""
    result: dict[str, Any] = {}
    for name, value in headers.items():
        try:
            encode_table_value(value)
        except (TypeError, ValueError, OverflowError, struct.error):
            value = repr(value)[:1000]
        result[name] = value
    return result


QUEUE_HEADER = "x-ems-queue"


class DeadLetters:
    def __init__(self, publisher: Publisher, *, timeout: float = 30.0) -> None:
        self.publisher = publisher
        self.timeout = timeout

    async def dead_letter(
        self,
        items: Sequence[tuple[Delivery, str]],
        key: str,
        kind: str,
        *,
        ack: bool = True,
    ) -> None:
        """Each message to `<key>.dlq` with its reason; the originals acked after the
        confirms (unless `ack` is False: the caller acks them with its batch)."""
        if not items:
            return
        user = self.publisher.link.user
        confirms = []
        for delivery, reason in items:
            headers = {
                **sendable(delivery.headers),
                **delivery.origin_headers(),
                REASON_HEADER: reason[:1000],
                QUEUE_HEADER: key,
            }
            props = properties(
                user,
                message_id=delivery.message_id,
                headers=headers,
                content_type=delivery.content_type,
            )
            confirms.append(self.publisher.send(EXCHANGE_DLX, key, delivery.body, props))
        await asyncio.wait_for(asyncio.gather(*confirms), self.timeout)
        if ack:
            for delivery, _ in items:
                await settle(delivery)
        count(DEAD_LETTERED, key, kind, amount=len(items))
        count(DEAD_LETTERED_BYTES, key, amount=sum(len(d.body) for d, _ in items))
        count(CONSUMED, key, "dead_lettered", amount=len(items))
        log.warning(
            "message dead-lettered",
            extra={"queue": key, "kind": kind, "count": len(items), "reason": items[0][1][:200]},
        )

    async def republish(
        self,
        delivery: Delivery,
        exchange: str,
        routing_key: str,
        headers: dict[str, Any],
        *,
        ack: bool = True,
    ) -> None:
        """The message again under `routing_key` (a counted redelivery), then the original
        acked (unless the caller acks it with its batch)."""
        props = properties(
            self.publisher.link.user,
            message_id=delivery.message_id,
            headers=sendable(headers),
            content_type=delivery.content_type,
        )
        await asyncio.wait_for(
            self.publisher.send(exchange, routing_key, delivery.body, props), self.timeout
        )
        if ack:
            await settle(delivery)
        count(CONSUMED, routing_key, "redelivery_counted")
