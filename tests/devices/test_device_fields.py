"""A device's tariff, meter id and silence limit (issue 12): checked, unique where they must
be, editable by admins only, and carried by every `device.*` event."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ems.contracts.events import DeviceCreated, DeviceDeleted, DeviceUpdated
from ems.contracts.identity import DevicePage
from tests.platform.identity import Platform, bearer, unique


def meter() -> str:
    return uuid.uuid4().hex[:12]


async def test_a_device_has_no_tariff_no_meter_id_and_30_silent_minutes_unless_given(
    platform: Platform,
) -> None:
    """If this fails, devices made without these fields (every device made before them)
    get a tariff or meter id they never had, or are never noticed when silent."""
    plain = await platform.create_device()
    assert (plain["tariff_id"], plain["meter_id"], plain["silence_minutes"]) == (None, None, 30)

    tariff = await platform.create_tariff()
    meter_id = meter()
    full = await platform.create_device(
        tariff_id=tariff["id"], meter_id=meter_id, silence_minutes=90
    )
    assert (full["tariff_id"], full["meter_id"], full["silence_minutes"]) == (
        tariff["id"],
        meter_id,
        90,
    )
    read = await platform.gateway.get(
        f"/api/devices/{full['id']}", headers=bearer(platform.admin_token)
    )
    assert read.json() == full
    # Admins find a device by the id its meter sends.
    found = await platform.gateway.get(
        f"/api/devices?q={meter_id}", headers=bearer(platform.admin_token)
    )
    assert [d["id"] for d in found.json()["items"]] == [full["id"]]

    off = await platform.gateway.patch(
        f"/api/devices/{full['id']}",
        json={"silence_minutes": None, "tariff_id": None, "meter_id": None},
        headers=bearer(platform.admin_token),
    )
    assert (off.json()["silence_minutes"], off.json()["tariff_id"], off.json()["meter_id"]) == (
        None,
        None,
        None,
    )


async def test_an_unknown_tariff_is_refused_with_422_and_nothing_written(
    platform: Platform,
) -> None:
    """If this fails, a device points at a tariff that does not exist, and its cost can
    never be computed."""
    headers = bearer(platform.admin_token)
    gone = await platform.create_tariff()
    await platform.gateway.delete(f"/api/tariffs/{gone['id']}", headers=headers)
    before = await platform.total("/api/devices")
    device = await platform.create_device()
    for tariff_id in (str(uuid.uuid4()), gone["id"]):
        created = await platform.gateway.post(
            "/api/devices",
            json={"name": unique("m"), "max_hourly_kwh": 1, "tariff_id": tariff_id},
            headers=headers,
        )
        assert created.status_code == 422, created.text
        error = created.json()["error"]
        assert (error["code"], error["details"]) == ("unknown_tariff", {"field": "tariff_id"})
        for method in ("PATCH", "PUT"):
            body = {"name": device["name"], "max_hourly_kwh": 2.5, "tariff_id": tariff_id}
            changed = await platform.gateway.request(
                method, f"/api/devices/{device['id']}", json=body, headers=headers
            )
            assert changed.status_code == 422, (method, changed.text)
    assert await platform.total("/api/devices") == before + 1  # `device` only
    unchanged = await platform.gateway.get(f"/api/devices/{device['id']}", headers=headers)
    assert unchanged.json() == device


async def test_a_meter_id_belongs_to_one_device(platform: Platform) -> None:
    """If this fails, two devices answer to one meter's readings (its consumption counted
    twice, or for the wrong customer)."""
    headers = bearer(platform.admin_token)
    meter_id = meter()
    first = await platform.create_device(meter_id=meter_id)
    second = await platform.create_device()

    taken = await platform.gateway.post(
        "/api/devices",
        json={"name": unique("m"), "max_hourly_kwh": 1, "meter_id": meter_id},
        headers=headers,
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["details"] == {"field": "meter_id"}
    moved = await platform.gateway.patch(
        f"/api/devices/{second['id']}", json={"meter_id": meter_id}, headers=headers
    )
    assert moved.status_code == 409
    # Meter ids are compared exactly: another case is another meter.
    upper = await platform.gateway.patch(
        f"/api/devices/{second['id']}", json={"meter_id": meter_id.upper()}, headers=headers
    )
    assert upper.status_code == 200
    # Its own id again is no conflict; once freed, another device may take it.
    same = await platform.gateway.put(
        f"/api/devices/{first['id']}",
        json={"name": first["name"], "max_hourly_kwh": 2.5, "meter_id": meter_id},
        headers=headers,
    )
    assert same.status_code == 200
    await platform.gateway.patch(
        f"/api/devices/{first['id']}", json={"meter_id": None}, headers=headers
    )
    again = await platform.gateway.patch(
        f"/api/devices/{second['id']}", json={"meter_id": meter_id}, headers=headers
    )
    assert again.status_code == 200 and again.json()["meter_id"] == meter_id


@pytest.mark.parametrize(
    "fields",
    [
        {"meter_id": "meter.7"},
        {"meter_id": ""},
        {"meter_id": "x" * 65},
        {"meter_id": "with space"},
        {"meter_id": "*"},
        {"meter_id": 7},
        {"silence_minutes": 0},
        {"silence_minutes": 10081},
        {"silence_minutes": -5},
        {"silence_minutes": 1.5},
        {"silence_minutes": "30"},
        {"silence_minutes": True},
        {"tariff_id": "not-a-uuid"},
    ],
)
async def test_bad_meter_ids_and_silence_limits_are_refused_with_422(
    platform: Platform, fields: dict[str, Any]
) -> None:
    """If this fails, a meter id that cannot be a routing-key word (a dot splits it, `*`
    matches anything) or a silence limit outside a minute to a week is stored."""
    headers = bearer(platform.admin_token)
    device = await platform.create_device()
    created = await platform.gateway.post(
        "/api/devices", json={"name": unique("m"), "max_hourly_kwh": 1, **fields}, headers=headers
    )
    assert created.status_code == 422, created.text
    field = next(iter(fields))
    assert created.json()["error"]["details"][0]["loc"][:2] == ["body", field]
    patched = await platform.gateway.patch(
        f"/api/devices/{device['id']}", json=fields, headers=headers
    )
    assert patched.status_code == 422
    assert (
        await platform.gateway.get(f"/api/devices/{device['id']}", headers=headers)
    ).json() == device


async def test_the_edges_of_the_silence_limit_are_accepted(platform: Platform) -> None:
    """If this fails, a minute or a whole week cannot be set although both are allowed."""
    for minutes in (1, 10080):
        assert (await platform.create_device(silence_minutes=minutes))["silence_minutes"] == minutes
    assert (await platform.create_device(meter_id="A-z_09"))["meter_id"] == "A-z_09"


async def test_clients_cannot_set_a_tariff_meter_id_or_silence_limit(platform: Platform) -> None:
    """If this fails, a client can move their meter to a cheaper tariff, take over another
    meter's readings, or switch off their silence alerts."""
    user, token = await platform.client()
    device = await platform.create_device(user["id"])
    tariff = await platform.create_tariff(price_per_kwh=0)
    for body in ({"tariff_id": tariff["id"]}, {"meter_id": meter()}, {"silence_minutes": None}):
        response = await platform.gateway.patch(
            f"/api/devices/{device['id']}", json=body, headers=bearer(token)
        )
        assert response.status_code == 403, body
    own = await platform.gateway.get(f"/api/devices/{device['id']}", headers=bearer(token))
    assert own.json() == device


