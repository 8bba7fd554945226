"""Monitoring's copies on the real platform: a profile's zone, a tariff and a device's
owner, changed through the users and devices APIs, reach the consumption API through the
events those services publish."""

from __future__ import annotations

from typing import Any

import httpx

from tests.security.conftest import SecurePlatform
from tests.security.test_sessions import bearer
from tests.support.polling import eventually


async def test_zone_tariff_and_owner_changes_reach_the_consumption_api(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a household that set its zone still sees UTC days, a device's tariff
    never prices its consumption, or a meter handed to another household stays readable
    by the previous one: monitoring's copies do not follow users' and devices' events."""
    gateway = secure_platform.gateway
    admin = bearer(secure_platform.admin_token)
    alice, alice_token = await secure_platform.new_client()
    bob, bob_token = await secure_platform.new_client()
    changed = await gateway.patch(
        "/api/users/me", json={"time_zone": "Europe/Bucharest"}, headers=bearer(alice_token)
    )
    assert changed.status_code == 200, changed.text
    tariff = await gateway.post(
        "/api/tariffs",
        json={
            "name": f"night {alice['id'][:8]}",
            "currency": "RON",
            "price_per_kwh": 0.9,
            "bands": [{"start": "22:00", "end": "06:00", "price_per_kwh": 0.5}],
        },
        headers=admin,
    )
    assert tariff.status_code == 201, tariff.text
    device = await gateway.post(
        "/api/devices",
        json={
            "name": "meter",
            "max_hourly_kwh": 2,
            "owner_id": alice["id"],
            "tariff_id": tariff.json()["id"],
        },
        headers=admin,
    )
    assert device.status_code == 201, device.text
    device_id = device.json()["id"]

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
