"""PostgreSQL going away under a replica in the middle of a stream of readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.platform.pipeline import Pipeline, database_proxy
from tests.platform.polling import eventually


async def test_a_database_outage_delays_readings_but_loses_and_doubles_none(
    pipeline: Pipeline,
) -> None:
    """If this fails, readings a replica took while its database was unreachable are acked
    without being stored (lost), or stored twice once the database is back."""
    async with database_proxy(pipeline.settings) as (proxy, through_proxy):
        await pipeline.start_replica(0, database_url=through_proxy)
        await pipeline.start_balancer()
        device = await pipeline.create_device()
        await pipeline.wait_for_devices(device)
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
        for minute in range(0, 30):
            await pipeline.publish_reading(device, hour + timedelta(minutes=minute), 0.01)

        async def first_half() -> bool:
            return await pipeline.readings_count(device) == 30

        await eventually(first_half, timeout=15)
        await proxy.cut()
        for minute in range(30, 60):
            await pipeline.publish_reading(device, hour + timedelta(minutes=minute), 0.01)
        # Repeats of readings stored before the outage, arriving during it.
        for minute in range(0, 10):
            await pipeline.publish_reading(device, hour + timedelta(minutes=minute), 0.01)
        intake = pipeline.intake(0)
        await eventually(
            lambda: any("batches failing" in p for p in intake.problems()),
            timeout=15,
            what="the replica retrying its batch, unacked",
        )
        assert await pipeline.readings_count(device) == 30
        await proxy.restore()

        async def all_stored() -> bool:
            return (await pipeline.hourly(device)).get(hour) == 600_000

        await eventually(all_stored, timeout=30)
        assert await pipeline.readings_count(device) == 60
