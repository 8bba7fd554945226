"""Malformed readings are dead-lettered with a reason and counted; the queue keeps flowing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
from prometheus_client import REGISTRY

from ems.common.messaging import REASON_HEADER
from ems.contracts.readings import reading_routing_key
from tests.platform.broker import queue_stats, take_all
from tests.platform.pipeline import PARTITIONS, Pipeline
from tests.platform.polling import eventually


def _invalid_total() -> float:
    value = REGISTRY.get_sample_value("ems_monitoring_readings_total", {"outcome": "invalid"})
    return value or 0.0


async def test_bad_readings_are_dead_lettered_with_reasons_and_good_ones_still_flow(
    pipeline: Pipeline,
) -> None:
    """If this fails, one broken meter can crash a replica, block its queue by being
    redelivered forever, or vanish without a trace or a count."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    device = await pipeline.create_device()
    await pipeline.wait_for_devices(device)
    now = datetime.now(UTC)
    good = {"device_id": str(device), "timestamp": now.isoformat(), "measurement_value": 0.25}

    def variant(**changes: Any) -> bytes:
        body = {**good, **changes}
        return json.dumps({k: v for k, v in body.items() if v is not None}).encode()

    bad: dict[str, bytes] = {
        "not json": b"{this is not json",
        "not an object": b"[1, 2, 3]",
        "wrong type": variant(measurement_value="0.25"),
        "boolean value": variant(measurement_value=True),
        "missing field": json.dumps(
            {"device_id": str(device), "timestamp": now.isoformat()}
        ).encode(),
        # Neither a uuid nor a meter id (`7` and "meter-7" are meter ids: held, not refused).
        "bad device id": variant(device_id="meter 7!"),
        "fractional device id": variant(device_id=7.5),
        "boolean device id": variant(device_id=True),
        "long meter id": variant(device_id=10**70),
        "negative": variant(measurement_value=-1.5),
        "nan": variant(measurement_value=float("nan")),
        "far future": variant(timestamp=(now + timedelta(days=3)).isoformat()),
        "too old": variant(timestamp=(now - timedelta(days=30)).isoformat()),
        "bad timestamp": variant(timestamp="yesterday"),
        # Issue 15: `fromtimestamp` overflows; nesting deeper than the parser's stack.
        "timestamp 1e20": variant(timestamp=1e20),
        "huge epoch": variant(timestamp=10**30),
        "deep nesting": b'{"device_id": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        "invalid utf-8": b'{"device_id": "\xff\xfe"}',
        "empty": b"",
    }
    before = _invalid_total()
    for body in bad.values():
        await pipeline.publish_raw(reading_routing_key(device), body)
    await pipeline.publish_raw(reading_routing_key(device), variant())

    async def good_one_stored() -> bool:
        return await pipeline.readings_count(device) == 1

    await eventually(good_one_stored, timeout=15)

    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def all_dead_lettered() -> bool:
        dlq = await channel.declare_queue("readings.dlq", passive=True)
        while (message := await dlq.get(no_ack=True, fail=False)) is not None:
            dead.append(message)
        return len(dead) >= len(bad)

    await eventually(all_dead_lettered, timeout=15)
    await connection.close()
    assert len(dead) == len(bad)
    reasons = {m.body: str((m.headers or {})[REASON_HEADER]) for m in dead}
    assert set(reasons) == set(bad.values())
    assert reasons[bad["not json"]] == "not JSON"
    assert "measurement_value" in reasons[bad["wrong type"]]
    assert "measurement_value" in reasons[bad["missing field"]]
    for name in ("bad device id", "fractional device id", "boolean device id", "long meter id"):
        assert "device_id" in reasons[bad[name]], reasons[bad[name]]
    assert "non-negative" in reasons[bad["negative"]]
    assert "finite" in reasons[bad["nan"]]
    assert "future" in reasons[bad["far future"]]
    assert "retention" in reasons[bad["too old"]]
    assert all(m.headers["x-ems-original-exchange"] == "ems.data" for m in dead)
    # Where each was published, kept for whoever reads the dead letters.
    published_as = {m.headers["x-ems-original-routing-key"] for m in dead}
    assert published_as == {f"device.{device}.reading"}
    assert (
        "unreadable" in reasons[bad["timestamp 1e20"]]
        or "timestamp" in reasons[bad["timestamp 1e20"]]
    )
    assert (
        "RecursionError" in reasons[bad["deep nesting"]] or "JSON" in reasons[bad["deep nesting"]]
    )
    assert _invalid_total() - before == len(bad)
    assert (await pipeline.hourly(device)) == {
        now.replace(minute=0, second=0, microsecond=0): 250_000
    }


