"""The synced copy of devices: limits, owners and deletions reach monitoring and are applied
in revision order, whatever order the events arrive in."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
from prometheus_client import REGISTRY

from ems.common.messaging import REASON_HEADER
from ems.common.web import readiness
from ems.contracts.events import DeviceCreated, DeviceDeleted, DeviceUpdated, UserDeleted
from tests.platform.broker import queue_stats, take_all
from tests.platform.pipeline import PARTITIONS, Pipeline
from tests.platform.polling import eventually


async def _device(pipeline: Pipeline, device_id: uuid.UUID) -> dict[str, object] | None:
    row = await pipeline.db.fetchrow(
        "SELECT name, owner_id, max_hourly_micro_kwh, revision, deleted FROM devices WHERE id = $1",
        device_id,
    )
    return dict(row) if row else None


async def test_limit_changes_apply_in_revision_order(pipeline: Pipeline) -> None:
    """If this fails, a device limit change never reaches monitoring, or a stale event
    delivered late undoes a newer one (the seeds' 'limit changes never arrive' bug)."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    device = await pipeline.create_device(limit_kwh=5.0)
    owner = uuid.uuid4()
    await pipeline.wait_for_devices(device)
    await pipeline.publish_event(
        DeviceUpdated(id=device, name="meter", owner_id=owner, max_hourly_kwh=2.5, revision=3)
    )
    # Older than the one above: must change nothing, whenever it arrives.
    await pipeline.publish_event(
        DeviceUpdated(id=device, name="stale", owner_id=None, max_hourly_kwh=9.0, revision=2)
    )

    async def updated() -> bool:
        state = await _device(pipeline, device)
        return state is not None and state["revision"] == 3

    await eventually(updated)
    marker = await pipeline.create_device()
    await pipeline.wait_for_devices(marker)  # the queue has moved past the stale event
    state = await _device(pipeline, device)
    assert state == {
        "name": "meter",
        "owner_id": owner,
        "max_hourly_micro_kwh": 2_500_000,
        "revision": 3,
        "deleted": False,
    }


async def test_a_deleted_device_loses_its_data_and_later_readings_are_refused(
    pipeline: Pipeline,
) -> None:
    """If this fails, a deleted device's consumption stays behind (or comes back), or its
    meter's later readings are silently dropped without a reason."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    device = await pipeline.create_device(limit_kwh=0.1)
    await pipeline.wait_for_devices(device)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for minute in (0, 10, 20):
        await pipeline.publish_reading(device, hour + timedelta(minutes=minute), 0.2)

    async def stored() -> bool:
        alerts = await pipeline.db.fetchval(
            "SELECT count(*) FROM alerts WHERE device_id = $1", device
        )
        return await pipeline.readings_count(device) == 3 and alerts == 1

    await eventually(stored, timeout=15)
    await pipeline.publish_event(DeviceDeleted(id=device, revision=2))

    async def dropped() -> bool:
        state = await _device(pipeline, device)
        return state is not None and bool(state["deleted"])

    await eventually(dropped)
    assert await pipeline.readings_count(device) == 0
    assert await pipeline.hourly(device) == {}
    assert (
        await pipeline.db.fetchval("SELECT count(*) FROM alerts WHERE device_id = $1", device) == 0
    )

    # A late create/update does not bring it back; its meter's readings are refused.
    await pipeline.publish_event(
        DeviceCreated(id=device, name="ghost", max_hourly_kwh=1.0, revision=1)
    )
    await pipeline.publish_reading(device, hour + timedelta(minutes=30), 0.2)
    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    reasons: list[str] = []

    async def refused() -> bool:
        for message in await take_all(channel, ["readings.dlq"]):
            reasons.append(str((message.headers or {})[REASON_HEADER]))
        return bool(reasons)

    await eventually(refused, timeout=15)
    await connection.close()
    assert reasons == ["device deleted"]
    state = await _device(pipeline, device)
    assert state is not None and state["deleted"] and state["revision"] == 2
    assert await pipeline.readings_count(device) == 0


async def test_a_deleted_user_takes_their_devices_data_along(pipeline: Pipeline) -> None:
    """If this fails, a deleted client's consumption history outlives their account."""
    await pipeline.start_replica(0)
    await pipeline.start_balancer()
    owner, other = uuid.uuid4(), uuid.uuid4()
    mine = [await pipeline.create_device(owner_id=owner) for _ in range(2)]
    theirs = await pipeline.create_device(owner_id=other)
    await pipeline.wait_for_devices(*mine, theirs)
    moment = datetime.now(UTC) - timedelta(minutes=5)
    for device in [*mine, theirs]:
        await pipeline.publish_reading(device, moment, 1.0)

    async def stored() -> bool:
        counts = [await pipeline.readings_count(d) for d in [*mine, theirs]]
        return counts == [1, 1, 1]

    await eventually(stored, timeout=15)
    await pipeline.publish_event(UserDeleted(id=owner, revision=2))

    async def gone() -> bool:
        return all([await pipeline.hourly(d) == {} for d in mine])

    await eventually(gone)
    assert await pipeline.readings_count(theirs) == 1
    assert len(await pipeline.hourly(theirs)) == 1


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_deleted_devices_meter_sending_through_a_backfill_stalls_nothing(
    pipeline: Pipeline,
) -> None:
    """If this fails, a decommissioned meter that keeps sending (issue 15: a backfill after
    a few devices were deleted) makes a replica ack and then nack its readings, closes its
    channels, leaves partitions without consumers and readings piling up, while its
    /health/ready still says ok."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    live = [await pipeline.create_device() for _ in range(6)]
    deleted = [await pipeline.create_device() for _ in range(3)]
    await pipeline.wait_for_devices(*live, *deleted)
    for device in deleted:
        await pipeline.publish_event(DeviceDeleted(id=device, revision=2))

    async def tombstoned() -> bool:
        states = [await _device(pipeline, d) for d in deleted]
        return all(s is not None and s["deleted"] for s in states)

    await eventually(tombstoned)
    links = [pipeline.intake(i).link for i in (0, 1)]
    lost_before = [_sample("ems_amqp_channels_lost_total", {"link": x.name}) for x in links]
    counted_before = _sample("ems_monitoring_readings_total", {"outcome": "deleted_device"})
    unready: list[object] = []

    async def watch_readiness() -> None:
        while True:
            for instance in (0, 1):
                report = await readiness(pipeline.apps[instance])
                if report["status"] != "ok":
                    unready.append(report)
            await asyncio.sleep(0.1)  # a monitor's sampling rate: watching, not waiting

    watcher = asyncio.create_task(watch_readiness())
    start = datetime.now(UTC) - timedelta(days=1)
    for step in range(144):  # a day of readings of every meter, as the simulator backfills
        for device in [*live, *deleted]:
            await pipeline.publish_reading(device, start + timedelta(minutes=10 * step), 0.1)

    async def stored() -> bool:
        counts = [await pipeline.readings_count(d) for d in live]
        return counts == [144] * len(live)

    await eventually(stored, timeout=60)
    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    reasons: list[str] = []

    async def all_dead_lettered() -> bool:
        for message in await take_all(channel, ["readings.dlq"]):
            reasons.append(str((message.headers or {})[REASON_HEADER]))
        return len(reasons) >= 3 * 144

    await eventually(all_dead_lettered, timeout=30)
    await connection.close()
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)

    assert reasons == ["device deleted"] * (3 * 144)
    after = _sample("ems_monitoring_readings_total", {"outcome": "deleted_device"})
    assert after - counted_before == 3 * 144
    assert unready == []
    assert [_sample("ems_amqp_channels_lost_total", {"link": x.name}) for x in links] == (
        lost_before
    )
    assert [x.connects for x in links] == [1, 1], "an ingest connection was restarted"
    stats = await asyncio.to_thread(queue_stats, pipeline.settings.amqp_url)
    partitions = {name: s for name, s in stats.items() if name in PARTITIONS}
    assert len(partitions) == 64
    assert all(s == (0, 0, 1) for s in partitions.values()), partitions
