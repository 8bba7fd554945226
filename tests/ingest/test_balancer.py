"""The balancer against stand-in replicas (plain consumers of the ingest queues): device
affinity, replicas leaving and returning, and the ring's arithmetic."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from ems.balancer.ring import HashRing, RoundRobin

from ems.contracts.ingest import ingest_queue
from tests.ingest.conftest import Pipeline
from tests.support.polling import eventually


class StandIns:
    """Consumers standing in for monitoring replicas; each records whose readings it got."""

    def __init__(self, connection: aio_pika.abc.AbstractConnection) -> None:
        self.connection = connection
        self.received: dict[int, list[str]] = defaultdict(list)
        self._tags: dict[int, tuple[aio_pika.abc.AbstractQueue, str]] = {}

    async def start(self, replica: int) -> None:
        channel = await self.connection.channel()
        queue = await channel.get_queue(ingest_queue(replica))

        async def record(message: AbstractIncomingMessage) -> None:
            self.received[replica].append(json.loads(message.body)["device_id"])
            await message.ack()

        self._tags[replica] = (queue, await queue.consume(record))

    async def stop(self, replica: int) -> None:
        queue, tag = self._tags.pop(replica)
        await queue.cancel(tag)

    def owners(self) -> dict[str, set[int]]:
        where: dict[str, set[int]] = defaultdict(set)
        for replica, devices in self.received.items():
            for device in devices:
                where[device].add(replica)
        return where

    def total(self) -> int:
        return sum(len(v) for v in self.received.values())


async def _send_round(pipeline: Pipeline, devices: list[uuid.UUID]) -> None:
    moment = datetime.now(UTC)
    for device in devices:
        await pipeline.publish_reading(device, moment, 0.1)


async def test_each_device_sticks_to_one_replica_and_moves_only_when_its_replica_goes(
    pipeline: Pipeline,
) -> None:
    """If this fails, one device's readings are spread over replicas under consistent
    hashing, a replica's death strands or loses its readings, or devices of replicas that
    stayed up are reshuffled needlessly."""
    await pipeline.start_balancer(replicas=3)
    connection = await aio_pika.connect(pipeline.settings.amqp_url)
    standins = StandIns(connection)
    for replica in range(3):
        await standins.start(replica)
    devices = [uuid.uuid4() for _ in range(60)]
    for _ in range(3):
        await _send_round(pipeline, devices)
    await eventually(lambda: _at_least(standins, 180), timeout=15)
    before = standins.owners()
    assert all(len(owners) == 1 for owners in before.values()), "a device was split"
    assert set(Counter(next(iter(o)) for o in before.values())) == {0, 1, 2}
    placement = {device: next(iter(owners)) for device, owners in before.items()}

    # Replica 2 goes away; readings sent meanwhile wait in its queue until it is judged gone.
    await standins.stop(2)
    standins.received.clear()
    await _send_round(pipeline, devices)
    await eventually(lambda: _equals(pipeline.balancer.alive(), {0, 1}), timeout=10)
    await _send_round(pipeline, devices)
    await eventually(lambda: _at_least(standins, 120), timeout=15)
    assert standins.total() == 120, "a reading was lost or duplicated while rerouting"
    assert 2 not in standins.received
    for device, owners in standins.owners().items():
        if placement[device] != 2:
            assert owners == {placement[device]}, "a device of a live replica moved"

    # It comes back: its devices return to it, the others stay where they were.
    await standins.start(2)
    await eventually(lambda: _equals(pipeline.balancer.alive(), {0, 1, 2}), timeout=10)
    standins.received.clear()
    await _send_round(pipeline, devices)
    await eventually(lambda: _at_least(standins, 60), timeout=15)
    assert {d: next(iter(o)) for d, o in standins.owners().items()} == placement
    await connection.close()


async def test_round_robin_spreads_readings_evenly(pipeline: Pipeline) -> None:
    """If this fails, the selectable round-robin strategy overloads one replica."""
    await pipeline.start_balancer(replicas=2, balancer_strategy="round-robin")
    connection = await aio_pika.connect(pipeline.settings.amqp_url)
    standins = StandIns(connection)
    for replica in range(2):
        await standins.start(replica)
    device = uuid.uuid4()
    await _send_round(pipeline, [device] * 40)
    await eventually(lambda: _at_least(standins, 40), timeout=15)
    assert {r: len(v) for r, v in standins.received.items()} == {0: 20, 1: 20}
    await connection.close()


async def _at_least(standins: StandIns, count: int) -> bool:
    return standins.total() >= count


async def _equals(alive: frozenset[int], wanted: set[int]) -> bool:
    return alive == wanted


def test_adding_a_replica_moves_about_its_share_and_only_to_it() -> None:
    """If this fails, scaling monitoring out reshuffles most devices between the old
    replicas instead of handing the newcomer its ~1/(N+1) share."""
    keys = [str(uuid.UUID(int=i * 7919 + 17)) for i in range(20_000)]
    for n in (2, 3, 5):
        before = HashRing(range(n))
        after = HashRing(range(n + 1))
        moved = [k for k in keys if before.pick(k) != after.pick(k)]
        assert all(after.pick(k) == n for k in moved), "a key moved between old replicas"
        share = len(moved) / len(keys)
        assert abs(share - 1 / (n + 1)) < 0.35 / (n + 1), (n, share)


def test_removing_a_replica_moves_only_its_devices_and_spreads_them() -> None:
    """If this fails, losing one replica disturbs devices of the survivors, or piles all
    of the lost replica's devices onto one survivor."""
    keys = [str(uuid.UUID(int=i * 104729 + 3)) for i in range(20_000)]
    ring = HashRing(range(4))
    placement = {k: ring.pick(k) for k in keys}
    ring.set_members([0, 1, 3])
    landed: Counter[int] = Counter()
    for key, owner in placement.items():
        if owner != 2:
            assert ring.pick(key) == owner
        else:
            landed[ring.pick(key)] += 1
    assert set(landed) == {0, 1, 3}
    assert min(landed.values()) > 0.15 * sum(landed.values())
    loads = Counter(placement.values())
    assert max(loads.values()) < 1.35 * min(loads.values()), loads


def test_round_robin_cycles_over_the_members() -> None:
    """If this fails, round-robin skips or repeats a replica."""
    strategy = RoundRobin([0, 1, 2])
    assert [strategy.pick("x") for _ in range(6)] == [0, 1, 2, 0, 1, 2]
    strategy.set_members([0, 2])
    assert sorted(strategy.pick("x") for _ in range(4)) == [0, 0, 2, 2]
