"""The profile's time zone (issue 12): an IANA name, UTC unless chosen, refused when
unknown, editable by its user and by admins only, and carried by `user.*` events."""

from __future__ import annotations

from typing import Any

import pytest

from ems.contracts.events import UserCreated, UserUpdated
from ems.contracts.identity import ProfilePage
from tests.platform.identity import PASSWORD, Platform, bearer, unique
from tests.platform.polling import eventually

ZONE = "Europe/Bucharest"


async def test_a_new_profile_is_in_utc_until_its_user_chooses_a_zone(platform: Platform) -> None:
    """If this fails, users start in a zone they never chose, or their choice is not kept
    (their days and hours would be cut in the wrong place)."""
    registered = await platform.register()
    created = await platform.create_user()
    for user in (registered, created):
        token = (await platform.login(user["username"]))["access_token"]

        async def profile(token: str = token) -> dict[str, Any] | None:
            # A registered profile is written when auth's event arrives.
            me = await platform.gateway.get("/api/users/me", headers=bearer(token))
            return me.json() if me.status_code == 200 else None

        assert (await eventually(profile, timeout=5))["time_zone"] == "UTC"

    token = (await platform.login(created["username"]))["access_token"]
    patched = await platform.gateway.patch(
        "/api/users/me", json={"time_zone": ZONE}, headers=bearer(token)
    )
    assert patched.status_code == 200 and patched.json()["time_zone"] == ZONE
    me = (await platform.gateway.get("/api/users/me", headers=bearer(token))).json()
    assert me["time_zone"] == ZONE and me["username"] == created["username"]
    # A PATCH of other fields keeps the zone; a PUT replaces the profile: left out, UTC.
    renamed = await platform.gateway.patch(
        "/api/users/me", json={"full_name": "Ana"}, headers=bearer(token)
    )
    assert renamed.json()["time_zone"] == ZONE
    replaced = await platform.gateway.put(
        "/api/users/me", json={"full_name": "Ana"}, headers=bearer(token)
    )
    assert replaced.json()["time_zone"] == "UTC"


@pytest.mark.parametrize(
    "zone",
    ["Mars/Olympus_Mons", "europe/bucharest", "Europe/Bucharest ", "", "localtime", "+03:00", 3],
)
async def test_an_unknown_zone_is_refused_with_422_and_nothing_changed(
    platform: Platform, zone: Any
) -> None:
    """If this fails, a profile holds a zone no service can compute with (every local day
    of that user would fail or silently fall back to something else)."""
    user, token = await platform.client()
    await platform.gateway.patch("/api/users/me", json={"time_zone": ZONE}, headers=bearer(token))
    for method, path, headers in (
        ("PATCH", "/api/users/me", bearer(token)),
        ("PUT", "/api/users/me", bearer(token)),
        ("PATCH", f"/api/users/{user['id']}", bearer(platform.admin_token)),
    ):
        response = await platform.gateway.request(
            method, path, json={"time_zone": zone}, headers=headers
        )
        assert response.status_code == 422, (method, path, response.text)
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["loc"] == ["body", "time_zone"]
    me = (await platform.gateway.get("/api/users/me", headers=bearer(token))).json()
    assert me["time_zone"] == ZONE

    before = await platform.total("/api/users")
    body = {"username": unique("tz"), "password": PASSWORD, "role": "CLIENT", "time_zone": zone}
    refused = await platform.gateway.post(
        "/api/users", json=body, headers=bearer(platform.admin_token)
    )
    assert refused.status_code == 422
    assert await platform.total("/api/users") == before


async def test_a_null_zone_is_refused(platform: Platform) -> None:
    """If this fails, a profile can lose its zone altogether (null), which no consumer of
    `user.*` events expects."""
    _, token = await platform.client()
    response = await platform.gateway.patch(
        "/api/users/me", json={"time_zone": None}, headers=bearer(token)
    )
    assert response.status_code == 422


async def test_admins_set_anyones_zone_and_clients_only_their_own(platform: Platform) -> None:
    """If this fails, a client can change another user's zone (and so what that user's
    consumption and costs look like), or an admin cannot set one for a customer."""
    admin = bearer(platform.admin_token)
    other = await platform.create_user(time_zone="America/New_York")
    assert other["time_zone"] == "America/New_York"
    read = await platform.gateway.get(f"/api/users/{other['id']}", headers=admin)
    assert read.json()["time_zone"] == "America/New_York"
    changed = await platform.gateway.patch(
        f"/api/users/{other['id']}", json={"time_zone": "Asia/Tokyo"}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["time_zone"] == "Asia/Tokyo"
    listed = await platform.gateway.get(f"/api/users?q={other['username']}", headers=admin)
    assert listed.json()["items"][0]["time_zone"] == "Asia/Tokyo"

    _, token = await platform.client()
    for method in ("PATCH", "PUT"):
        response = await platform.gateway.request(
            method, f"/api/users/{other['id']}", json={"time_zone": ZONE}, headers=bearer(token)
        )
        assert response.status_code == 404, method
    unchanged = await platform.gateway.get(f"/api/users/{other['id']}", headers=admin)
    assert unchanged.json()["time_zone"] == "Asia/Tokyo"


async def test_user_events_and_the_snapshot_carry_the_zone(platform: Platform) -> None:
    """If this fails, the services that keep a copy of users (monitoring cuts days in the
    owner's zone) never learn a user's zone, or learn a stale one."""
    async with platform.events("user.*") as probe:
        user, token = await platform.client()
        mine = bearer(token)
        for change in (
            {"time_zone": ZONE},
            {"time_zone": ZONE},  # the same again: nothing changes, nothing is published
            {"full_name": "Zoned"},
        ):
            response = await platform.gateway.patch("/api/users/me", json=change, headers=mine)
            assert response.status_code == 200, response.text
        events = await probe.about(user["id"], 3)

        made = await platform.create_user(time_zone="Australia/Adelaide")
        # Created with the zone, or (when the registration event was first) created in UTC
        # and then given it: either way the last event holds it.
        first = (await probe.about(made["id"], 1))[0]
        if first.data["time_zone"] == "UTC":
            first = (await probe.about(made["id"], 2))[1]
        assert UserUpdated.model_validate(first.data).time_zone == "Australia/Adelaide"

    # Read as a consumer reads them: with the contract's own types.
    created = UserCreated.model_validate(events[0].data)
    moved, renamed = (UserUpdated.model_validate(e.data) for e in events[1:])
    assert [e.type for e in events] == ["user.created", "user.updated", "user.updated"]
    assert (created.time_zone, created.revision) == ("UTC", 1)
    assert (moved.time_zone, moved.revision) == (ZONE, 2)
    assert (renamed.time_zone, renamed.full_name, renamed.revision) == (ZONE, "Zoned", 3)

    snapshot = await platform.direct("users").get(
        "/internal/users", params={"limit": 1000}, headers=await platform.as_service("devices")
    )
    page = ProfilePage.model_validate_json(snapshot.content)
    assert {str(u.id): u.time_zone for u in page.items}[user["id"]] == ZONE


def test_events_from_before_zones_existed_read_as_utc() -> None:
    """If this fails, a consumer refuses (dead-letters) every `user.*` event published before
    this change, or one replayed from a snapshot of an older users service."""
    old = {"id": "8a1c6a0e-7f7e-4c40-9c55-7f5e4a1b2c3d", "username": "ana", "role": "CLIENT"}
    assert UserCreated.model_validate(old).time_zone == "UTC"
    assert UserUpdated.model_validate({**old, "revision": 4}).time_zone == "UTC"
