"""SIGKILL the broker, a monitoring replica, the balancer and the database in turn under a
steady simulator load, bring each back, and check like a Jepsen checker: every reading the
broker confirmed is stored once, the hourly totals equal the ground truth, every device
change reaches monitoring, and the platform recovers by itself within 15 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg
import httpx

from ems.common.messaging.topology import METER, MONITORING
from tests.chaos.conftest import Cluster, write_results
from tests.chaos.ledger import (
    INTERVAL,
    LedgerPublisher,
    Load,
    Verdict,
    check,
    utc_now,
    verdict_rows,
)
from tests.platform.polling import eventually

DEVICES = 24
RATE = 250.0  # readings a second, duplicates included
OUTAGE = 3.0  # seconds a killed component stays down
RECOVERY_LIMIT = 15.0


@dataclass
class Fault:
    name: str
    killed_at: float = 0.0
    back_at: float = 0.0
    # How long the component itself took to come back (a restarted process starting up,
    # PostgreSQL's crash recovery); the recovery figures count from when it was back.
    restart_took: float = 0.0
    # Seconds from the component's return until every service is ready / until readings
    # published after its return are stored.
    ready_after: float = 0.0
    flowing_after: float = 0.0
    device_changes: int = 0


async def _admin(cluster: Cluster) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=cluster.services["devices-0"].url,
        headers={"Authorization": f"Bearer {cluster.admin_token}"},
        timeout=5,
    )


async def _stored(db: asyncpg.Pool, keys: list[tuple[str, Any]]) -> bool:
    try:
        count = await db.fetchval(
            "SELECT count(*) FROM readings r JOIN unnest($1::uuid[], $2::timestamptz[]) AS k(d, t) "
            "ON r.device_id = k.d AND r.ts = k.t",
            [uuid.UUID(d) for d, _ in keys],
            [t for _, t in keys],
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False  # the database is still coming back
    return bool(count == len(keys))


async def test_killing_each_dependency_in_turn_loses_nothing_and_doubles_nothing(
    cluster: Cluster,
) -> None:
    """If this fails, a crash of the broker, a replica, the balancer or the database loses
    readings the publisher was told were safe, counts one twice, leaves a device change
    behind, or leaves the platform stuck until someone restarts a service by hand."""
    admin = await _admin(cluster)
    # A pool replaces the connections the database kill breaks.
    monitoring_db = await asyncpg.create_pool(cluster.dsn("monitoringdb"), min_size=1, max_size=2)
    started = time.monotonic()

    # Devices made through the devices service: their events travel by its outbox.
    device_ids: list[uuid.UUID] = []
    for i in range(DEVICES):
        response = await admin.post(
            "/api/devices", json={"name": f"chaos meter {i}", "max_hourly_kwh": 3.0}
        )
        assert response.status_code == 201, response.text
        device_ids.append(uuid.UUID(response.json()["id"]))

    async def monitoring_knows_all() -> bool:
        count = await monitoring_db.fetchval(
            "SELECT count(*) FROM devices WHERE id = ANY($1::uuid[])", device_ids
        )
        return bool(count == DEVICES)

    await eventually(monitoring_knows_all, 15, what="monitoring learns the devices")

    publisher = LedgerPublisher(
        cluster.rabbitmq.login_url(METER), window=500, name="chaos-simulator", passive=True
    )
    await publisher.start()
    first = (utc_now() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    load = Load(publisher, device_ids, RATE, first)
    load.begin()
    probe_base = first - timedelta(days=1)

    async def warmed_up() -> bool:
        return len(publisher.confirmed_keys) > 1000

    try:
        await eventually(warmed_up, 60, what="the load is flowing")
    except AssertionError:
        p = publisher
        raise AssertionError(
            f"the load does not flow: sent {p.sent}, confirmed {p.confirmed}, "
            f"re-sent {p.retried}, connected {p.connected()}"
        ) from None

    changes = 0

    async def change_limits(count: int) -> int:
        """Raise some devices' limits; returns how many the devices service accepted."""
        nonlocal changes
        accepted = 0
        for _ in range(count):
            device = device_ids[changes % DEVICES]
            changes += 1
            limit = 3.0 + changes / 10
            try:
                response = await admin.patch(
                    f"/api/devices/{device}", json={"max_hourly_kwh": limit}
                )
            except httpx.HTTPError:
                continue
            accepted += response.status_code == 200
        return accepted

    async def kill_broker() -> Callable[[], Awaitable[None]]:
        cluster.rabbitmq.proc.kill()
        return cluster.rabbitmq.start  # type: ignore[return-value]

    async def kill_service(label: str) -> Callable[[], Awaitable[None]]:
        service = cluster.services[label]
        service.proc.kill()

        async def back() -> None:
            await service.start(timeout=90)

        return back

    async def kill_database() -> Callable[[], Awaitable[None]]:
        cluster.postgres.proc.kill()
        return cluster.postgres.start  # type: ignore[return-value]

    faults: list[tuple[Fault, Callable[[], Awaitable[Callable[[], Awaitable[None]]]]]] = [
        (Fault("broker"), kill_broker),
        (Fault("monitoring replica 1"), lambda: kill_service("monitoring-1")),
        (Fault("balancer"), lambda: kill_service("balancer-0")),
        (Fault("database"), kill_database),
    ]
    pids_before = {label: s.proc.process.pid for label, s in cluster.services.items()}  # type: ignore[union-attr]
    killed_labels = {"monitoring-1", "balancer-0"}

    for index, (fault, kill) in enumerate(faults):
        fault.killed_at = time.monotonic() - started
        bring_back = await kill()
        # Changes made while it is down: the broker's outage must not lose them (outbox).
        fault.device_changes = await change_limits(3)
        await asyncio.sleep(OUTAGE)  # the outage itself, under steady load
        restarting = time.monotonic()
        await bring_back()
        back = time.monotonic()
        fault.restart_took = back - restarting
        fault.back_at = back - started
        probes = [Load.reading(device, probe_base + INTERVAL * index) for device in device_ids]
        for reading in probes:
            await publisher.publish(reading)
        probe_keys = [(r.device_id, _moment(r.timestamp)) for r in probes]
        await eventually(cluster.all_ready, 60, what=f"every service ready after the {fault.name}")
        fault.ready_after = time.monotonic() - back
        await eventually(
            lambda keys=probe_keys: _stored(monitoring_db, keys),  # type: ignore[misc]
            60,
            what=f"readings flow after the {fault.name}",
        )
        fault.flowing_after = time.monotonic() - back
        await asyncio.sleep(2.0)  # steady load between faults

    await change_limits(3)
    await asyncio.sleep(2.0)  # steady load after the last change, before the load stops
    await load.stop()
    await asyncio.wait_for(publisher.drain(), 60)

    verdict: Verdict | None = None

    async def settled() -> bool:
        nonlocal verdict
        verdict = await check(monitoring_db, publisher)
        return verdict.ok

    with contextlib.suppress(AssertionError):
        await eventually(settled, 60, what="every confirmed reading is stored", interval=1.0)
    assert verdict is not None

    sync_missing = await _sync_differences(cluster, monitoring_db)
    dead_letters = await _dead_letters(cluster.rabbitmq.login_url(MONITORING))
    restarted_by_themselves = [
        label
        for label, service in cluster.services.items()
        if label not in killed_labels
        and (service.proc.process is None or service.proc.process.pid != pids_before[label])
    ]
    exited = [label for label, s in cluster.services.items() if not s.proc.running]
    elapsed = time.monotonic() - started
    await publisher.close()
    await monitoring_db.close()
    await admin.aclose()

    results = {
        "devices": DEVICES,
        "rate_per_second": RATE,
        "duplicates_sent": load.duplicates_sent,
        "duration_seconds": round(elapsed, 1),
        "verdict": verdict.as_dict(),
        "device_changes": changes,
        "sync_differences": sync_missing,
        "dead_lettered_readings": dead_letters,
        "faults": [vars(f) for f, _ in faults],
        "services_exited": exited,
    }
    write_results("chaos", results, _markdown(results))
    print(_markdown(results))

    assert verdict.ok, verdict.as_dict()
    assert verdict.confirmed > 5000
    assert sync_missing == [], sync_missing
    assert dead_letters == 0
    assert exited == [] and restarted_by_themselves == []
    slow = [
        (f.name, round(f.flowing_after, 1)) for f, _ in faults if f.flowing_after > RECOVERY_LIMIT
    ]
    assert slow == [], f"recovered later than {RECOVERY_LIMIT} s: {slow}"


