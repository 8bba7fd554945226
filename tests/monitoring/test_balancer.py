"""The balancer as the control plane of ingest: which replica consumes which reading
partitions, as replicas come, go and come back; and the readings' totals while they do."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from ems.balancer.service import plan
from ems.common.messaging import EXCHANGE_CONTROL, REASON_HEADER, Broker
from ems.common.messaging.topology import MONITORING, READING_PARTITIONS
from ems.contracts.ingest import (
    ASSIGNMENT_ROUTING_KEY,
    Assignment,
    ReplicaHeartbeat,
    heartbeat_routing_key,
)
from ems.monitoring.ingest.store import StoreResult
from tests.platform.broker import TestBroker, take_all
from tests.platform.pipeline import PARTITIONS, Pipeline, Truth, mixed_stream
from tests.platform.polling import eventually

ALL = set(range(READING_PARTITIONS))


def _moved(before: dict[str, set[int]], after: dict[str, set[int]]) -> set[int]:
    """Partitions whose owner changed (or that gained or lost one)."""
    owner_before = {p: r for r, ps in before.items() for p in ps}
    owner_after = {p: r for r, ps in after.items() for p in ps}
    return {p for p in ALL if owner_before.get(p) != owner_after.get(p)}


def _covers_once(assignment: dict[str, set[int]]) -> bool:
    counted = [p for ps in assignment.values() for p in ps]
    return sorted(counted) == sorted(ALL)


def test_a_newcomer_takes_about_its_share_and_only_from_the_others_surplus() -> None:
    """If this fails, scaling monitoring out reshuffles partitions between the replicas
    that were there (their devices change hands for nothing) or the newcomer gets too much
    or too little."""
    for n in (1, 2, 3, 5):
        weights = {str(r): 1 for r in range(n)}
        before = plan(READING_PARTITIONS, {}, weights)
        assert _covers_once(before)
        after = plan(READING_PARTITIONS, before, {**weights, str(n): 1})
        assert _covers_once(after)
        newcomer = after[str(n)]
        assert abs(len(newcomer) - READING_PARTITIONS / (n + 1)) < 1
        assert _moved(before, after) == newcomer, "a partition moved between old replicas"
        for replica in weights:
            assert after[replica] <= before[replica]


def test_a_gone_replicas_partitions_spread_over_the_survivors_and_nothing_else_moves() -> None:
    """If this fails, losing one replica disturbs the survivors' partitions, or piles all
    of the lost replica's partitions onto one survivor."""
    weights = {r: 1 for r in ("0", "1", "2", "3")}
    before = plan(READING_PARTITIONS, {}, weights)
    survivors = {r: 1 for r in ("0", "1", "3")}
    after = plan(READING_PARTITIONS, before, survivors)
    assert _covers_once(after)
    assert _moved(before, after) == before["2"]
    for replica in survivors:
        assert before[replica] <= after[replica]
        gained = len(after[replica] - before[replica])
        assert 5 <= gained <= 6, (replica, gained)


def test_weights_share_the_partitions_and_a_plan_is_stable() -> None:
    """If this fails, a replica announced with twice the weight does not get twice the
    work, or the balancer keeps moving partitions although nothing changed."""
    weights = {"0": 2, "1": 1}
    first = plan(READING_PARTITIONS, {}, weights)
    assert {r: len(p) for r, p in first.items()} == {"0": 43, "1": 21}
    assert plan(READING_PARTITIONS, first, weights) == first
    # Two replicas claiming one partition (a split second after a handover): one keeps it.
    clash = {"0": first["0"] | {min(first["1"])}, "1": first["1"]}
    settled = plan(READING_PARTITIONS, clash, weights)
    assert _covers_once(settled)


class Replicas:
    """Stand-in monitoring replicas: they announce themselves as the real ones do (as the
    monitoring login), claiming what they were last assigned."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.claims: dict[str, set[int]] = {}
        self.beating: set[str] = set()

    async def beat(self) -> None:
        for replica in sorted(self.beating):
            heartbeat = ReplicaHeartbeat(
                replica=replica, partitions=sorted(self.claims.get(replica, set()))
            )
            await self.broker.publish(
                EXCHANGE_CONTROL,
                heartbeat_routing_key(replica),
                heartbeat.model_dump_json().encode(),
                persistent=False,
            )

    async def run(self, assignments: Assignments, stop: asyncio.Event) -> None:
        while not stop.is_set():
            latest = assignments.latest
            if latest is not None:
                for replica in self.beating:
                    self.claims[replica] = set(latest.replicas.get(replica, []))
            await self.beat()
            await asyncio.sleep(0.2)  # the heartbeat interval: pacing, not waiting


class Assignments:
    """What the balancer publishes, as any listener on ems.control sees it."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue
        self.latest: Assignment | None = None

    async def read(self) -> Assignment | None:
        while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
            self.latest = Assignment.model_validate_json(message.body)
        return self.latest

    def owned(self) -> dict[str, set[int]]:
        assert self.latest is not None
        return {r: set(p) for r, p in self.latest.replicas.items()}


