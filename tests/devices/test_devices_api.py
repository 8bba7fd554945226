"""The devices API through the gateway: CRUD, assignment, a client's own devices, paging
and search, bad input refused with nothing changed, and the events every change publishes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ems.common.messaging import EXCHANGE_SYNC
from ems.contracts.events import Envelope
from tests.platform.broker import probe
from tests.platform.identity import Platform, bearer, unique
from tests.platform.polling import eventually


async def devices_total(platform: Platform) -> int:
    response = await platform.gateway.get("/api/devices", headers=bearer(platform.admin_token))
    total: int = response.json()["total"]
    return total


async def test_admins_create_read_replace_and_delete_devices(platform: Platform) -> None:
    """If this fails, the admin devices table cannot manage devices."""
    headers = bearer(platform.admin_token)
    owner, _ = await platform.client()
    created = await platform.create_device(
        owner["id"], description="kitchen", address="1 Main St", max_hourly_kwh=3.75
    )
    assert created["owner_id"] == owner["id"] and created["max_hourly_kwh"] == 3.75
    assert created["status"] == "active" and created["description"] == "kitchen"
    read = await platform.gateway.get(f"/api/devices/{created['id']}", headers=headers)
    assert read.json() == created

    replaced = await platform.gateway.put(
        f"/api/devices/{created['id']}",
        json={"name": "Renamed", "max_hourly_kwh": 9, "status": "inactive"},
        headers=headers,
    )
    body = replaced.json()
    assert replaced.status_code == 200
    # PUT replaces the whole state: what is left out is cleared (the owner too).
    assert body["name"] == "Renamed" and body["max_hourly_kwh"] == 9
    assert body["description"] is None and body["address"] is None and body["owner_id"] is None
    assert body["status"] == "inactive" and body["updated_at"] >= created["updated_at"]

    deleted = await platform.gateway.delete(f"/api/devices/{created['id']}", headers=headers)
    assert deleted.status_code == 204
    again = await platform.gateway.delete(f"/api/devices/{created['id']}", headers=headers)
    assert again.status_code == 404


async def test_assigning_and_unassigning_a_device_by_patch(platform: Platform) -> None:
    """If this fails, an admin cannot give a client a device, move it, or take it back."""
    headers = bearer(platform.admin_token)
    first, first_token = await platform.client()
    second, _ = await platform.client()
    device = await platform.create_device()
    assert device["owner_id"] is None

    for owner in (first["id"], second["id"], None):
        patched = await platform.gateway.patch(
            f"/api/devices/{device['id']}", json={"owner_id": owner}, headers=headers
        )
        assert patched.status_code == 200 and patched.json()["owner_id"] == owner
        assert patched.json()["name"] == device["name"]  # PATCH leaves the rest alone

    await platform.gateway.patch(
        f"/api/devices/{device['id']}", json={"owner_id": first["id"]}, headers=headers
    )
    listed = await platform.gateway.get(f"/api/devices/user/{first['id']}", headers=headers)
    assert [d["id"] for d in listed.json()["items"]] == [device["id"]]
    own = await platform.gateway.get("/api/devices", headers=bearer(first_token))
    assert [d["id"] for d in own.json()["items"]] == [device["id"]]
    unknown = await platform.gateway.get(f"/api/devices/user/{uuid.uuid4()}", headers=headers)
    assert unknown.status_code == 404


async def test_clients_see_only_their_own_devices(platform: Platform) -> None:
    """If this fails, a client sees (or can find by search) another client's meters."""
    mine, token = await platform.client()
    theirs, _ = await platform.client()
    tag = uuid.uuid4().hex[:8]
    own = [await platform.create_device(mine["id"], name=f"{tag}-{i}") for i in range(3)]
    other = await platform.create_device(theirs["id"], name=f"{tag}-other")
    unowned = await platform.create_device(name=f"{tag}-free")
    headers = bearer(token)

    listed = (await platform.gateway.get(f"/api/devices?q={tag}", headers=headers)).json()
    assert listed["total"] == 3
    assert {d["id"] for d in listed["items"]} == {d["id"] for d in own}
    for device in own:
        assert (await platform.gateway.get(f"/api/devices/{device['id']}", headers=headers)).json()
    for device in (other, unowned):
        response = await platform.gateway.get(f"/api/devices/{device['id']}", headers=headers)
        assert response.status_code == 404
    # A client cannot widen the list to someone else's devices either.
    widened = await platform.gateway.get(f"/api/devices?owner_id={theirs['id']}", headers=headers)
    assert {d["id"] for d in widened.json()["items"]} == {d["id"] for d in own}


