"""Alerts people can act on, silent meters and meter ids, against the real pipeline: two
monitoring replicas, the balancer, the realtime service with real sockets, and real tokens
from the auth service."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from ems.contracts.events import DeviceUpdated, UserCreated
from ems.realtime.app import create_app as create_realtime_app
from ems.realtime.settings import RealtimeSettings
from tests.platform.auth import AuthServer, Login
from tests.platform.pipeline import Pipeline, expected_micro, hour_of
from tests.platform.polling import eventually
from tests.platform.servers import serve
from tests.platform.sockets import connected
from tests.realtime.fixtures import auth_server, realtime_settings

__all__ = ["auth_server", "realtime_settings"]

BUCHAREST = ZoneInfo("Europe/Bucharest")


def bearer(login: Login) -> dict[str, str]:
    return {"Authorization": f"Bearer {login.access_token}"}


def today(zone: ZoneInfo) -> date:
    return datetime.now(zone).date()


@pytest.fixture(scope="module")
async def realtime(realtime_settings: RealtimeSettings, module_vhost: str) -> AsyncIterator[str]:
    """A realtime instance on the pipeline's vhost (where monitoring pushes)."""
    app = create_realtime_app(realtime_settings.model_copy(update={"amqp_url": module_vhost}))
    async with serve(app, **realtime_settings.uvicorn_options()) as address:
        yield address


async def replicas(pipeline: Pipeline, auth: AuthServer, **overrides: Any) -> list[Any]:
    apps = [await pipeline.start_replica(i, auth.verifier(), **overrides) for i in range(2)]
    await pipeline.start_balancer()
    return apps


