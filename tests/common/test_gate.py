"""The consume policy without a broker: the gate's counting of redeliveries (one message for
a consumer, a batch for ingest, the same way) and events refused when their type is not
their routing key."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import MetaData

from ems.common.inbox import EventConsumer, processed_events_table
from ems.common.messaging.consume import (
    DELIVERIES_HEADER,
    REASON_HEADER,
    Delivery,
    Gate,
    Policy,
    Refused,
)
from ems.common.messaging.deadletters import DeadLetters
from ems.common.messaging.topology import EXCHANGE_DLX, EXCHANGE_RETRY


class RecordingChannel:
    """A consumer's channel: the acks sent on it."""

    is_closed = False

    def __init__(self) -> None:
        self.acked: list[int] = []

    async def basic_ack(self, delivery_tag: int, multiple: bool = False, wait: bool = True) -> None:
        self.acked.append(delivery_tag)


class RecordingPublisher:
    """The confirmed publisher: what was sent where, each confirmed at once."""

    def __init__(self) -> None:
        self.link = SimpleNamespace(user="monitoring")
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def send(self, exchange: str, routing_key: str, body: bytes, props: Any) -> Any:
        self.sent.append((exchange, routing_key, dict(props.headers)))
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        confirmed.set_result(None)
        return confirmed


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
        channel=RecordingChannel(),  # type: ignore[arg-type]
        delivery_tag=7,
        queue=queue,
    )


def _gate(limit: int = 3) -> tuple[Gate, RecordingPublisher]:
    publisher = RecordingPublisher()
    outbox = DeadLetters(publisher)  # type: ignore[arg-type]
    return Gate("readings", Policy(1000, limit, senders=lambda *_: frozenset()), outbox), publisher


def _acked(delivery: Delivery) -> list[int]:
    channel: Any = delivery.channel
    return list(channel.acked)


async def test_a_redelivered_message_goes_round_again_under_its_own_queue_with_its_count() -> None:
    """If this fails, a message that killed its consumer is not counted (it could come back
    forever), goes back to the wrong queue, loses its origin, or is not acked after."""
    gate, publisher = _gate()
    delivery = _delivery("monitoring.sync", 1)
    assert await gate.count_redelivery(delivery)
    [(exchange, routing_key, headers)] = publisher.sent
    assert (exchange, routing_key) == (EXCHANGE_RETRY, "monitoring.sync")
    assert headers[DELIVERIES_HEADER] == 2
    assert headers["x-other"] == "kept"
    assert headers["x-ems-original-routing-key"] == "reading"
    assert _acked(delivery) == [7]


async def test_a_message_at_the_delivery_limit_is_dead_lettered() -> None:
    gate, publisher = _gate(limit=3)
    delivery = _delivery("monitoring.sync", 2)
    assert await gate.count_redelivery(delivery)
    [(exchange, routing_key, headers)] = publisher.sent
    assert (exchange, routing_key) == (EXCHANGE_DLX, "readings")
    assert headers[REASON_HEADER] == "delivered 4 times without being settled"
    assert _acked(delivery) == [7]


async def test_a_first_delivery_passes_uncounted() -> None:
    gate, publisher = _gate()
    delivery = _delivery("q", None, redelivered=False)
    assert not await gate.count_redelivery(delivery)
    assert publisher.sent == [] and _acked(delivery) == []


async def test_a_batch_is_counted_each_under_its_partition_and_left_for_the_caller_to_ack() -> None:
    """If this fails, ingest acks a recounted reading before its batch, or sends it back to
    another partition than the one it came from."""
    gate, publisher = _gate(limit=3)
    fresh, again, spent = (
        _delivery("readings.03", None),
        _delivery("readings.07", 1),
        _delivery("readings.03", 2),
    )
    await gate.recount([fresh, again, spent], ack=False)
    assert [(exchange, key, h.get(DELIVERIES_HEADER)) for exchange, key, h in publisher.sent] == [
        (EXCHANGE_RETRY, "readings.03", 1),
        (EXCHANGE_RETRY, "readings.07", 2),
        (EXCHANGE_DLX, "readings", 2),
    ]
    assert [_acked(d) for d in (fresh, again, spent)] == [[], [], []]


async def test_an_event_whose_type_is_not_its_routing_key_is_refused() -> None:
    """If this fails, a service allowed to send one event type can make a consumer apply
    another (the sender is checked by the routing key only)."""
    consumer = EventConsumer(None, processed_events_table(MetaData()), "q", [])  # type: ignore[arg-type]
    body = b'{"type": "user.deleted", "data": {}}'
    with pytest.raises(Refused) as refused:
        await consumer.handle_message(_delivery("q", None, body=body, routing_key="user.updated"))
    assert str(refused.value) == "event type 'user.deleted' sent as 'user.updated'"
