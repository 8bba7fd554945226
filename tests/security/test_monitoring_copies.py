"""Monitoring's copies on the real platform: a profile's zone, a tariff and a device's
owner, changed through the users and devices APIs, reach the consumption API through the
events those services publish, and a new copy catches up from their snapshots."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from ems.common.credentials import ServiceCredential, derive_secret, master_key
from ems.common.db import Database
from ems.common.migrations import migrate_service
from ems.common.registry import service_spec
from ems.monitoring.consumers import DeviceSync
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.sync.catchup import catching_up
from tests.platform.identity import bearer
from tests.platform.polling import eventually
from tests.platform.secure import SecurePlatform


async def zoned_client_with_priced_meter(
    platform: SecurePlatform, zone: str, currency: str, night: tuple[str, str]
) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
    """A client with a profile zone, a tariff (0.9, 0.5 at night) and a meter of theirs
    on it (with a meter id), all through the public API: user, token, tariff, device."""
    gateway = platform.gateway
    admin = bearer(platform.admin_token)
    user, token = await platform.new_client()
    changed = await gateway.patch("/api/users/me", json={"time_zone": zone}, headers=bearer(token))
    assert changed.status_code == 200, changed.text
    tariff = await gateway.post(
        "/api/tariffs",
        json={
            "name": f"night {user['id'][:8]}",
            "currency": currency,
            "price_per_kwh": 0.9,
            "bands": [{"start": night[0], "end": night[1], "price_per_kwh": 0.5}],
        },
        headers=admin,
    )
    assert tariff.status_code == 201, tariff.text
    device = await gateway.post(
        "/api/devices",
        json={
            "name": "meter",
            "max_hourly_kwh": 2,
            "owner_id": user["id"],
            "tariff_id": tariff.json()["id"],
            "meter_id": f"m{user['id'][:8]}",
        },
        headers=admin,
    )
    assert device.status_code == 201, device.text
    return user, token, tariff.json(), device.json()


async def test_zone_tariff_and_owner_changes_reach_the_consumption_api(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a household that set its zone still sees UTC days, a device's tariff
    never prices its consumption, or a meter handed to another household stays readable
    by the previous one: monitoring's copies do not follow users' and devices' events."""
    gateway = secure_platform.gateway
    admin = bearer(secure_platform.admin_token)
    _, alice_token, _, device = await zoned_client_with_priced_meter(
        secure_platform, "Europe/Bucharest", "RON", ("22:00", "06:00")
    )
    bob, bob_token = await secure_platform.new_client()
    device_id = device["id"]

    async def day(token: str) -> httpx.Response:
        return await gateway.get(
            "/api/consumption/day",
            params={"date": "2026-03-29", "device_id": device_id},
            headers=bearer(token),
        )

    async def alice_sees_it() -> dict[str, Any] | None:
        response = await day(alice_token)
        body: dict[str, Any] = response.json()
        ready = response.status_code == 200 and body["currency"] == "RON"
        return body if ready and body["time_zone"] == "Europe/Bucharest" else None

    body = await eventually(alice_sees_it, timeout=10)
    assert len(body["hours"]) == 23 and body["total_cost"] == 0.0

    moved = await gateway.patch(
        f"/api/devices/{device_id}", json={"owner_id": bob["id"]}, headers=admin
    )
    assert moved.status_code == 200, moved.text

    async def handed_over() -> bool:
        return (await day(alice_token)).status_code == 404 and (
            await day(bob_token)
        ).status_code == 200

    await eventually(handed_over, timeout=10)
    # Bob's own zone (UTC, never set) and the owner's: still priced in lei.
    body = (await day(bob_token)).json()
    assert body["time_zone"] == "UTC" and len(body["hours"]) == 24 and body["currency"] == "RON"


async def test_a_new_monitoring_copy_catches_up_from_the_snapshots(
    secure_platform: SecurePlatform, make_settings: Any, db_prefix: str
) -> None:
    """If this fails, a monitoring database created after users, tariffs and devices exist
    (a new deployment's first start, a rebuilt replica set) never learns the admins'
    role, the users' zones or the tariffs: the events about them went out before its queue
    existed, and the snapshots are the only way to them."""
    user, _, tariff, device = await zoned_client_with_priced_meter(
        secure_platform, "America/New_York", "EUR", ("23:00", "07:00")
    )
    settings: MonitoringSettings = make_settings(
        MonitoringSettings, db_prefix=f"{db_prefix}{uuid.uuid4().hex[:4]}_"
    )
    await migrate_service(service_spec("monitoring"), settings)
    auth = secure_platform.services["auth"]
    secret = derive_secret(master_key(auth.settings, None), "monitoring")
    credential = ServiceCredential("monitoring", secret, auth.url)
    db = Database(settings.dsn(), pool_size=2)
    try:
        tasks = catching_up(
            db,
            DeviceSync(settings),
            secure_platform.services["devices"].url,
            secure_platform.services["users"].url,
            credential,
        )
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        async with db.driver() as conn:
            zone = await conn.fetchval(
                "SELECT time_zone FROM users WHERE id = $1", uuid.UUID(user["id"])
            )
            admins = await conn.fetchval("SELECT count(*) FROM users WHERE role = 'ADMIN'")
            copied = await conn.fetchrow(
                "SELECT d.tariff_id, d.meter_id, t.currency, co.owner_id"
                " FROM devices d JOIN tariffs t ON t.id = d.tariff_id"
                " JOIN current_owners co ON co.device_id = d.id WHERE d.id = $1",
                uuid.UUID(device["id"]),
            )
            bands = await conn.fetch(
                "SELECT start_minute, end_minute FROM tariff_bands WHERE tariff_id = $1",
                uuid.UUID(tariff["id"]),
            )
    finally:
        await db.dispose()
    assert zone == "America/New_York"
    assert admins >= 1
    assert copied is not None and dict(copied) == {
        "tariff_id": uuid.UUID(tariff["id"]),
        "meter_id": f"m{user['id'][:8]}",
        "currency": "EUR",
        "owner_id": uuid.UUID(user["id"]),
    }
    assert [tuple(band) for band in bands] == [(23 * 60, 7 * 60)]