async def test_readings_of_unknown_devices_wait_aside_until_the_device_is_created(
    pipeline: Pipeline,
) -> None:
    """If this fails, readings that beat their device's `device.created` to monitoring are
    lost (or counted twice once the device appears)."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    device = uuid.uuid4()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for minute in range(0, 60, 10):
        await pipeline.publish_reading(device, hour + timedelta(minutes=minute), 0.5)
    await pipeline.publish_reading(device, hour, 0.5)  # a repeat, while still unknown

    async def held() -> bool:
        count = await pipeline.db.fetchval(
            "SELECT count(*) FROM unmatched_readings WHERE device_id = $1 "
            "AND reason = 'unknown device'",
            device,
        )
        return bool(count == 6)

    await eventually(held, timeout=15)
    assert await pipeline.readings_count(device) == 0

    from ems.contracts.events import DeviceCreated

    await pipeline.publish_event(DeviceCreated(id=device, name="late", max_hourly_kwh=10))

    async def adopted() -> bool:
        return (await pipeline.hourly(device)).get(hour) == 3_000_000

    await eventually(adopted, timeout=15)
    assert await pipeline.readings_count(device) == 6
    left = await pipeline.db.fetchval(
        "SELECT count(*) FROM unmatched_readings WHERE device_id = $1", device
    )
    assert left == 0
    # Sent again after adoption: still counted once.
    await pipeline.publish_reading(device, hour + timedelta(minutes=10), 0.5)
    await pipeline.publish_reading(device, hour + timedelta(minutes=70), 0.25)

    async def next_hour() -> bool:
        return (await pipeline.hourly(device)).get(hour + timedelta(hours=1)) == 250_000

    await eventually(next_hour, timeout=15)
    assert (await pipeline.hourly(device))[hour] == 3_000_000


async def test_a_reading_stamped_1e20_stalls_nothing_behind_it(pipeline: Pipeline) -> None:
    """If this fails (issue 15's first reproduction), one reading whose timestamp overflows
    the parser fails its whole batch again and again: every later reading of its partition
    waits behind it, unacknowledged, even across restarts (the queue is durable)."""
    await pipeline.start_replica(0)
    await pipeline.start_balancer()
    device = await pipeline.create_device()
    await pipeline.wait_for_devices(device)
    link = pipeline.intake(0).link
    lost = REGISTRY.get_sample_value("ems_amqp_channels_lost_total", {"link": link.name}) or 0
    poison = json.dumps(
        {"device_id": str(device), "timestamp": 1e20, "measurement_value": 1}
    ).encode()
    await pipeline.publish_raw(reading_routing_key(device), poison)
    start = datetime.now(UTC) - timedelta(hours=5)
    for i in range(100):  # the same device: the same partition, behind the poison
        await pipeline.publish_reading(device, start + timedelta(minutes=i), 0.01)

    async def all_stored() -> bool:
        return await pipeline.readings_count(device) == 100

    await eventually(all_stored, timeout=15)
    connection = await aio_pika.connect(pipeline.admin_url)
    dead = await take_all(await connection.channel(), ["readings.dlq"])
    await connection.close()
    assert [m.body for m in dead] == [poison]
    assert str(dead[0].headers[REASON_HEADER]) == (
        "invalid reading: timestamp: Value error, epoch milliseconds out of range"
    )
    assert link.connects == 1
    after = REGISTRY.get_sample_value("ems_amqp_channels_lost_total", {"link": link.name})
    assert (after or 0) == lost
    stats = await asyncio.to_thread(queue_stats, pipeline.settings.amqp_url)
    assert all(stats[name] == (0, 0, 1) for name in PARTITIONS), "a reading is left behind"
