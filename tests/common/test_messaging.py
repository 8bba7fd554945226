"""The outbox, idempotent consumers and dead letters against real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.db import Database, new_metadata
from ems.common.inbox import EventConsumer, Subscription, processed_events_table
from ems.common.messaging import EXCHANGE_SYNC, REASON_HEADER, Broker
from ems.common.messaging.topology import DEVICES, MONITORING
from ems.common.migrations import create_database
from ems.common.outbox import OutboxRelay, add_event, outbox_table
from ems.common.settings import to_asyncpg, with_database
from ems.contracts.events import DeviceCreated, Envelope
from ems.monitoring.consumers import SYNC_QUEUE
from tests.platform.broker import TestBroker, admin_url
from tests.platform.polling import eventually, held
from tests.platform.tcpproxy import TcpProxy

metadata: MetaData = new_metadata()
outbox = outbox_table(metadata)
processed = processed_events_table(metadata)
# What the test consumer does with `device.created`: adds the device's limit to a tally
# per name (not idempotent by itself: the inbox must make it so).
tallies = Table(
    "tallies",
    metadata,
    Column("meter", String(64), primary_key=True),
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
async def devices(module_vhost: str, test_broker: TestBroker) -> AsyncIterator[Broker]:
    """Publishes as the devices service (the owner of `device.*` events)."""
    b = test_broker.client(module_vhost, DEVICES, "test-devices")
    await b.connect()
    yield b
    await b.close()


@pytest.fixture
async def monitoring(module_vhost: str, test_broker: TestBroker) -> AsyncIterator[Broker]:
    """Consumes as monitoring (the owner of `monitoring.sync`)."""
    b = test_broker.client(module_vhost, MONITORING, "test-monitoring")
    await b.connect()
    yield b
    await b.close()


async def add_to_tally(session: AsyncSession, body: DeviceCreated) -> None:
    amount = int(body.max_hourly_kwh)
    row = await session.scalar(select(tallies.c.total).where(tallies.c.meter == body.name))
    if row is None:
        await session.execute(tallies.insert().values(meter=body.name, total=amount))
    else:
        await session.execute(
            update(tallies).where(tallies.c.meter == body.name).values(total=row + amount)
        )


def created(name: str, amount: int) -> DeviceCreated:
    return DeviceCreated(id=uuid.uuid4(), name=name, max_hourly_kwh=amount)


async def tally(db: Database, meter: str) -> int | None:
    async with db.transaction() as session:
        total: int | None = await session.scalar(
            select(tallies.c.total).where(tallies.c.meter == meter)
        )
        return total


async def test_outbox_delivers_an_event_committed_while_the_broker_was_unreachable(
    db: Database, module_vhost: str, test_broker: TestBroker
) -> None:
    """If this fails, a change committed during a broker outage never reaches the services
    that keep a copy: the dual-write bug the outbox exists to prevent."""
    inspector = await aio_pika.connect(admin_url(module_vhost))
    probe = await (await inspector.channel()).declare_queue(exclusive=True)
    await probe.bind(EXCHANGE_SYNC, "device.#")

    proxy = TcpProxy(5672)
    await proxy.start()
    vhost = module_vhost.rsplit("/", 1)[1]
    relayed = test_broker.client(f"amqp://127.0.0.1:{proxy.port}/{vhost}", DEVICES, "relay")
    await relayed.connect()
    relay = OutboxRelay(db, relayed, outbox, poll_interval=0.1)
    relay.start()
    try:
        await proxy.cut()
        await eventually(lambda: _false_when(relayed.is_connected()), timeout=10)

        async with db.transaction() as session:
            envelope = await add_event(session, outbox, created("m1", 3))
        relay.notify()

        # While the broker is away the event waits in the outbox, not lost, not published.
        async def still_pending() -> bool:
            async with db.transaction() as session:
                pending = (await session.execute(select(outbox.c.event_id))).scalars().all()
            return pending == [envelope.event_id]

        # Half a second: five of the relay's polls, time enough for a broken one to misbehave.
        await held(still_pending, 0.5, what="the event waiting in the outbox")

        await proxy.restore()

        async def delivered() -> aio_pika.abc.AbstractIncomingMessage | None:
            return await probe.get(no_ack=True, fail=False)

        message = await eventually(delivered, timeout=20)
        received = Envelope.model_validate_json(message.body)
        assert received.event_id == envelope.event_id
        assert received.type == "device.created"
        assert received.data["name"] == "m1"
        assert message.message_id == str(envelope.event_id)
        # Stamped with the login the relay publishes as (RabbitMQ checked it).
        assert message.user_id == test_broker.login(DEVICES)
        async with db.transaction() as session:
            assert (await session.execute(select(outbox.c.id))).first() is None
    finally:
        await relay.stop()
        await relayed.close()
        await proxy.stop()
        await inspector.close()


async def _false_when(connected: bool) -> bool:
    return not connected


async def test_a_repeated_event_changes_nothing(
    db: Database, devices: Broker, monitoring: Broker
) -> None:
    """If this fails, a redelivered event (which RabbitMQ may always send) is applied twice:
    a user created twice, a reading counted twice."""
    consumer = EventConsumer(db, processed, SYNC_QUEUE, [Subscription(DeviceCreated, add_to_tally)])
    await consumer.start(monitoring)

    envelope = Envelope.wrap(created("m2", 5))
    for _ in range(3):
        await devices.publish(EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode())
    second = Envelope.wrap(created("m2", 1))
    await devices.publish(EXCHANGE_SYNC, second.type, second.model_dump_json().encode())
    # A barrier: the queue is consumed in order, so once this one is applied, every repeat
    # before it has been seen.
    barrier = Envelope.wrap(created("barrier", 1))
    await devices.publish(EXCHANGE_SYNC, barrier.type, barrier.model_dump_json().encode())

    async def settled() -> bool:
        return await tally(db, "barrier") == 1

    await eventually(settled)
    assert await tally(db, "m2") == 6


async def test_a_poison_message_is_dead_lettered_with_its_reason_and_the_consumer_goes_on(
    db: Database, devices: Broker, monitoring: Broker, module_vhost: str
) -> None:
    """If this fails, one malformed message either crashes the consumer, blocks the queue
    by being redelivered forever, or vanishes without a trace."""
    consumer = EventConsumer(db, processed, SYNC_QUEUE, [Subscription(DeviceCreated, add_to_tally)])
    await consumer.start(monitoring)

    routing_key = DeviceCreated.routing_key
    await devices.publish(EXCHANGE_SYNC, routing_key, b"{not json")
    wrong_shape = Envelope(type=routing_key, data={"name": "m3", "max_hourly_kwh": "lots"})
    await devices.publish(EXCHANGE_SYNC, routing_key, wrong_shape.model_dump_json().encode())
    good = Envelope.wrap(created("m3", 2))
    await devices.publish(EXCHANGE_SYNC, routing_key, good.model_dump_json().encode())

    async def counted() -> bool:
        return await tally(db, "m3") == 2

    await eventually(counted)

    inspector = await aio_pika.connect(admin_url(module_vhost))
    dlq = await (await inspector.channel()).declare_queue(f"{SYNC_QUEUE}.dlq", passive=True)
    reasons = []
    for _ in range(2):
        message = await eventually(lambda: dlq.get(no_ack=True, fail=False))
        reasons.append(str((message.headers or {})[REASON_HEADER]))
        assert message.headers["x-ems-original-routing-key"] == routing_key
    await inspector.close()
    assert "JSONDecodeError" in reasons[0] or "invalid" in reasons[0]
    assert "max_hourly_kwh" in reasons[1]
    assert json.loads(message.body)["data"]["max_hourly_kwh"] == "lots"
