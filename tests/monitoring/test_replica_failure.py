"""A monitoring replica killed with SIGKILL in the middle of a stream of readings."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.platform.pipeline import Pipeline, ReplicaProcess, Truth, mixed_stream
from tests.platform.polling import eventually


@pytest.fixture
async def replicas(pipeline: Pipeline) -> AsyncIterator[list[ReplicaProcess]]:
    processes = [ReplicaProcess(pipeline.settings, i) for i in range(2)]
    for process in processes:
        process.start()
    try:
        for process in processes:
            await eventually(process.ready, timeout=30, interval=0.2)
        yield processes
    finally:
        for process in processes:
            process.stop()


async def _stored_by(replica: ReplicaProcess) -> float:
    async with httpx.AsyncClient(timeout=2.0) as client:
        text = (await client.get(f"http://127.0.0.1:{replica.port}/metrics")).text
    match = re.search(r'ems_monitoring_readings_total\{outcome="stored"\} ([0-9.e+]+)', text)
    return float(match.group(1)) if match else 0.0


async def test_a_replica_killed_mid_stream_loses_nothing_and_doubles_nothing(
    pipeline: Pipeline, replicas: list[ReplicaProcess]
) -> None:
    """If this fails, readings a crashed replica had taken but not committed are lost, or
    ones it had committed but not acked are counted again by whoever gets them next."""
    await pipeline.start_balancer()
    devices = [await pipeline.create_device() for _ in range(20)]
    await pipeline.wait_for_devices(*devices)

    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    readings, stream = mixed_stream(devices, 150, 300, seed=11, start=start)

    async def publish_all() -> None:
        for i, (device, moment, value) in enumerate(stream):
            await pipeline.publish_reading(device, moment, value)
            if i % 200 == 199:
                await asyncio.sleep(0.05)  # a steady stream, not one burst

    publisher = asyncio.create_task(publish_all())
    await eventually(lambda: _has_stored(replicas[1], 300), timeout=30)
    replicas[1].kill()
    await publisher

    truth = Truth()
    truth.add(readings)

    # The balancer notices the silent replica and gives its partitions to the other.
    await eventually(lambda: truth.matches(pipeline), timeout=60, interval=0.25)
    assert pipeline.balancer.alive() == {"0"}
    for device in devices:
        assert await pipeline.readings_count(device) == 150

    # The replica comes back and takes its devices again; still exact.
    replicas[1].start()
    await eventually(replicas[1].ready, timeout=30, interval=0.2)
    await eventually(lambda: _alive(pipeline, {"0", "1"}), timeout=10)
    extra = start + timedelta(minutes=10 * 150)
    for device in devices:
        await pipeline.publish_reading(device, extra, 0.5)
    truth.add([(device, extra, 0.5) for device in devices])
    await eventually(lambda: truth.matches(pipeline), timeout=30, interval=0.25)
    assert await _stored_by(replicas[1]) > 0


async def _has_stored(replica: ReplicaProcess, count: int) -> bool:
    return await _stored_by(replica) >= count


async def _alive(pipeline: Pipeline, wanted: set[str]) -> bool:
    return pipeline.balancer.alive() == wanted