async def test_admins_page_and_search_devices(platform: Platform) -> None:
    """If this fails, the admin devices table cannot find a device or shows a wrong page."""
    headers = bearer(platform.admin_token)
    tag = uuid.uuid4().hex[:8]
    await platform.create_device(name=f"Meter {tag}")
    await platform.create_device(description=f"in the {tag} shed")
    await platform.create_device(address=f"{tag} Road 5")
    first = (await platform.gateway.get(f"/api/devices?q={tag}&size=2", headers=headers)).json()
    second = (
        await platform.gateway.get(f"/api/devices?q={tag}&size=2&page=2", headers=headers)
    ).json()
    assert first["total"] == 3 and (first["page"], first["size"]) == (1, 2)
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert not {d["id"] for d in first["items"]} & {d["id"] for d in second["items"]}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "m", "max_hourly_kwh": 0},
        {"name": "m", "max_hourly_kwh": -1.5},
        {"name": "m", "max_hourly_kwh": "lots"},
        {"name": "m", "max_hourly_kwh": "3"},
        {"name": "m", "max_hourly_kwh": True},
        {"name": "m"},
        {"name": "", "max_hourly_kwh": 1},
        {"name": "m", "max_hourly_kwh": 1, "owner_id": "not-a-uuid"},
        {"name": "m", "max_hourly_kwh": 1, "owner_id": "UNKNOWN"},
        {"name": "m", "max_hourly_kwh": 1, "id": "UNKNOWN"},
        {"name": "m", "max_hourly_kwh": 1, "role": "ADMIN"},
        {"name": "m", "max_hourly_kwh": 1, "status": "exploded"},
    ],
)
async def test_bad_devices_are_refused_with_422_and_nothing_created(
    platform: Platform, body: dict[str, Any]
) -> None:
    """If this fails, a device with no usable limit, a made-up owner or a chosen id exists."""
    body = {k: (str(uuid.uuid4()) if v == "UNKNOWN" else v) for k, v in body.items()}
    before = await devices_total(platform)
    response = await platform.gateway.post(
        "/api/devices", json=body, headers=bearer(platform.admin_token)
    )
    assert response.status_code == 422, response.text
    assert await devices_total(platform) == before


@pytest.mark.parametrize(
    "body",
    [
        {"max_hourly_kwh": 0},
        {"max_hourly_kwh": None},
        {"name": None},
        {"status": None},
        {"owner_id": "UNKNOWN"},
        {"owner_id": "DELETED"},
        {"id": "UNKNOWN"},
        {"revision": 1},
    ],
)
async def test_bad_changes_are_refused_with_422_and_nothing_changed(
    platform: Platform, body: dict[str, Any]
) -> None:
    """If this fails, a PATCH can remove a device's limit, give it to nobody-who-exists
    (or to a deleted user), or rewrite its id."""
    headers = bearer(platform.admin_token)
    if "DELETED" in body.values():
        gone = await platform.create_user()
        await platform.wait_known_to_devices(gone["id"])
        await platform.gateway.delete(f"/api/users/{gone['id']}", headers=headers)

        async def forgotten() -> bool:
            response = await platform.gateway.get(
                f"/api/devices/user/{gone['id']}", headers=headers
            )
            return response.status_code == 404

        await eventually(forgotten, timeout=5)
        body = {"owner_id": gone["id"]}
    body = {k: (str(uuid.uuid4()) if v == "UNKNOWN" else v) for k, v in body.items()}
    device = await platform.create_device()
    for method in ("PATCH", "PUT"):
        full = {"name": device["name"], "max_hourly_kwh": 1, **body}
        sent = body if method == "PATCH" else full
        response = await platform.gateway.request(
            method, f"/api/devices/{device['id']}", json=sent, headers=headers
        )
        assert response.status_code == 422, (method, response.text)
    after = await platform.gateway.get(f"/api/devices/{device['id']}", headers=headers)
    assert after.json() == device


async def test_unknown_and_malformed_device_ids(platform: Platform) -> None:
    """If this fails, a bad id crashes the service (500) or is mistaken for another."""
    headers = bearer(platform.admin_token)
    body = {"name": "m", "max_hourly_kwh": 1}
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        sent = body if method in ("PUT", "PATCH") else None
        missing = await platform.gateway.request(
            method, f"/api/devices/{uuid.uuid4()}", json=sent, headers=headers
        )
        assert missing.status_code == 404, method
        bad = await platform.gateway.request(method, "/api/devices/123", json=sent, headers=headers)
        assert bad.status_code == 422, method
    bad_user = await platform.gateway.get("/api/devices/user/nope", headers=headers)
    assert bad_user.status_code == 422


async def test_every_device_change_publishes_its_state_with_owner_and_limit(
    platform: Platform,
) -> None:
    """If this fails, monitoring never learns a device's owner or limit changed (the seeds'
    bug: alerts against a stale limit, or to the previous owner)."""
    owner, _ = await platform.client()
    async with probe(platform.amqp_url, (EXCHANGE_SYNC, "device.*")) as queue:
        headers = bearer(platform.admin_token)
        device = await platform.create_device(name=unique("ev"))
        url = f"/api/devices/{device['id']}"
        await platform.gateway.patch(url, json={"owner_id": owner["id"]}, headers=headers)
        await platform.gateway.patch(url, json={"max_hourly_kwh": 7.5}, headers=headers)
        await platform.gateway.patch(url, json={"max_hourly_kwh": 7.5}, headers=headers)  # no-op
        await platform.gateway.delete(url, headers=headers)
        events: list[Envelope] = []

        async def four() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                envelope = Envelope.model_validate_json(message.body)
                if envelope.data["id"] == device["id"]:
                    events.append(envelope)
            return len(events) >= 4

        await eventually(four, timeout=5)
    types = [e.type for e in events]
    assert types == ["device.created", "device.updated", "device.updated", "device.deleted"]
    assert [e.data["revision"] for e in events] == [1, 2, 3, 4]
    assert events[1].data["owner_id"] == owner["id"]
    assert events[2].data["max_hourly_kwh"] == 7.5 and events[2].data["owner_id"] == owner["id"]
    assert events[3].data["owner_id"] == owner["id"]
    assert all(e.version == 1 for e in events) and len({e.event_id for e in events}) == 4