@pytest.fixture
async def control(
    pipeline: Pipeline, test_broker: TestBroker
) -> AsyncIterator[tuple[Replicas, Assignments]]:
    monitoring = test_broker.client(pipeline.settings.amqp_url, MONITORING, "stand-ins")
    await monitoring.connect()
    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(EXCHANGE_CONTROL, ASSIGNMENT_ROUTING_KEY)
    replicas, assignments = Replicas(monitoring), Assignments(queue)

    # A flag, not cancellation, ends the loops: a cancelled basic.get may be swallowed by the
    # client, which would leave the loop (and the teardown) running for ever.
    stop = asyncio.Event()

    async def poll() -> None:
        while not stop.is_set():
            await assignments.read()
            await asyncio.sleep(0.05)  # a listener's pace, as a replica would read them

    tasks = [asyncio.create_task(replicas.run(assignments, stop)), asyncio.create_task(poll())]
    yield replicas, assignments
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
    await connection.close()
    await monitoring.close()


async def _assigned_to(assignments: Assignments, replicas: set[str]) -> bool:
    latest = assignments.latest
    return (
        latest is not None
        and set(latest.replicas) == replicas
        and _covers_once(assignments.owned())
    )


async def test_replicas_coming_and_going_move_only_the_partitions_they_must(
    pipeline: Pipeline, control: tuple[Replicas, Assignments]
) -> None:
    """If this fails, the live balancer reshuffles partitions of replicas that stayed up
    when one joins or leaves, leaves a gone replica's partitions unconsumed, or covers a
    partition twice (two writers of one device)."""
    replicas, assignments = control
    replicas.beating = {"0", "1"}
    await pipeline.start_balancer()
    await eventually(lambda: _assigned_to(assignments, {"0", "1"}), timeout=15)
    two = assignments.owned()
    assert {len(p) for p in two.values()} == {32}

    replicas.beating.add("2")
    await eventually(lambda: _assigned_to(assignments, {"0", "1", "2"}), timeout=15)
    three = assignments.owned()
    assert 21 <= len(three["2"]) <= 22
    assert _moved(two, three) == three["2"]

    replicas.beating.discard("0")
    await eventually(lambda: _assigned_to(assignments, {"1", "2"}), timeout=15)
    after = assignments.owned()
    assert _moved(three, after) == three["0"]
    assert {len(p) for p in after.values()} == {32}
    assert pipeline.balancer.alive() == {"1", "2"}


async def test_a_heartbeat_from_another_login_is_dead_lettered_as_forged(
    pipeline: Pipeline, control: tuple[Replicas, Assignments]
) -> None:
    """If this fails, any broker login can claim to be a monitoring replica and be handed
    reading partitions (which it would then never store: silent data loss)."""
    replicas, assignments = control
    replicas.beating = {"0"}
    await pipeline.start_balancer()
    await eventually(lambda: _assigned_to(assignments, {"0"}), timeout=15)
    forged = ReplicaHeartbeat(replica="intruder", partitions=sorted(ALL))
    connection = await aio_pika.connect(pipeline.admin_url)
    channel = await connection.channel()
    exchange = await channel.get_exchange(EXCHANGE_CONTROL)
    await exchange.publish(
        aio_pika.Message(forged.model_dump_json().encode()),
        heartbeat_routing_key("intruder"),
    )
    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def dead_lettered() -> bool:
        dead.extend(await take_all(channel, ["balancer.control.dlq"]))
        return bool(dead)

    await eventually(dead_lettered, timeout=10)
    assert "forged" in str(dead[0].headers[REASON_HEADER])
    assert "intruder" not in pipeline.balancer.replicas
    assert set(assignments.owned()) == {"0"}
    await connection.close()


async def _stream(
    pipeline: Pipeline,
    readings: list[tuple[uuid.UUID, datetime, float]],
    pause_every: int = 100,
) -> None:
    for i, (device, moment, value) in enumerate(readings):
        await pipeline.publish_reading(device, moment, value)
        if i % pause_every == pause_every - 1:
            await asyncio.sleep(0.05)  # a steady stream, not one burst