async def _sync_differences(cluster: Cluster, monitoring_db: asyncpg.Pool) -> list[str]:
    """Devices whose limit in monitoring differs from the devices service (after 15 s)."""
    devices_db = await asyncpg.connect(cluster.dsn("devicedb"))
    try:
        truth = {
            r["id"]: int(Decimal(repr(r["max_hourly_kwh"])).scaleb(6))
            for r in await devices_db.fetch("SELECT id, max_hourly_kwh FROM devices")
        }
    finally:
        await devices_db.close()
    differences: list[str] = []

    async def same() -> bool:
        nonlocal differences
        rows = await monitoring_db.fetch("SELECT id, max_hourly_micro_kwh FROM devices")
        copy = {r["id"]: r["max_hourly_micro_kwh"] for r in rows}
        differences = [
            f"{device}: devices {limit} monitoring {copy.get(device)}"
            for device, limit in truth.items()
            if copy.get(device) != limit
        ]
        return not differences

    with contextlib.suppress(AssertionError):
        await eventually(same, 15, what="monitoring's copy of devices")
    return differences


async def _dead_letters(amqp_url: str) -> int:
    """Readings dead-lettered (as monitoring, the owner of the readings' dead letters)."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("readings.dlq", passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


def _moment(stamp: str | int) -> Any:
    from datetime import datetime

    assert isinstance(stamp, str)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _markdown(results: dict[str, Any]) -> str:
    v = results["verdict"]
    lines = [
        *verdict_rows(v, results["duplicates_sent"]),
        f"| device changes / not synced | {results['device_changes']} / "
        f"{len(results['sync_differences'])} |",
        f"| dead-lettered readings | {results['dead_lettered_readings']} |",
        "",
        "| fault | killed at (s) | restart took (s) | back at (s) "
        "| then all services ready after (s) | then readings flowing after (s) |",
        "|---|---|---|---|---|---|",
    ]
    for f in results["faults"]:
        lines.append(
            f"| {f['name']} | {f['killed_at']:.1f} | {f['restart_took']:.1f} | "
            f"{f['back_at']:.1f} | "
            f"{f['ready_after']:.1f} | {f['flowing_after']:.1f} |"
        )
    lines.append("")
    lines.append(
        f"{results['devices']} devices, {results['rate_per_second']:.0f} readings/s, "
        f"{results['duration_seconds']} s in all."
    )
    return "\n".join(lines) + "\n"
