"""A replica's /health/ready tells the truth about its ingest (issue 15): not ready, and why,
while a partition it was given has no consumer of its, while its batches keep failing or
while it cannot reach the broker; ready again by itself when the trouble is over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aio_pika
from prometheus_client import REGISTRY

from ems.common.web import readiness
from tests.platform.pipeline import PARTITIONS, Pipeline, database_proxy
from tests.platform.polling import eventually
from tests.platform.tcpproxy import TcpProxy


def _problems(app: Any) -> Any:
    async def probe() -> list[str] | None:
        report = await readiness(app)
        problems: list[str] = list(report.get("problems", []))  # type: ignore[call-overload]
        return problems or None

    return probe


async def _ready(app: Any) -> bool:
    return (await readiness(app))["status"] == "ok"


async def test_a_partition_it_cannot_consume_makes_it_unready_until_it_can(
    pipeline: Pipeline,
) -> None:
    """If this fails, a replica that was given a partition but never consumes it (its
    previous owner holds on, its channel keeps closing) says it is ready while that
    partition's readings pile up unseen, or it stays unready after the partition is free."""
    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    # A previous owner that has not let go of partition 5 (an exclusive consumer).
    held = await channel.declare_queue("readings.05", passive=True)

    async def hold(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        """Takes readings and never settles them, as a stuck owner would."""

    tag = await held.consume(hold, exclusive=True)
    app = await pipeline.start_replica(0, ingest_consumer_grace_seconds=0.5)
    await pipeline.start_balancer()

    problems = await eventually(_problems(app), timeout=15)
    assert any("no consumer on assigned partitions [5]" in p for p in problems), problems
    assert pipeline.intake(0).consuming() == set(range(64)) - {5}

    await held.cancel(tag)
    await eventually(lambda: _ready(app), timeout=15)
    assert pipeline.intake(0).consuming() == set(range(64))
    await connection.close()


async def test_failing_batches_make_it_unready_and_it_recovers_by_itself(
    pipeline: Pipeline,
) -> None:
    """If this fails, a replica whose database is gone still says it is ready (so nothing
    alerts while readings wait), or it needs a restart once the database is back."""
    async with database_proxy(pipeline.settings) as (proxy, through_proxy):
        app = await pipeline.start_replica(0, database_url=through_proxy)
        await pipeline.start_balancer()
        device = await pipeline.create_device()
        await pipeline.wait_for_devices(device)
        await eventually(lambda: _ready(app), timeout=15)
        await proxy.cut()
        moment = datetime.now(UTC) - timedelta(minutes=5)
        await pipeline.publish_reading(device, moment, 0.5)
        problems = await eventually(_problems(app), timeout=15)
        assert any("batches failing" in p or "database" in p for p in problems), problems

        await proxy.restore()
        await eventually(lambda: _ready(app), timeout=30)

        async def stored() -> bool:
            return await pipeline.readings_count(device) == 1

        await eventually(stored, timeout=15)


async def test_a_lost_broker_connection_makes_it_unready_and_it_reconnects(
    pipeline: Pipeline,
) -> None:
    """If this fails, a replica cut off from the broker says it is ready while it consumes
    nothing, or it stays cut off once the broker is reachable again."""
    settings = pipeline.settings
    amqp = urlsplit(settings.amqp_url)
    proxy = TcpProxy(amqp.port or 5672, amqp.hostname or "127.0.0.1")
    await proxy.start()
    through_proxy = settings.amqp_url.replace(amqp.netloc, f"127.0.0.1:{proxy.port}")
    try:
        app = await pipeline.start_replica(0, amqp_url=through_proxy)
        await pipeline.start_balancer()
        device = await pipeline.create_device()
        await pipeline.wait_for_devices(device)
        await eventually(lambda: _consumes_all(pipeline), timeout=15)
        await proxy.cut()
        problems = await eventually(_problems(app), timeout=15)
        assert any("not connected" in p for p in problems), problems

        await proxy.restore()
        await eventually(lambda: _ready(app), timeout=30)
        await eventually(lambda: _consumes_all(pipeline), timeout=30)
        await pipeline.publish_reading(device, datetime.now(UTC) - timedelta(minutes=1), 0.5)

        async def stored() -> bool:
            return await pipeline.readings_count(device) == 1

        await eventually(stored, timeout=15)
    finally:
        await proxy.stop()


async def _consumes_all(pipeline: Pipeline) -> bool:
    return pipeline.intake(0).consuming() == set(range(64))


def _gauge(name: str, queue: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"queue": queue})


async def test_queue_depth_and_consumers_are_metrics(pipeline: Pipeline) -> None:
    """If this fails, readings piling up in a partition nobody consumes (no replica, or the
    balancer down) are invisible to the alerts: the metrics say nothing or the wrong thing."""
    await pipeline.start_replica(0)  # no balancer: nothing is assigned, nobody consumes
    device = await pipeline.create_device()
    await pipeline.wait_for_devices(device)
    for minute in range(3):
        await pipeline.publish_reading(device, datetime.now(UTC) - timedelta(minutes=minute), 1)
    await pipeline.intake(0).observe_queues()
    depths = {q: _gauge("ems_queue_messages", q) for q in PARTITIONS}
    assert sum(d or 0 for d in depths.values()) == 3
    assert sorted(d for d in depths.values() if d) == [3]
    assert all(_gauge("ems_queue_consumers", q) == 0 for q in PARTITIONS)
    assert _gauge("ems_queue_messages", "readings.dlq") == 0

    await pipeline.start_balancer()

    async def stored() -> bool:
        return await pipeline.readings_count(device) == 3

    await eventually(stored, timeout=15)

    # The partition holding the readings may be consumed before the replica has taken up
    # the other 63: the gauges are read again until every partition has its consumer.
    async def observed() -> bool:
        await pipeline.intake(0).observe_queues()
        return all(_gauge("ems_queue_consumers", q) == 1 for q in PARTITIONS)

    await eventually(observed, timeout=15, what="a consumer on every partition")
    assert all(_gauge("ems_queue_messages", q) == 0 for q in PARTITIONS)