async def _each_partition_has_consumers(pipeline: Pipeline, count: int) -> bool:
    connection = await aio_pika.connect(pipeline.admin_url)
    try:
        channel = await connection.channel()
        for name in PARTITIONS:
            declared = await channel.declare_queue(name, passive=True)
            if declared.declaration_result.consumer_count != count:
                return False
        return True
    finally:
        await connection.close()


async def test_scaling_two_to_three_to_two_live_keeps_totals_exact(pipeline: Pipeline) -> None:
    """If this fails, readings are lost or counted twice while partitions change hands
    (scale-out or scale-in during a stream), or a partition is left with no consumer or
    two at the end."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    devices = [await pipeline.create_device() for _ in range(30)]
    await pipeline.wait_for_devices(*devices)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=20)
    readings, stream = mixed_stream(devices, 40, 150, seed=23, start=start)
    thirds = [stream[: len(stream) // 3], stream[len(stream) // 3 : 2 * len(stream) // 3]]
    thirds.append(stream[2 * len(stream) // 3 :])

    publishing = asyncio.create_task(_stream(pipeline, thirds[0]))
    await pipeline.start_replica(2)
    await eventually(lambda: _live(pipeline, {"0", "1", "2"}), timeout=15)
    await eventually(lambda: _consumes(pipeline, 2, 21), timeout=15)
    await publishing
    publishing = asyncio.create_task(_stream(pipeline, thirds[1]))
    await pipeline.stop_replica(1)
    await eventually(lambda: _live(pipeline, {"0", "2"}), timeout=15)
    await publishing
    await _stream(pipeline, thirds[2])

    truth = Truth()
    truth.add(readings)
    await eventually(lambda: truth.matches(pipeline), timeout=60, interval=0.25)
    await eventually(lambda: _each_partition_has_consumers(pipeline, 1), timeout=15)
    # A barrier: a last reading per device, stored only after everything before it in its
    # partition; a late repeat of an earlier reading would have been counted by now.
    marker = start + timedelta(minutes=10 * 40)
    for device in devices:
        await pipeline.publish_reading(device, marker, 0.5)
    truth.add([(device, marker, 0.5) for device in devices])
    await eventually(lambda: truth.matches(pipeline), timeout=30, interval=0.25)
    for device in devices:
        assert await pipeline.readings_count(device) == 41
    assert pipeline.intake(0).consuming() | pipeline.intake(2).consuming() == ALL
    assert not pipeline.intake(0).consuming() & pipeline.intake(2).consuming()


async def _live(pipeline: Pipeline, wanted: set[str]) -> bool:
    return pipeline.balancer.alive() == wanted and all(
        set(pipeline.balancer.assignment.get(r, ())) for r in wanted
    )


async def _consumes(pipeline: Pipeline, instance: int, at_least: int) -> bool:
    return len(pipeline.intake(instance).consuming()) >= at_least


async def test_round_robin_deals_one_devices_readings_to_every_replica(
    pipeline: Pipeline,
) -> None:
    """If this fails, the selectable round-robin strategy leaves a replica idle (or
    overloads one) instead of sharing every partition between the live replicas."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    stored: dict[int, int] = {0: 0, 1: 0}
    for instance in (0, 1):
        _count_stored(pipeline, instance, stored)
    await pipeline.start_balancer(balancer_strategy="round-robin")
    await eventually(lambda: _each_partition_has_consumers(pipeline, 2), timeout=15)
    device = await pipeline.create_device()
    await pipeline.wait_for_devices(device)
    start = datetime.now(UTC) - timedelta(hours=2)
    for i in range(40):
        await pipeline.publish_reading(device, start + timedelta(seconds=i), 0.1)

    async def all_stored() -> bool:
        return await pipeline.readings_count(device) == 40

    await eventually(all_stored, timeout=15)
    await eventually(lambda: _sum_is(stored, 40), timeout=10)
    assert min(stored.values()) >= 10, stored


def _count_stored(pipeline: Pipeline, instance: int, stored: dict[int, int]) -> None:
    """Tally what this replica stores (its committed-callback, wrapped)."""
    intake = pipeline.intake(instance)
    report = intake.on_committed

    def counting(result: StoreResult) -> None:
        stored[instance] += result.stored
        report(result)

    intake.on_committed = counting


async def _sum_is(stored: dict[int, int], total: int) -> bool:
    return sum(stored.values()) == total