def api(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitoring")


async def known_user(pipeline: Pipeline, login: Login, time_zone: str = "UTC") -> None:
    """monitoring's copy of the user (as the users service's event would make it)."""
    await pipeline.publish_event(
        UserCreated(id=login.id, username=login.username, role=login.role, time_zone=time_zone)
    )

    async def copied() -> bool:
        return bool(
            await pipeline.db.fetchval(
                "SELECT count(*) FROM users WHERE id = $1 AND time_zone = $2",
                login.id,
                time_zone,
            )
        )

    await eventually(copied, timeout=10)


async def test_numeric_and_string_meter_ids_count_for_their_device(pipeline: Pipeline) -> None:
    """If this fails, the seeds' meters (which send `"device_id": 7`) are dead-lettered or
    counted for no device, `7` and `"7"` are told apart, a reading sent under both the
    uuid and the meter id counts twice, or the readings of a meter id nobody has yet are
    lost instead of being kept for the device that takes the id."""
    await pipeline.start_replica(0)
    await pipeline.start_replica(1)
    await pipeline.start_balancer()
    seven = await pipeline.create_device(meter_id="7", wait=True)
    gas = await pipeline.create_device(meter_id="gas-1", wait=True)
    hour = hour_of(datetime.now(UTC)) - timedelta(hours=3)
    at = [hour + timedelta(minutes=10 * i) for i in range(6)]
    await pipeline.publish_reading(7, at[0], 0.1)
    await pipeline.publish_reading("7", at[1], 0.25)
    await pipeline.publish_reading(seven, at[2], 0.5)
    await pipeline.publish_reading("7", at[0], 0.1)  # the same reading again, now as a string
    await pipeline.publish_reading(seven, at[1], 0.25)  # and again under the uuid
    await pipeline.publish_reading("gas-1", at[0], 0.3)
    await pipeline.publish_reading("gas-1", at[3], 0.45)

    async def counted() -> bool:
        return await pipeline.hourly(seven) == {
            hour: expected_micro([0.1, 0.25, 0.5])
        } and await pipeline.hourly(gas) == {hour: expected_micro([0.3, 0.45])}

    await eventually(counted, timeout=20)
    assert await pipeline.readings_count(seven) == 3

    # Nobody has meter id 99 yet: held aside with the id it gave, then adopted.
    await pipeline.publish_reading(99, at[4], 0.7)
    await pipeline.publish_reading("99", at[5], 0.05)

    async def held() -> bool:
        return bool(
            await pipeline.db.fetchval(
                "SELECT count(*) FROM unmatched_readings WHERE meter_id = '99'"
            )
            == 2
        )

    await eventually(held, timeout=20)
    later = await pipeline.create_device(meter_id="99", wait=True)

    async def adopted() -> bool:
        return await pipeline.hourly(later) == {hour: expected_micro([0.7, 0.05])}

    await eventually(adopted, timeout=20)
    assert await pipeline.db.fetchval("SELECT count(*) FROM unmatched_readings") == 0
    assert await pipeline.hourly(seven) == {hour: expected_micro([0.1, 0.25, 0.5])}


async def test_a_silent_meter_raises_one_alert_that_its_next_reading_ends(
    pipeline: Pipeline, auth_server: AuthServer, realtime: str
) -> None:
    """If this fails, a meter that stops sending goes unnoticed, is reported more than
    once by the two replicas racing, is toasted to admins (or not to its owner), or its
    recovery is never told: the episode must end with the next reading."""
    apps = await replicas(pipeline, auth_server, silence_check_seconds=0.2)
    alice, admin = await auth_server.client(), await auth_server.admin()
    await known_user(pipeline, alice, "Europe/Bucharest")
    meter = await pipeline.create_device(
        owner_id=alice.id, silence_minutes=5, name="Boiler", wait=True
    )
    noisy = await pipeline.create_device(
        owner_id=alice.id, silence_minutes=5, name="Fridge", wait=True
    )
    owner_socket = await connected(realtime, alice.access_token)
    admin_socket = await connected(realtime, admin.access_token)

    now = datetime.now(UTC)
    await pipeline.publish_reading(meter, now - timedelta(minutes=1), 0.2)
    await pipeline.publish_reading(noisy, now - timedelta(minutes=1), 0.2)

    async def seen() -> datetime | None:
        value: datetime | None = await pipeline.db.fetchval(
            "SELECT last_seen_at FROM device_seen WHERE device_id = $1", meter
        )
        return value

    last_seen = await eventually(seen, timeout=20)
    assert abs((last_seen - datetime.now(UTC)).total_seconds()) < 30, "not the receive time"
    # Six minutes pass without a reading from the boiler (its last arrival moved back).
    await pipeline.db.execute(
        "UPDATE device_seen SET last_seen_at = last_seen_at - interval '6 minutes' "
        "WHERE device_id = $1",
        meter,
    )
    silent = await owner_socket.wait_for("notify.silent", device_id=str(meter))
    assert silent["silence_minutes"] == 5 and silent["device_name"] == "Boiler"
    local = (last_seen - timedelta(minutes=6)).astimezone(BUCHAREST)
    assert f"{local:%H:%M}" in silent["message"], silent["message"]

    rounds = [app.state.silence_rounds for app in apps]

    async def both_checked_again() -> bool:
        return all(
            app.state.silence_rounds >= before + 3 for app, before in zip(apps, rounds, strict=True)
        )

    await eventually(both_checked_again, timeout=10)
    rows = await pipeline.db.fetch(
        "SELECT id, device_id, ended_at FROM alerts WHERE kind = 'silent'"
    )
    assert [(r["device_id"], r["ended_at"]) for r in rows] == [(meter, None)]
    assert len(owner_socket.of_type("notify.silent")) == 1
    assert admin_socket.of_type("notify.silent") == [], "admins get a digest, not a toast"

    async with api(apps[1]) as client:
        listed = (
            await client.get(
                "/api/consumption/alerts", params={"kind": "silent"}, headers=bearer(alice)
            )
        ).json()
        assert listed["total"] == 1
        item = listed["items"][0]
        assert item["id"] == silent["id"] == str(rows[0]["id"])
        assert item["ended_at"] is None and item["kwh"] is None and item["read"] is False
        meters = (await client.get("/api/consumption/meters", headers=bearer(alice))).json()
        by_id = {m["device_id"]: m for m in meters["items"]}
        assert by_id[str(meter)]["silent"] is True and by_id[str(noisy)]["silent"] is False
        assert by_id[str(meter)]["silent_since"] is not None

        await pipeline.publish_reading(meter, datetime.now(UTC), 0.1)
        back = await owner_socket.wait_for("notify.meter_back", id=silent["id"])
        assert back["device_id"] == str(meter) and "sending again" in back["message"]
        ended = (
            await client.get(
                "/api/consumption/alerts", params={"kind": "silent"}, headers=bearer(alice)
            )
        ).json()["items"][0]
        assert ended["ended_at"] == back["ended_at"]
        meters = (await client.get("/api/consumption/meters", headers=bearer(alice))).json()
        assert {m["device_id"]: m["silent"] for m in meters["items"]}[str(meter)] is False
    assert admin_socket.of_type("notify.meter_back") == []
    for sock in (owner_socket, admin_socket):
        await sock.close()


async def _over_limit_alerts(
    pipeline: Pipeline, device_id: uuid.UUID, hours: list[datetime]
) -> list[uuid.UUID]:
    for hour in hours:
        await pipeline.publish_reading(device_id, hour + timedelta(minutes=10), 0.8)

    async def raised() -> list[uuid.UUID] | None:
        rows = await pipeline.db.fetch(
            "SELECT id FROM alerts WHERE device_id = $1 AND kind = 'hourly' ORDER BY hour",
            device_id,
        )
        return [row["id"] for row in rows] if len(rows) == len(hours) else None

    return await eventually(raised, timeout=20)


async def test_read_state_is_the_servers_the_same_in_every_session(
    pipeline: Pipeline, auth_server: AuthServer, realtime: str
) -> None:
    """If this fails, the unread badge differs between a user's tabs or browsers, marking
    read in one tab does not reach the others, one user's reading changes another's, a
    client can acknowledge alerts (admins only), or a refused acknowledgement is written."""
    apps = await replicas(pipeline, auth_server)
    alice_tab = await auth_server.client()
    alice_phone = await auth_server.login(alice_tab.username)
    bob, admin = await auth_server.client(), await auth_server.admin()
    await known_user(pipeline, alice_tab, "Europe/Bucharest")
    kitchen = await pipeline.create_device(
        limit_kwh=0.5, owner_id=alice_tab.id, name="Kitchen", wait=True
    )
    garage = await pipeline.create_device(limit_kwh=0.5, owner_id=bob.id, name="Garage", wait=True)
    base = hour_of(datetime.now(UTC)) - timedelta(hours=5)
    hours = [base + timedelta(hours=h) for h in range(3)]
    alice_alerts = await _over_limit_alerts(pipeline, kitchen, hours)
    await _over_limit_alerts(pipeline, garage, [base])
    sockets = [await connected(realtime, who.access_token) for who in (alice_tab, alice_phone, bob)]

    async with api(apps[0]) as first, api(apps[1]) as second:

        async def unread(client: httpx.AsyncClient, who: Login) -> int:
            response = await client.get("/api/consumption/alerts/unread-count", headers=bearer(who))
            assert response.status_code == 200, response.text
            count: int = response.json()["count"]
            return count

        assert await unread(first, alice_tab) == await unread(second, alice_phone) == 3
        assert await unread(first, bob) == 1
        # The admin sees the fleet's alerts (earlier tests' too), read or not by themselves.
        admin_unread = await unread(second, admin)
        assert admin_unread >= 4

        listed = (await second.get("/api/consumption/alerts", headers=bearer(alice_phone))).json()
        oldest = next(
            a for a in listed["items"] if a["hour"] == base.isoformat().replace("+00:00", "Z")
        )
        local = base.astimezone(BUCHAREST)
        # An hour of the reader's today is told by its clock, an earlier day's with its date
        # (five hours ago is yesterday in Bucharest shortly after its midnight).
        told = local.strftime("%H:%M" if local.date() == today(BUCHAREST) else "%Y-%m-%d %H:%M")
        said = oldest["message"]
        assert said.startswith(f"Kitchen used 0.80 kWh between {told} and "), said

        marked = await first.post(
            f"/api/consumption/alerts/{alice_alerts[0]}/read", headers=bearer(alice_tab)
        )
        assert marked.status_code == 204
        for sock in sockets[:2]:
            pushed = await sock.wait_for("alerts.read")
            assert pushed["ids"] == [str(alice_alerts[0])] and pushed["unread_count"] == 2
        assert await unread(second, alice_phone) == 2
        unread_items = (
            await second.get(
                "/api/consumption/alerts", params={"unread": "true"}, headers=bearer(alice_phone)
            )
        ).json()
        assert {a["id"] for a in unread_items["items"]} == {str(a) for a in alice_alerts[1:]}
        read_items = (
            await second.get(
                "/api/consumption/alerts", params={"unread": "false"}, headers=bearer(alice_phone)
            )
        ).json()
        assert [a["id"] for a in read_items["items"]] == [str(alice_alerts[0])]
        assert read_items["items"][0]["read"] is True

        # Bob can neither see nor mark Alice's alert; his own count is untouched.
        foreign = await first.post(
            f"/api/consumption/alerts/{alice_alerts[1]}/read", headers=bearer(bob)
        )
        assert foreign.status_code == 404
        assert await unread(first, bob) == 1

        everything = await second.post(
            "/api/consumption/alerts/read-all", headers=bearer(alice_phone)
        )
        assert everything.json() == {"marked": 2}
        for sock in sockets[:2]:
            await sock.wait_for("alerts.read", ids=None, unread_count=0)
        assert await unread(first, alice_tab) == 0
        assert await unread(first, bob) == 1
        again = await first.post("/api/consumption/alerts/read-all", headers=bearer(alice_tab))
        assert again.json() == {"marked": 0}
        assert sockets[2].of_type("alerts.read") == []

        # Acknowledging is the admins'; their read state is their own.
        refused = await first.post(
            f"/api/consumption/alerts/{alice_alerts[1]}/ack", headers=bearer(alice_tab)
        )
        assert refused.status_code == 403
        acked = await second.post(
            f"/api/consumption/alerts/{alice_alerts[1]}/ack", headers=bearer(admin)
        )
        assert acked.status_code == 200, acked.text
        assert acked.json()["acknowledged_by"] == str(admin.id)
        assert acked.json()["acknowledged_at"] is not None
        assert await unread(first, admin) == admin_unread, "Alice's reads changed the admin's"
        seen_by_owner = (
            await first.get(
                "/api/consumption/alerts", params={"unread": "false"}, headers=bearer(alice_tab)
            )
        ).json()
        assert {a["id"]: a["acknowledged_by"] for a in seen_by_owner["items"]}[
            str(alice_alerts[1])
        ] == str(admin.id)
        missing = await second.post(
            f"/api/consumption/alerts/{uuid.uuid4()}/ack", headers=bearer(admin)
        )
        assert missing.status_code == 404
        # An admin by token whom monitoring knows as a client now (demoted a moment ago):
        # refused, and the alert stays unacknowledged.
        demoted = await auth_server.admin()
        await known_user(pipeline, demoted)
        await pipeline.db.execute("UPDATE users SET role = 'CLIENT' WHERE id = $1", demoted.id)
        stale = await first.post(
            f"/api/consumption/alerts/{alice_alerts[2]}/ack", headers=bearer(demoted)
        )
        assert stale.status_code == 404
        assert (
            await pipeline.db.fetchval(
                "SELECT acknowledged_at FROM alerts WHERE id = $1", alice_alerts[2]
            )
            is None
        ), "a refused acknowledgement was written"
    for sock in sockets:
        await sock.close()


async def test_admins_get_one_digest_per_window_not_a_toast_per_alert(
    pipeline: Pipeline, auth_server: AuthServer, realtime: str
) -> None:
    """If this fails, admins are flooded with a toast for every alert of every device, or
    the two replicas each send the digest of a window (or neither does), or the digest's
    figures do not add up to the alerts raised."""
    await replicas(pipeline, auth_server, alert_digest_seconds=2.0)
    owner, admin = await auth_server.client(), await auth_server.admin()
    admin_socket = await connected(realtime, admin.access_token)
    owner_socket = await connected(realtime, owner.access_token)
    devices = [
        await pipeline.create_device(
            limit_kwh=0.5, owner_id=owner.id, name=f"Heater {i}", wait=True
        )
        for i in range(3)
    ]
    start = hour_of(datetime.now(UTC)) - timedelta(hours=10)
    raised = 0
    for i, device_id in enumerate(devices):
        hours = [start + timedelta(hours=h) for h in range(i + 1)]
        raised += len(await _over_limit_alerts(pipeline, device_id, hours))

    mine = {str(d) for d in devices}

    def per_device(digests: list[dict[str, Any]]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for digest in digests:
            for entry in digest["devices"]:
                if entry["device_id"] in mine:
                    counts[entry["device_id"]] = counts.get(entry["device_id"], 0) + entry["count"]
        return counts

    async def all_digested() -> list[dict[str, Any]] | None:
        digests = admin_socket.of_type("notify.digest")
        return digests if sum(per_device(digests).values()) >= raised else None

    digests = await eventually(all_digested, timeout=30)
    windows = [d["since"] for d in digests]
    assert len(windows) == len(set(windows)), f"a window digested twice: {windows}"
    assert raised == 6
    assert per_device(digests) == {str(devices[0]): 1, str(devices[1]): 2, str(devices[2]): 3}
    for digest in digests:
        # Every alert of the window (the fleet's, earlier tests' included), by kind.
        since, until = (datetime.fromisoformat(digest[k]) for k in ("since", "until"))
        stored = await pipeline.db.fetchval(
            "SELECT count(*) FROM alerts WHERE created_at >= $1 AND created_at < $2",
            since,
            until,
        )
        assert digest["count"] == stored == sum(digest["by_kind"].values()) > 0
        assert until - since == timedelta(seconds=2)

    async def owner_told() -> bool:
        return len(owner_socket.of_type("notify.overconsumption")) == 6

    await eventually(owner_told, timeout=10)
    assert admin_socket.of_type("notify.overconsumption") == []
    assert owner_socket.of_type("notify.digest") == []
    for sock in (admin_socket, owner_socket):
        await sock.close()


async def test_a_new_owner_is_not_pushed_the_hours_before_they_got_the_meter(
    pipeline: Pipeline, auth_server: AuthServer, realtime: str
) -> None:
    """If this fails, a meter handed to another household (issue 10.4) pushes the previous
    household's hourly figures and over-limit alerts live to the new owner's screen (hours
    the read side already hides from them), or the new owner's own hours are not pushed."""
    await replicas(pipeline, auth_server)
    dave, erin, admin = (
        await auth_server.client(),
        await auth_server.client(),
        await auth_server.admin(),
    )
    for login in (dave, erin):
        await known_user(pipeline, login)
    meter = await pipeline.create_device(limit_kwh=0.5, owner_id=dave.id, name="Boiler", wait=True)
    now = hour_of(datetime.now(UTC))
    # Handed to Erin 20 minutes into the hour two hours ago: her first hour is the last one.
    await pipeline.publish_event(
        DeviceUpdated(id=meter, name="Boiler", owner_id=erin.id, max_hourly_kwh=0.5, revision=2),
        occurred_at=now - timedelta(hours=2) + timedelta(minutes=20),
    )

    async def handed_over() -> bool:
        owner = await pipeline.db.fetchval("SELECT owner_id FROM devices WHERE id = $1", meter)
        return bool(owner == erin.id)

    await eventually(handed_over, timeout=10)
    erin_socket = await connected(realtime, erin.access_token)
    admin_socket = await connected(realtime, admin.access_token)
    earlier, visible = now - timedelta(hours=3), now - timedelta(hours=1)
    # Dave's hour (a late meter backfilling), over the limit.
    await pipeline.publish_reading(meter, earlier + timedelta(minutes=10), 1.0)

    async def stored() -> bool:
        alerts = await pipeline.db.fetchval(
            "SELECT count(*) FROM alerts WHERE device_id = $1 AND hour = $2", meter, earlier
        )
        return bool(alerts == 1)

    await eventually(stored, timeout=20)
    # The barrier: Erin's own hour, over the limit too, reaches her socket.
    await pipeline.publish_reading(meter, visible + timedelta(minutes=10), 1.0)
    device_id = str(meter)
    await erin_socket.wait_for("consumption.updated", hour=iso(visible), device_id=device_id)
    await erin_socket.wait_for("notify.overconsumption", hour=iso(visible), device_id=device_id)
    # Admins still see every hour live.
    for hour in (earlier, visible):
        await admin_socket.wait_for("consumption.updated", hour=iso(hour), device_id=device_id)
    leaked = [m for m in erin_socket.received if m.get("hour") == iso(earlier)]
    assert leaked == [], "the previous owner's hour was pushed to the new owner"
    for sock in (erin_socket, admin_socket):
        await sock.close()


def iso(hour: datetime) -> str:
    return hour.astimezone(UTC).isoformat().replace("+00:00", "Z")
