"""Tariffs through the gateway (issue 12): admins write them, anyone signed in reads them,
bands are checked (HH:MM, end exclusive, wrapping midnight allowed, no overlaps, at most 24),
a tariff in use is not deleted, and every change is published whole with a revision."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest

from ems.contracts.events import TariffCreated, TariffDeleted, TariffUpdated
from ems.contracts.identity import TariffPage
from tests.platform.identity import Platform, bearer, unique

NIGHT = {"start": "22:00", "end": "06:00", "price_per_kwh": 0.35}


def tariff_body(**fields: Any) -> dict[str, Any]:
    return {"name": unique("Tariff "), "currency": "RON", "price_per_kwh": 0.8, **fields}


async def test_admins_create_read_replace_change_and_delete_tariffs(platform: Platform) -> None:
    """If this fails, the admin tariffs page cannot manage what energy costs."""
    headers = bearer(platform.admin_token)
    created = await platform.create_tariff(bands=[NIGHT])
    assert created["bands"] == [NIGHT] and created["currency"] == "RON"
    assert created["price_per_kwh"] == 0.8 and {"id", "created_at", "updated_at"} <= set(created)
    url = f"/api/tariffs/{created['id']}"
    assert (await platform.gateway.get(url, headers=headers)).json() == created

    day = {"start": "07:00", "end": "23:00", "price_per_kwh": 1.25}
    patched = await platform.gateway.patch(url, json={"bands": [day]}, headers=headers)
    assert patched.status_code == 200
    # A PATCH leaves the rest alone; its bands replace the old ones as a whole.
    assert patched.json()["bands"] == [day] and patched.json()["name"] == created["name"]
    replaced = await platform.gateway.put(
        url,
        json={"name": created["name"], "currency": "EUR", "price_per_kwh": 0.2},
        headers=headers,
    )
    # PUT replaces the whole state: bands left out are gone.
    assert replaced.json()["bands"] == [] and replaced.json()["currency"] == "EUR"

    assert (await platform.gateway.delete(url, headers=headers)).status_code == 204
    assert (await platform.gateway.get(url, headers=headers)).status_code == 404
    assert (await platform.gateway.delete(url, headers=headers)).status_code == 404


async def test_bands_that_wrap_midnight_or_meet_end_to_start_are_accepted(
    platform: Platform,
) -> None:
    """If this fails, the usual night tariff (22:00-06:00) cannot be entered, or two bands
    that only touch (one ends when the next starts: end is exclusive) are called overlapping."""
    whole_day = [NIGHT, {"start": "06:00", "end": "22:00", "price_per_kwh": 0.9}]
    to_midnight = [
        {"start": "18:00", "end": "00:00", "price_per_kwh": 1},
        {"start": "00:00", "end": "06:00", "price_per_kwh": 0.5},
    ]
    hourly = [
        {"start": f"{h:02d}:00", "end": f"{(h + 1) % 24:02d}:00", "price_per_kwh": h / 100}
        for h in range(24)
    ]
    for bands in (
        whole_day,
        to_midnight,
        hourly,
        [{"start": "23:59", "end": "00:00", "price_per_kwh": 0}],
    ):
        created = await platform.create_tariff(bands=bands)
        assert created["bands"] == bands


@pytest.mark.parametrize(
    ("bands", "where"),
    [
        ([NIGHT, {"start": "05:00", "end": "07:00", "price_per_kwh": 1}], ["body", "bands"]),
        ([NIGHT, {"start": "23:00", "end": "23:30", "price_per_kwh": 1}], ["body", "bands"]),
        (
            [
                {"start": "08:00", "end": "12:00", "price_per_kwh": 1},
                NIGHT,
                {"start": "11:00", "end": "13:00", "price_per_kwh": 1},
            ],
            ["body", "bands"],
        ),
        ([NIGHT, {"start": "20:00", "end": "02:00", "price_per_kwh": 1}], ["body", "bands"]),
        ([{"start": "10:00", "end": "10:00", "price_per_kwh": 1}], ["body", "bands", 0]),
        ([{"start": "24:00", "end": "01:00", "price_per_kwh": 1}], ["body", "bands", 0, "start"]),
        ([{"start": "7:00", "end": "08:00", "price_per_kwh": 1}], ["body", "bands", 0, "start"]),
        ([{"start": "07:00", "end": "08:60", "price_per_kwh": 1}], ["body", "bands", 0, "end"]),
        (
            [{"start": "07:00", "end": "08:00", "price_per_kwh": -1}],
            ["body", "bands", 0, "price_per_kwh"],
        ),
        ([{"start": "07:00", "end": "08:00"}], ["body", "bands", 0, "price_per_kwh"]),
        (
            [{"start": "07:00", "end": "08:00", "price_per_kwh": 1, "x": 1}],
            ["body", "bands", 0, "x"],
        ),
        (
            [{"start": f"{h:02d}:00", "end": f"{h:02d}:30", "price_per_kwh": 1} for h in range(24)]
            + [{"start": "00:30", "end": "00:45", "price_per_kwh": 1}],
            ["body", "bands"],
        ),
    ],
)
async def test_bad_bands_are_refused_with_422_on_their_field_and_nothing_created(
    platform: Platform, bands: list[dict[str, Any]], where: list[Any]
) -> None:
    """If this fails, a tariff whose bands overlap (two prices for one hour), have no
    length, a time that is no time, or more than 24 of them, is stored, and costs computed
    from it are wrong or ambiguous; or the web app cannot show the error on its field."""
    before = await platform.total("/api/tariffs")
    response = await platform.gateway.post(
        "/api/tariffs", json=tariff_body(bands=bands), headers=bearer(platform.admin_token)
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["loc"] == where, error["details"]
    assert await platform.total("/api/tariffs") == before


@pytest.mark.parametrize(
    "fields",
    [
        {"currency": "ron"},
        {"currency": "EURO"},
        {"currency": None},
        {"price_per_kwh": -0.01},
        {"price_per_kwh": 0.1234567},
        {"price_per_kwh": "0.5"},
        {"price_per_kwh": True},
        {"price_per_kwh": math.inf},
        {"price_per_kwh": math.nan},
        {"name": ""},
        {"id": "UNKNOWN"},
        {"revision": 3},
        {"bands": None},
    ],
)
async def test_bad_tariffs_are_refused_with_422_and_nothing_created(
    platform: Platform, fields: dict[str, Any]
) -> None:
    """If this fails, a tariff with a made-up currency, a negative, infinite or
    over-precise price, or a chosen id exists."""
    fields = {k: (str(uuid.uuid4()) if v == "UNKNOWN" else v) for k, v in fields.items()}
    before = await platform.total("/api/tariffs")
    # Written by hand: JSON parsers accept the `NaN` and `Infinity` that httpx will not send.
    response = await platform.gateway.post(
        "/api/tariffs",
        content=json.dumps(tariff_body(**fields)),
        headers={**bearer(platform.admin_token), "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert await platform.total("/api/tariffs") == before


async def test_bad_changes_leave_the_tariff_as_it_was(platform: Platform) -> None:
    """If this fails, a PATCH can null a tariff's price or currency, or slip overlapping
    bands past the checks a POST makes."""
    tariff = await platform.create_tariff(bands=[NIGHT])
    url = f"/api/tariffs/{tariff['id']}"
    overlapping = [NIGHT, {"start": "05:00", "end": "07:00", "price_per_kwh": 1}]
    for body in (
        {"price_per_kwh": None},
        {"currency": None},
        {"name": None},
        {"bands": None},
        {"bands": overlapping},
    ):
        response = await platform.gateway.patch(
            url, json=body, headers=bearer(platform.admin_token)
        )
        assert response.status_code == 422, (body, response.text)
    put = await platform.gateway.put(
        url, json=tariff_body(bands=overlapping), headers=bearer(platform.admin_token)
    )
    assert put.status_code == 422
    after = await platform.gateway.get(url, headers=bearer(platform.admin_token))
    assert after.json() == tariff


async def test_tariff_names_are_unique(platform: Platform) -> None:
    """If this fails, two tariffs share a name and an admin assigning one picks at random."""
    first = await platform.create_tariff()
    again = await platform.gateway.post(
        "/api/tariffs", json=tariff_body(name=first["name"]), headers=bearer(platform.admin_token)
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"] == {"field": "name"}
    other = await platform.create_tariff()
    renamed = await platform.gateway.patch(
        f"/api/tariffs/{other['id']}",
        json={"name": first["name"]},
        headers=bearer(platform.admin_token),
    )
    assert renamed.status_code == 409


async def test_anyone_signed_in_reads_tariffs_but_only_admins_write_them(
    platform: Platform,
) -> None:
    """If this fails, a client can change what everybody pays (or delete a tariff), or
    cannot see what their own energy costs; or prices are shown to anyone at all."""
    tariff = await platform.create_tariff(bands=[NIGHT])
    url = f"/api/tariffs/{tariff['id']}"
    _, token = await platform.client()
    client = bearer(token)
    listed = await platform.gateway.get(f"/api/tariffs?q={tariff['name']}", headers=client)
    assert listed.status_code == 200 and [t["id"] for t in listed.json()["items"]] == [tariff["id"]]
    assert (await platform.gateway.get(url, headers=client)).json() == tariff

    attempts = [
        ("POST", "/api/tariffs", tariff_body()),
        ("PUT", url, tariff_body(name=tariff["name"], price_per_kwh=0)),
        ("PATCH", url, {"price_per_kwh": 0}),
        ("DELETE", url, None),
    ]
    for method, path, body in attempts:
        response = await platform.gateway.request(method, path, json=body, headers=client)
        assert response.status_code == 403, (method, response.text)
        anonymous = await platform.gateway.request(method, path, json=body)
        assert anonymous.status_code == 401, method
    assert (await platform.gateway.get("/api/tariffs")).status_code == 401
    assert (await platform.gateway.get(url, headers=client)).json() == tariff


async def test_a_tariff_in_use_is_not_deleted(platform: Platform) -> None:
    """If this fails, a device is left pointing at a tariff that no longer exists (its cost
    cannot be computed), or a tariff no device uses cannot be deleted."""
    headers = bearer(platform.admin_token)
    tariff = await platform.create_tariff()
    device = await platform.create_device(tariff_id=tariff["id"])
    url = f"/api/tariffs/{tariff['id']}"
    refused = await platform.gateway.delete(url, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "tariff_in_use"
    assert refused.json()["error"]["details"] == {"devices": 1}
    assert (await platform.gateway.get(url, headers=headers)).status_code == 200

    await platform.gateway.patch(
        f"/api/devices/{device['id']}", json={"tariff_id": None}, headers=headers
    )
    assert (await platform.gateway.delete(url, headers=headers)).status_code == 204


async def test_every_tariff_change_publishes_its_whole_state_with_a_revision(
    platform: Platform,
) -> None:
    """If this fails, monitoring never learns a tariff's prices or bands (or a change of
    them), and every cost it computes is missing or wrong."""
    headers = bearer(platform.admin_token)
    async with platform.events("tariff.*") as probe:
        tariff = await platform.create_tariff(bands=[NIGHT])
        url = f"/api/tariffs/{tariff['id']}"
        await platform.gateway.patch(url, json={"price_per_kwh": 1.1}, headers=headers)
        await platform.gateway.patch(url, json={"price_per_kwh": 1.1}, headers=headers)  # no-op
        await platform.gateway.delete(url, headers=headers)
        events = await probe.about(tariff["id"], 3)
    assert [e.type for e in events] == ["tariff.created", "tariff.updated", "tariff.deleted"]
    created = TariffCreated.model_validate(events[0].data)
    updated = TariffUpdated.model_validate(events[1].data)
    deleted = TariffDeleted.model_validate(events[2].data)
    assert (created.name, created.currency, created.price_per_kwh) == (tariff["name"], "RON", 0.8)
    assert [b.model_dump() for b in created.bands] == [NIGHT]
    assert updated.price_per_kwh == 1.1 and [b.model_dump() for b in updated.bands] == [NIGHT]
    assert [created.revision, updated.revision, deleted.revision] == [1, 2, 3]
    assert len({e.event_id for e in events}) == 3


async def test_the_tariff_snapshot_lists_every_tariff_for_copies_to_catch_up(
    platform: Platform,
) -> None:
    """If this fails, a service that starts keeping tariffs after they were created (their
    events went to no queue of its own) never learns them."""
    tariff = await platform.create_tariff(bands=[NIGHT])
    response = await platform.direct("devices").get(
        "/internal/tariffs", params={"limit": 1000}, headers=await platform.as_service("monitoring")
    )
    page = TariffPage.model_validate_json(response.content)
    found = {str(t.id): t for t in page.items}[tariff["id"]]
    assert found.name == tariff["name"] and found.revision == 1
    blocked = await platform.gateway.get("/internal/tariffs", headers=bearer(platform.admin_token))
    assert blocked.status_code == 404
