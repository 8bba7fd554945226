"""Two replicas behind the balancer, fed by a plain AMQP client in the seeds' format:
hourly totals come out exact whatever the broker and the meters do."""

from __future__ import annotations

import json
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika

from ems.common.messaging import EXCHANGE_WS
from tests.platform.pipeline import Pipeline, expected_micro, hour_of
from tests.platform.polling import eventually


def _formats(moment: datetime) -> list[str | int]:
    """One instant as the seeds might write it: ISO UTC, ISO with an offset, epoch ms."""
    return [
        moment.isoformat().replace("+00:00", "Z"),
        moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "+00:00",
        int(moment.timestamp() * 1000),
    ]


async def test_duplicates_shuffling_and_late_readings_give_exact_hourly_totals(
    pipeline: Pipeline,
) -> None:
    """If this fails, a redelivered or repeated reading is counted twice, a late one lands in
    the wrong hour, or float arithmetic leaks into the stored kWh."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    devices = [await pipeline.create_device() for _ in range(12)]
    await pipeline.wait_for_devices(*devices)

    rng = random.Random(4)
    start = hour_of(datetime.now(UTC)) - timedelta(hours=5)
    readings: list[tuple[uuid.UUID, datetime, float]] = []
    for device in devices:
        for step in range(30):  # five hours of 10-minute readings
            moment = start + timedelta(minutes=10 * step, seconds=rng.randint(0, 59))
            # Values whose float sums are not exact (0.1 + 0.2 != 0.3).
            value = rng.choice([0.1, 0.2, 0.3, round(rng.uniform(0, 2), 6)])
            readings.append((device, moment, value))

    stream = [(d, rng.choice(_formats(m)), v) for d, m, v in readings]
    stream += [(d, rng.choice(_formats(m)), v) for d, m, v in rng.sample(readings, 120)]
    rng.shuffle(stream)
    late = stream[:40]
    on_time = stream[40:]
    for device, stamp, value in on_time:
        await pipeline.publish_reading(device, stamp, value)

    expected: dict[uuid.UUID, dict[datetime, list[float]]] = defaultdict(lambda: defaultdict(list))
    for device, moment, value in readings:
        expected[device][hour_of(moment)].append(value)

    async def settled_without_late() -> bool:
        stored = sum([await pipeline.readings_count(d) for d in devices])
        late_keys = {(d, s) for d, s, _ in late}
        return stored >= len(readings) - len(late_keys)

    await eventually(settled_without_late, timeout=30)
    # The held-back readings arrive now, hours after their own hour began.
    for device, stamp, value in late:
        await pipeline.publish_reading(device, stamp, value)

    async def exact() -> bool:
        for device in devices:
            want = {hour: expected_micro(values) for hour, values in expected[device].items()}
            if await pipeline.hourly(device) != want:
                return False
        return True

    await eventually(exact, timeout=30)
    for device in devices:
        assert await pipeline.readings_count(device) == 30
    counts = await pipeline.db.fetch(
        "SELECT readings FROM hourly_consumption WHERE device_id = ANY($1::uuid[])", devices
    )
    assert sum(row["readings"] for row in counts) == len(readings)


async def test_one_alert_per_device_hour_while_replicas_race(pipeline: Pipeline) -> None:
    """If this fails, a client gets an alert for every reading over the limit, or two when
    both replicas see the hour cross its limit at the same moment."""
    probe_connection = await aio_pika.connect(pipeline.admin_url)
    channel = await probe_connection.channel()
    probe = await channel.declare_queue(exclusive=True)
    await probe.bind(EXCHANGE_WS, "notify.overconsumption")
    await probe.bind(EXCHANGE_WS, "consumption.updated")

    await pipeline.start_replica(0, over_limit_kwh=0.5)
    await pipeline.start_replica(1, over_limit_kwh=0.5)
    # Round-robin: the readings of one device-hour are written by both replicas at once.
    await pipeline.start_balancer(balancer_strategy="round-robin")
    owner = uuid.uuid4()
    device = await pipeline.create_device(limit_kwh=1.0, owner_id=owner)
    await pipeline.wait_for_devices(device)

    hour = hour_of(datetime.now(UTC)) - timedelta(hours=2)
    for i in range(60):
        moment = hour + timedelta(seconds=30 * i)
        await pipeline.publish_reading(device, moment.isoformat(), 0.6 if i in (7, 41) else 0.1)

    total = 58 * 100_000 + 2 * 600_000

    async def summed() -> bool:
        return (await pipeline.hourly(device)).get(hour) == total

    await eventually(summed, timeout=20)
    alerts = await pipeline.db.fetch(
        "SELECT kind, hour, micro_kwh, limit_micro_kwh FROM alerts WHERE device_id = $1", device
    )
    assert sorted(a["kind"] for a in alerts) == ["hourly", "reading"]
    assert all(a["hour"] == hour for a in alerts)
    reading_alert = next(a for a in alerts if a["kind"] == "reading")
    assert reading_alert["micro_kwh"] == 600_000
    assert reading_alert["limit_micro_kwh"] == 500_000

    received: list[dict[str, Any]] = []

    async def notified_and_charted() -> bool:
        while (message := await probe.get(no_ack=True, fail=False)) is not None:
            received.append(json.loads(message.body))
        alerts = [m for m in received if m["type"] == "notify.overconsumption"]
        figures = [m["data"]["kwh"] for m in received if m["type"] == "consumption.updated"]
        # Totals only grow; with round-robin two replicas' updates may arrive crossed.
        return len(alerts) == 2 and bool(figures) and max(figures) == total / 1_000_000

    await eventually(notified_and_charted, timeout=10)
    notified = [m for m in received if m["type"] == "notify.overconsumption"]
    assert sorted(str(n["data"]["kind"]) for n in notified) == ["hourly", "reading"]
    for note in notified:
        # The owner only: admins hear of alerts in the digest.
        assert note["audience"] == {"user_ids": [str(owner)], "admins": False}
        assert note["data"]["device_id"] == str(device)
    await probe_connection.close()
