"""The Swarm deployment, end to end through its published ports, then under a steady meter
load while it is rescaled and its containers are killed: Swarm must bring everything back
by itself, and every reading the broker confirmed must be stored exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ems.common.messaging.topology import READING_PARTITIONS
from ems.simulator.readings import OutgoingReading, iso
from ems.stack.swarm.commands import FIGURES_FILE, FROM_SCRATCH_FILE
from tests.chaos.conftest import write_results
from tests.chaos.ledger import (
    INTERVAL,
    Key,
    LedgerPublisher,
    Load,
    Verdict,
    judge,
    utc_now,
    verdict_rows,
)
from tests.platform.sockets import connected
from tests.swarm.conftest import Platform, until

PASSWORD = "correct-horse-swarm-1"
DEVICES = 24
# Readings a second, repeats included: steady, and modest for a small shared machine on
# which every service, database and broker of the stack runs at once.
RATE = 100.0
RECOVERY_LIMIT = 120.0


async def test_a_client_a_meter_and_an_admin_through_the_published_ports(
    platform: Platform,
) -> None:
    """If this fails, the Swarm deployment does not do what `make run` does for its users:
    register and log in through the gateway, an admin's device reaching monitoring, a
    meter's readings over AMQP on the published port counted exactly (a repeat once), the
    owner's socket getting the alert, or support chat with the bot and with an admin."""
    username = f"sw{uuid.uuid4().hex[:10]}"
    async with platform.http() as anonymous:
        registered = await anonymous.post(
            "/api/auth/register", json={"username": username, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
    client = await platform.login(username, PASSWORD)
    client_id = client["user"]["id"]
    admin = await platform.login(platform.admin_username, platform.admin_password)
    assert admin["user"]["role"] == "ADMIN"

    async with (
        platform.http(admin["access_token"]) as as_admin,
        platform.http(client["access_token"]) as as_client,
    ):
        created = await as_admin.post(
            "/api/devices",
            json={"name": "swarm meter", "max_hourly_kwh": 1.0, "owner_id": client_id},
        )
        assert created.status_code == 201, created.text
        device = created.json()["id"]
        socket = await connected(platform.address, client["access_token"])

        hour = (utc_now() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
        day = {"device_id": device, "date": hour.date().isoformat()}

        async def monitoring_knows_the_device() -> bool:
            response = await as_client.get("/api/consumption/day", params=day)
            return response.status_code == 200

        await until(monitoring_knows_the_device, 60, "the device reaches monitoring")

        values = ["0.3", "0.25", "0.2", "0.35", "0.4", "0.3"]  # 1.8 kWh over a 1 kWh limit
        readings = [
            OutgoingReading(device, iso(hour + INTERVAL * i), value)
            for i, value in enumerate(values)
        ]
        meter = LedgerPublisher(platform.meter_url, name="swarm-meter", passive=True)
        await meter.start()
        try:
            for reading in [*readings, readings[0], readings[3]]:  # two sent again
                await meter.publish(reading)
            await asyncio.wait_for(meter.drain(), 60)
        finally:
            await meter.close()

        hour_stamp = hour.isoformat()

        async def exact_total() -> bool:
            body = (await as_client.get("/api/consumption/day", params=day)).json()
            kwh = {
                datetime.fromisoformat(h["hour"]).isoformat(): Decimal(str(h["kwh"]))
                for h in body["hours"]
            }
            return kwh.get(hour_stamp) == Decimal("1.8") and Decimal(
                str(body["total_kwh"])
            ) == Decimal("1.8")

        await until(exact_total, 60, "the hour's total is exactly 1.8 kWh")
        alert = await socket.wait_for("notify.overconsumption", timeout=60, device_id=device)
        assert alert["kind"] == "hourly" and alert["limit_kwh"] == 1.0

        bot = await as_client.post(
            "/api/support/messages", json={"text": "hi, I forgot my password", "mode": "bot"}
        )
        assert bot.status_code == 200, bot.text
        assert bot.json()["reply"]["sender"] == "bot"
        human = await as_client.post(
            "/api/support/messages", json={"text": "my meter beeps", "mode": "admin"}
        )
        assert human.status_code == 200 and human.json()["reply"] is None

        async def in_the_inbox() -> bool:
            inbox = await as_admin.get("/api/support/conversations", params={"size": 200})
            rows = [i for i in inbox.json()["items"] if i["user_id"] == client_id]
            return bool(rows) and rows[0]["last_message"] == "my meter beeps"

        await until(in_the_inbox, 30, "the client's message in the admin inbox")
        answer = "A technician is on the way."
        replied = await as_admin.post(
            "/api/support/admin/reply", json={"user_id": client_id, "text": answer}
        )
        assert replied.status_code in (200, 201), replied.text
        await socket.wait_for("chat.message", timeout=30, sender="admin", text=answer)
        await socket.close()


@dataclass
class Event:
    """One operator action or fault, and how long the platform took to absorb it."""

    name: str
    at: float = 0.0
    # Seconds from the action until the service has all its tasks healthy again...
    healthy_after: float = 0.0
    # ...and until readings published right after the action are all stored.
    flowing_after: float = 0.0
    note: str = ""


async def test_rescaling_and_killed_containers_lose_nothing_and_count_nothing_twice(
    platform: Platform,
) -> None:
    """If this fails, scaling monitoring up or down, or Swarm replacing a killed monitoring
    task, the balancer or the monitoring database, loses readings the broker confirmed,
    counts one twice, leaves the platform stuck until someone steps in, or leaves the
    gateway sending requests to tasks that are gone (it must follow without a restart)."""
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    [gateway] = platform.containers("gateway")
    admin = await platform.login(platform.admin_username, platform.admin_password)
    async with platform.http(admin["access_token"]) as as_admin:
        devices: list[uuid.UUID] = []
        for i in range(DEVICES):
            response = await as_admin.post(
                "/api/devices", json={"name": f"swarm load {i}", "max_hourly_kwh": 50.0}
            )
            assert response.status_code == 201, response.text
            devices.append(uuid.UUID(response.json()["id"]))
    listed = "ARRAY[" + ",".join(f"'{d}'" for d in devices) + "]::uuid[]"

    async def monitoring_knows_all() -> bool:
        rows = await asyncio.to_thread(
            platform.psql, f"SELECT count(*) FROM devices WHERE id = ANY({listed})"
        )
        return int(rows[0][0]) == DEVICES

    await until(monitoring_knows_all, 60, "monitoring learns the devices")

    publisher = LedgerPublisher(platform.meter_url, window=300, name="swarm-load", passive=True)
    await publisher.start()
    first = (utc_now() - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    load = Load(publisher, devices, RATE, first)
    load.begin()
    probe_base = first - timedelta(days=1)

    async def warmed_up() -> bool:
        return len(publisher.confirmed_keys) > 500

    await until(warmed_up, 120, "the load flows")

    async def stored(keys: list[Key]) -> bool:
        values = ",".join(f"('{d}'::uuid, to_timestamp({int(t.timestamp())}))" for d, t in keys)
        try:
            rows = await asyncio.to_thread(
                platform.psql,
                "SELECT count(*) FROM readings r JOIN (VALUES "
                f"{values}) AS k(d, t) ON r.device_id = k.d AND r.ts = k.t",
            )
        except Exception:
            return False  # the database is being replaced
        return int(rows[0][0]) == len(keys)

    events: list[Event] = []

    async def absorbed(event: Event, service: str, index: int) -> None:
        """Publish one probe reading per device, then time health and the probes."""
        acted = time.monotonic()
        event.at = round(acted - started, 1)
        probes = [Load.reading(d, probe_base + INTERVAL * index) for d in devices]
        for reading in probes:
            await publisher.publish(reading)
        keys = [(r.device_id, datetime.fromisoformat(str(r.timestamp))) for r in probes]

        async def healthy() -> bool:
            return await asyncio.to_thread(platform.healthy, service)

        # A killed task first has to be noticed as gone: wait for its replacement.
        await asyncio.sleep(1.0)
        await until(healthy, RECOVERY_LIMIT, f"{service} healthy after: {event.name}", 1.0)
        event.healthy_after = round(time.monotonic() - acted, 1)
        await until(lambda: stored(keys), RECOVERY_LIMIT, f"readings flow after: {event.name}", 1.0)
        event.flowing_after = round(time.monotonic() - acted, 1)
        events.append(event)
        await asyncio.sleep(5.0)

    def scale(replicas: int) -> None:
        platform.docker.run("service", "scale", "--detach", f"ems_monitoring={replicas}")

    def kill(service: str, slot: int = 0) -> str:
        container = platform.containers(service)[slot]
        platform.docker.run("kill", container)
        return container

    try:
        await asyncio.to_thread(scale, 3)
        event = Event("scale monitoring 2 -> 3")
        await absorbed(event, "monitoring", 0)
        three = await _assignment_becomes(platform, 3)
        third = await _replica_stores(platform, 2)
        event.note = (
            f"balancer: {_shares(three)}; the new replica stored {third} readings of its share"
        )

        await asyncio.to_thread(scale, 2)
        event = Event("scale monitoring 3 -> 2")
        await absorbed(event, "monitoring", 1)
        two = await _assignment_becomes(platform, 2)
        event.note = f"balancer: {_shares(two)}"

        for index, (name, service, slot) in enumerate(
            [
                ("docker kill a monitoring task", "monitoring", 1),
                ("docker kill the balancer", "balancer", 0),
                ("docker kill the monitoring database", "monitoringdb", 0),
            ],
            start=2,
        ):
            await asyncio.to_thread(kill, service, slot)
            await absorbed(Event(name), service, index)
    finally:
        await load.stop()
        await asyncio.wait_for(publisher.drain(), 120)

    verdict: Verdict | None = None

    async def settled() -> bool:
        nonlocal verdict
        verdict = await asyncio.to_thread(_verdict, platform, publisher, listed)
        return verdict.ok

    with contextlib.suppress(AssertionError):
        await until(settled, 120, "every confirmed reading stored", 2.0)
    await publisher.close()
    assert verdict is not None
    gateway_failures = await _through_the_gateway(platform, admin["access_token"], devices)

    results = {
        "devices": DEVICES,
        "rate_per_second": RATE,
        "duplicates_sent": load.duplicates_sent,
        "duration_seconds": round(time.monotonic() - started, 1),
        "verdict": verdict.as_dict(),
        "events": [asdict(e) for e in events],
        "gateway_requests_failed": gateway_failures,
        "gateway_restarted": platform.containers("gateway") != [gateway],
        "up": _up_figures(platform),
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }
    write_results("swarm", results, _markdown(results))
    print(_markdown(results))

    assert verdict.ok, verdict.as_dict()
    assert verdict.confirmed > 3000
    assert _fair(three, 3), f"with 3 replicas, partitions per replica: {three}"
    assert third > 0, "the third replica got no share of the devices"
    assert _fair(two, 2), f"back to 2 replicas, partitions per replica: {two}"
    assert results["gateway_restarted"] is False
    assert gateway_failures == 0


async def _through_the_gateway(platform: Platform, token: str, devices: list[uuid.UUID]) -> int:
    """Requests to monitoring's replicas (all of them replaced or added since the gateway
    started) through the gateway that was never restarted: how many failed."""
    day = utc_now().date().isoformat()
    failed = 0
    async with platform.http(token) as client:
        for device in devices * 2:
            response = await client.get(
                "/api/consumption/day", params={"device_id": str(device), "date": day}
            )
            failed += response.status_code != 200
    return failed


def _shares(assignment: dict[str, int]) -> str:
    return ", ".join(f"replica {r} {n} partitions" for r, n in sorted(assignment.items()))


async def _assignment_becomes(platform: Platform, replicas: int) -> dict[str, int]:
    """The balancer's assignment (partitions per replica, from its metrics) once it is the
    fair one for `replicas` with every partition assigned, or as it is after a minute."""
    found: dict[str, int] = {}

    async def reached() -> bool:
        nonlocal found
        found, unassigned = await asyncio.to_thread(_balancer_partitions, platform)
        return unassigned == 0 and _fair(found, replicas)

    with contextlib.suppress(AssertionError):
        await until(reached, 60, f"the balancer spreads the partitions over {replicas}", 1.0)
    return found


def _fair(assignment: dict[str, int], replicas: int) -> bool:
    """Replicas 0 .. replicas-1 (equal weights) share the 64 partitions by largest
    remainder (over 3: 22/21/21, over 2: 32/32) and any other replica it knows has none:
    a new replica got its share, a removed one's share went back."""
    share, extra = divmod(READING_PARTITIONS, replicas)
    live = sorted(assignment.get(str(i), 0) for i in range(replicas))
    others = [n for r, n in assignment.items() if int(r) >= replicas]
    return live == [share] * (replicas - extra) + [share + 1] * extra and not any(others)


def _balancer_partitions(platform: Platform) -> tuple[dict[str, int], int]:
    """Partitions per replica the balancer assigns (replicas it knows of, live or not), and
    how many no live replica has."""
    metrics = _metrics(platform, "balancer", 0, 8140)
    assigned: dict[str, int] = {}
    unassigned = -1
    for line in metrics.splitlines():
        if line.startswith('ems_balancer_partitions{replica="'):
            replica = line.split('"')[1]
            assigned[replica] = int(float(line.rsplit(" ", 1)[1]))
        elif line.startswith("ems_balancer_unassigned_partitions "):
            unassigned = int(float(line.rsplit(" ", 1)[1]))
    return assigned, unassigned


def _metrics(platform: Platform, service: str, slot_index: int, port: int) -> str:
    """A task's /metrics, asked from inside its container (nothing else is published)."""
    containers = platform.containers(service)
    if len(containers) <= slot_index:
        return ""
    script = (
        "import urllib.request as u;"
        f"print(u.urlopen('http://127.0.0.1:{port}/metrics', timeout=5).read().decode())"
    )
    result = platform.docker.run(
        "exec", containers[slot_index], "python", "-c", script, check=False
    )
    return result.stdout if result.returncode == 0 else ""


async def _replica_stores(platform: Platform, slot_index: int) -> int:
    """Readings stored by the monitoring replica in task slot `slot_index + 1`, from its
    own metrics, once it has stored some (it joins the balancer's ring a few seconds
    after it is healthy)."""
    found = 0

    async def some() -> bool:
        nonlocal found
        found = await asyncio.to_thread(_stored_by, platform, slot_index)
        return found > 0

    with contextlib.suppress(AssertionError):
        await until(some, 60, "the new replica stores readings", 2.0)
    return found


def _stored_by(platform: Platform, slot_index: int) -> int:
    total = 0.0
    for line in _metrics(platform, "monitoring", slot_index, 8120).splitlines():
        if line.startswith("ems_monitoring_readings_total{") and 'outcome="stored"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _verdict(platform: Platform, publisher: LedgerPublisher, listed: str) -> Verdict:
    def by_key(sql: str) -> dict[Key, int]:
        return {
            (device, datetime.fromtimestamp(int(epoch), UTC)): int(micro)
            for device, epoch, micro in platform.psql(sql)
        }

    stored = by_key(
        "SELECT device_id, extract(epoch FROM ts)::bigint, micro_kwh FROM readings "
        f"WHERE device_id = ANY({listed})"
    )
    hourly = by_key(
        "SELECT device_id, extract(epoch FROM hour)::bigint, micro_kwh FROM hourly_consumption "
        f"WHERE device_id = ANY({listed})"
    )
    return judge(publisher, stored, hourly)


def _up_figures(platform: Platform) -> dict[str, Any]:
    """`make swarm-up`'s figures: this run's, and the last run's that built from scratch."""
    figures: dict[str, Any] = {}
    for key, name in (("last", FIGURES_FILE), ("from_scratch", FROM_SCRATCH_FILE)):
        path = platform.folder / name
        if path.is_file():
            figures[key] = json.loads(path.read_text())
    return figures


def _image_rows(runs: dict[str, Any]) -> list[str]:
    titles = {"from_scratch": "from scratch", "last": "this run (cached layers)"}
    shown = [key for key in ("from_scratch", "last") if key in runs]
    lines = [
        "| image | size (MB) | " + " | ".join(f"build {titles[k]} (s)" for k in shown) + " |",
        "|---|---|" + "---|" * len(shown),
    ]
    names = ["ems/base", *runs[shown[-1]]["images"]] if shown else []
    for name in names:
        cells, size = [], 0.0
        for key in shown:
            run = runs[key]
            image = run["base"] if name == "ems/base" else run["images"][name]
            size = image["size_bytes"] / 1e6
            reused = name == "ems/base" and image.get("reused")
            cells.append("reused" if reused else f"{image['seconds']:.0f}")
        lines.append(f"| {name} | {size:.0f} | " + " | ".join(cells) + " |")
    lines.append("")
    for key in shown:
        run = runs[key]
        lines.append(
            f"`make swarm-up` {titles[key]}: images ready after {run['build_seconds']:.0f} s "
            "(from its start: installing Docker and debootstrap when missing, dockerd, the "
            "images); "
            f"every service healthy and the gateway answering "
            f"{run['deploy_to_healthy_seconds']:.0f} s after `docker stack deploy`; "
            f"{run['up_seconds']:.0f} s in all."
        )
    return lines


def _markdown(results: dict[str, Any]) -> str:
    v = results["verdict"]
    up = results["up"]
    restarted = "yes" if results["gateway_restarted"] else "no"
    lines = [
        f"# The last `make swarm-test` ({utc_now():%Y-%m-%d %H:%M} UTC)",
        "",
        "One node (Docker 20.10 from Debian, a single-node swarm), stack `ems` from "
        "`deploy/swarm/stack.yaml`; every flow through the published ports only: the "
        "gateway and AMQP as `meter` (`tests/swarm`; the meter login's refusals by the "
        "broker are `test_meter_login.py`). Written by the test.",
        "",
        "## Images and start",
        "",
        *_image_rows(up),
        "",
        "## Rescaling and faults under load",
        "",
        "| event | at (s) | service healthy after (s) | readings flowing after (s) | note |",
        "|---|---|---|---|---|",
    ]
    for e in results["events"]:
        lines.append(
            f"| {e['name']} | {e['at']} | {e['healthy_after']} | {e['flowing_after']} | "
            f"{e['note']} |"
        )
    lines += [
        "",
        *verdict_rows(v, results["duplicates_sent"]),
        f"| gateway restarted / requests to monitoring through it failed afterwards | "
        f"{restarted} / {results['gateway_requests_failed']} |",
        "",
        f"{results['devices']} devices, {results['rate_per_second']:.0f} readings/s over the "
        f"published AMQP port as `meter`, {results['duration_seconds']} s in all. Load "
        f"average (1 min) before / after: {results['load_average'][0]} / "
        f"{results['load_average'][1]} on 2 cores (the stack's 16 tasks, the test, and "
        "whatever else the machine ran).",
    ]
    return "\n".join(lines) + "\n"
