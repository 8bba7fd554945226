"""The outbox, idempotent consumers and dead letters against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import ClassVar

import aio_pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.db import Database, new_metadata
from ems.common.inbox import EventConsumer, Subscription, processed_events_table
from ems.common.messaging import EXCHANGE_SYNC, REASON_HEADER, Broker
from ems.common.migrations import create_database
from ems.common.outbox import OutboxRelay, add_event, outbox_table
from ems.common.settings import to_asyncpg, with_database
from ems.contracts.events import Envelope, EventBody
from tests.support.polling import eventually
from tests.support.tcpproxy import TcpProxy


class MeterCounted(EventBody):
    routing_key: ClassVar[str] = "test.meter_counted"
    meter: str
    amount: int


metadata: MetaData = new_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
tallies = Table(
    "tallies",
    metadata,
    Column("meter", String(32), primary_key=True),
    Column("total", Integer, nullable=False),
)


@pytest.fixture
async def db(pg_admin_url: str, db_prefix: str) -> AsyncIterator[Database]:
    name = f"{db_prefix}messaging_{uuid.uuid4().hex[:6]}"
    await create_database(pg_admin_url, name)
    database = Database(to_asyncpg(with_database(pg_admin_url, name)))
    async with database.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def broker(amqp_vhost: str) -> AsyncIterator[Broker]:
    b = Broker(amqp_vhost, "test")
    await b.connect()
    yield b
    await b.close()


async def add_to_tally(session: AsyncSession, body: MeterCounted) -> None:
    row = await session.scalar(select(tallies.c.total).where(tallies.c.meter == body.meter))
    if row is None:
        await session.execute(tallies.insert().values(meter=body.meter, total=body.amount))
    else:
        await session.execute(
            update(tallies).where(tallies.c.meter == body.meter).values(total=row + body.amount)
        )


async def tally(db: Database, meter: str) -> int | None:
    async with db.transaction() as session:
        total: int | None = await session.scalar(
            select(tallies.c.total).where(tallies.c.meter == meter)
        )
        return total


async def test_outbox_delivers_an_event_committed_while_the_broker_was_unreachable(
    db: Database, amqp_vhost: str, broker: Broker
) -> None:
    """If this fails, a change committed during a broker outage never reaches the services
    that keep a copy: the dual-write bug the outbox exists to prevent."""
    queue_name = f"probe-{uuid.uuid4().hex[:6]}"
    probe = await broker.declare_queue(queue_name, [(EXCHANGE_SYNC, "test.#")])

    proxy = TcpProxy(5672)
    await proxy.start()
    host_part = amqp_vhost.split("@", 1)[1].split("/", 1)[1]
    relayed = Broker(f"amqp://guest:guest@127.0.0.1:{proxy.port}/{host_part}", "relay")
    await relayed.connect()
    relay = OutboxRelay(db, relayed, outbox, poll_interval=0.1)
    relay.start()
    try:
        await proxy.cut()
        await eventually(lambda: _false_when(relayed.is_connected()), timeout=10)

        async with db.transaction() as session:
            envelope = await add_event(session, outbox, MeterCounted(meter="m1", amount=3))
        relay.notify()

        # While the broker is away the event waits in the outbox, not lost, not published.
        await asyncio.sleep(0.5)  # give a broken relay the chance to misbehave
        async with db.transaction() as session:
            pending = (await session.execute(select(outbox.c.event_id))).scalars().all()
        assert pending == [envelope.event_id]

        await proxy.restore()

        async def delivered() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await probe.get(no_ack=True, fail=False)

        message = await eventually(delivered, timeout=20)
        received = Envelope.model_validate_json(message.body)
        assert received.event_id == envelope.event_id
        assert received.type == "test.meter_counted"
        assert received.data == {"meter": "m1", "amount": 3}
        assert message.message_id == str(envelope.event_id)
        async with db.transaction() as session:
            assert (await session.execute(select(outbox.c.id))).first() is None
    finally:
        await relay.stop()
        await relayed.close()
        await proxy.stop()


async def _false_when(connected: bool) -> bool:
    return not connected


async def test_a_repeated_event_changes_nothing(db: Database, broker: Broker) -> None:
    """If this fails, a redelivered event (which RabbitMQ may always send) is applied twice:
    a user created twice, a reading counted twice."""
    queue = f"consumer-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(db, processed, queue, [Subscription(MeterCounted, add_to_tally)])
    await consumer.start(broker)

    envelope = Envelope.wrap(MeterCounted(meter="m2", amount=5))
    for _ in range(3):
        await broker.publish(EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode())
    second = Envelope.wrap(MeterCounted(meter="m2", amount=1))
    await broker.publish(EXCHANGE_SYNC, second.type, second.model_dump_json().encode())

    async def settled() -> bool:
        return await tally(db, "m2") == 6

    await eventually(settled)
    await asyncio.sleep(0.3)  # any late duplicate would show up now
    assert await tally(db, "m2") == 6


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    db: Database, broker: Broker
) -> None:
    """If this fails, one malformed message either crashes the consumer, blocks the queue
    by being redelivered forever, or vanishes without a trace."""
    queue = f"consumer-{uuid.uuid4().hex[:6]}"
    consumer = EventConsumer(db, processed, queue, [Subscription(MeterCounted, add_to_tally)])
    await consumer.start(broker)

    routing_key = MeterCounted.routing_key
    await broker.publish(EXCHANGE_SYNC, routing_key, b"{not json")
    wrong_shape = Envelope(type=routing_key, data={"meter": "m3", "amount": "lots"})
    await broker.publish(EXCHANGE_SYNC, routing_key, wrong_shape.model_dump_json().encode())
    good = Envelope.wrap(MeterCounted(meter="m3", amount=2))
    await broker.publish(EXCHANGE_SYNC, routing_key, good.model_dump_json().encode())

    async def counted() -> bool:
        return await tally(db, "m3") == 2

    await eventually(counted)

    dlq = await broker.channel.declare_queue(f"{queue}.dlq", durable=True, passive=True)
    reasons = []
    for _ in range(2):
        message = await eventually(lambda: dlq.get(no_ack=True, fail=False))
        reasons.append(str((message.headers or {})[REASON_HEADER]))
        assert message.headers["x-ems-original-routing-key"] == routing_key
    assert "JSONDecodeError" in reasons[0] or "invalid" in reasons[0]
    assert "amount" in reasons[1]
    assert json.loads(message.body)["data"]["amount"] == "lots"