async def test_device_events_carry_tariff_meter_id_and_silence(platform: Platform) -> None:
    """If this fails, monitoring cannot price a device's hours, recognise its meter's
    readings, or tell when it went silent: it learns these only from the events."""
    headers = bearer(platform.admin_token)
    tariff = await platform.create_tariff()
    meter_id = meter()
    async with platform.events("device.*") as probe:
        device = await platform.create_device(meter_id=meter_id)
        url = f"/api/devices/{device['id']}"
        await platform.gateway.patch(url, json={"tariff_id": tariff["id"]}, headers=headers)
        await platform.gateway.patch(url, json={"silence_minutes": None}, headers=headers)
        await platform.gateway.delete(url, headers=headers)
        events = await probe.about(device["id"], 4)
    created = DeviceCreated.model_validate(events[0].data)
    priced, unwatched = (DeviceUpdated.model_validate(e.data) for e in events[1:3])
    deleted = DeviceDeleted.model_validate(events[3].data)
    assert (created.meter_id, created.tariff_id, created.silence_minutes) == (meter_id, None, 30)
    assert (priced.tariff_id, priced.meter_id, priced.silence_minutes) == (
        uuid.UUID(tariff["id"]),
        meter_id,
        30,
    )
    assert (unwatched.silence_minutes, unwatched.tariff_id) == (None, uuid.UUID(tariff["id"]))
    assert [created.revision, priced.revision, unwatched.revision, deleted.revision] == [1, 2, 3, 4]

    # The snapshot copies catch up from holds them too.
    kept = await platform.create_device(meter_id=meter(), tariff_id=tariff["id"], silence_minutes=5)
    response = await platform.direct("devices").get(
        "/internal/devices", params={"limit": 1000}, headers=await platform.as_service("monitoring")
    )
    item = {str(d.id): d for d in DevicePage.model_validate_json(response.content).items}[
        kept["id"]
    ]
    assert (str(item.tariff_id), item.meter_id, item.silence_minutes) == (
        tariff["id"],
        kept["meter_id"],
        5,
    )


def test_device_events_from_before_these_fields_read_with_their_defaults() -> None:
    """If this fails, a consumer refuses (dead-letters) every `device.*` event published
    before this change, or one replayed from an older snapshot."""
    old = {"id": str(uuid.uuid4()), "name": "m", "max_hourly_kwh": 2.0}
    for event in (
        DeviceCreated.model_validate(old),
        DeviceUpdated.model_validate({**old, "revision": 2}),
    ):
        assert (event.tariff_id, event.meter_id, event.silence_minutes) == (None, None, 30)
