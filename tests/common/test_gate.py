"""The consume policy without a broker: the gate's counting of redeliveries (one message for
a consumer, a batch for ingest, the same way) and events refused when their type is not
their routing key."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData

from ems.common.inbox import EventConsumer, processed_events_table
from ems.common.messaging.consume import DELIVERIES_HEADER, Delivery, Gate, Policy, Refused
from ems.common.messaging.topology import EXCHANGE_RETRY


class FakeChannel:
    is_closed = False


class RecordingOutbox:
    """DeadLetters as the gate sees it: what it was asked to publish, and with which ack."""

    def __init__(self) -> None:
        self.republished: list[tuple[Delivery, str, str, dict[str, Any], bool]] = []
        self.dead_lettered: list[tuple[list[tuple[Delivery, str]], str, str, bool]] = []

    async def republish(
        self,
        delivery: Delivery,
        exchange: str,
        routing_key: str,
        headers: dict[str, Any],
        *,
        ack: bool = True,
    ) -> None:
        self.republished.append((delivery, exchange, routing_key, headers, ack))

    async def dead_letter(
        self, items: list[tuple[Delivery, str]], key: str, kind: str, *, ack: bool = True
    ) -> None:
        self.dead_lettered.append((list(items), key, kind, ack))


def _delivery(
    queue: str,
    deliveries: int | None,
    *,
    redelivered: bool = True,
    body: bytes = b"{}",
    routing_key: str = "reading",
) -> Delivery:
    headers: dict[str, Any] = {"x-other": "kept"}
    if deliveries is not None:
        headers[DELIVERIES_HEADER] = deliveries
    return Delivery(
        body=body,
        exchange="ems.data",
        routing_key=routing_key,
        user_id=None,
        headers=headers,
        message_id="m",
        content_type="application/json",
        redelivered=redelivered,
        channel=FakeChannel(),  # type: ignore[arg-type]
        delivery_tag=7,
        queue=queue,
    )


def _gate(outbox: RecordingOutbox, limit: int = 3) -> Gate:
    return Gate("readings", Policy(1000, limit, senders=lambda *_: frozenset()), outbox)


async def test_a_redelivered_message_goes_round_again_under_its_own_queue_with_its_count() -> None:
    """If this fails, a message that killed its consumer is not counted (it could come back
    forever), goes back to the wrong queue, or loses its origin."""
    outbox = RecordingOutbox()
    delivery = _delivery("monitoring.sync", 1)
    assert await _gate(outbox).count_redelivery(delivery)
    [(sent, exchange, routing_key, headers, ack)] = outbox.republished
    assert (sent, exchange, routing_key, ack) == (delivery, EXCHANGE_RETRY, "monitoring.sync", True)
    assert headers[DELIVERIES_HEADER] == 2
    assert headers["x-other"] == "kept"
    assert headers["x-ems-original-routing-key"] == "reading"
    assert outbox.dead_lettered == []


async def test_a_message_at_the_delivery_limit_is_dead_lettered() -> None:
    outbox = RecordingOutbox()
    delivery = _delivery("monitoring.sync", 2)
    assert await _gate(outbox, limit=3).count_redelivery(delivery)
    assert outbox.republished == []
    reason = "delivered 4 times without being settled"
    assert outbox.dead_lettered == [([(delivery, reason)], "readings", "delivery_limit", True)]


async def test_a_first_delivery_passes_uncounted() -> None:
    outbox = RecordingOutbox()
    assert not await _gate(outbox).count_redelivery(_delivery("q", None, redelivered=False))
    assert outbox.republished == [] and outbox.dead_lettered == []


async def test_a_batch_is_counted_each_under_its_partition_and_left_for_the_caller_to_ack() -> None:
    """If this fails, ingest acks a recounted reading before its batch (or twice), or sends
    it back to another partition than the one it came from."""
    outbox = RecordingOutbox()
    fresh, again, spent = (
        _delivery("readings.03", None),
        _delivery("readings.07", 1),
        _delivery("readings.03", 2),
    )
    await _gate(outbox, limit=3).recount([fresh, again, spent], ack=False)
    assert [(d, key, h[DELIVERIES_HEADER], ack) for d, _, key, h, ack in outbox.republished] == [
        (fresh, "readings.03", 1, False),
        (again, "readings.07", 2, False),
    ]
    reason = "delivered 4 times without being settled"
    assert outbox.dead_lettered == [([(spent, reason)], "readings", "delivery_limit", False)]


async def test_an_event_whose_type_is_not_its_routing_key_is_refused() -> None:
    """If this fails, a service allowed to send one event type can make a consumer apply
    another (the sender is checked by the routing key only)."""
    consumer = EventConsumer(None, processed_events_table(MetaData()), "q", [])  # type: ignore[arg-type]
    body = b'{"type": "user.deleted", "data": {}}'
    with pytest.raises(Refused) as refused:
        await consumer.handle_message(_delivery("q", None, body=body, routing_key="user.updated"))
    assert str(refused.value) == "event type 'user.deleted' sent as 'user.updated'"
