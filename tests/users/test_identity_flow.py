"""Users kept true across auth, users and devices, through the gateway: creation, deletion,
role changes, a broker outage, a crash between two steps, repeated and late events."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import pytest
from sqlalchemy import text

from ems.common.messaging import EXCHANGE_SYNC
from ems.contracts.events import Envelope, UserUpdated
from ems.users import service
from tests.platform.broker import probe
from tests.platform.identity import ADMIN, PASSWORD, Platform, bearer, unique
from tests.platform.polling import eventually, held

# The promise: every service has the change within a second.
SECOND = 1.0
# Every service refuses a revoked token within this (docs/operations.md, "Sessions").
REVOKED = 2.0


async def copy_in_devices(platform: Platform, user_id: str) -> dict[str, Any] | None:
    """The devices service's synced row for a user, read from its database."""
    async with platform.database("devices").sessions() as session:
        row = (
            await session.execute(
                text("SELECT username, role, revision, deleted FROM users WHERE id = :id"),
                {"id": uuid.UUID(user_id)},
            )
        ).first()
    return dict(row._mapping) if row is not None else None


async def credential_in_auth(platform: Platform, user_id: str) -> dict[str, Any] | None:
    async with platform.database("auth").sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT role, email, profile_revision,"
                    " (SELECT count(*) FROM refresh_tokens WHERE user_id = c.id) AS tokens"
                    " FROM credentials c WHERE id = :id"
                ),
                {"id": uuid.UUID(user_id)},
            )
        ).first()
    return dict(row._mapping) if row is not None else None


async def test_the_first_admin_reaches_users_and_devices(platform: Platform) -> None:
    """If this fails, the admin created before any service ran (as `ems up` does) is
    missing from the users table and cannot own devices: its event went nowhere."""
    me = await platform.gateway.get("/api/users/me", headers=bearer(platform.admin_token))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == ADMIN and me.json()["role"] == "ADMIN"

    async def known() -> dict[str, Any] | None:
        return await copy_in_devices(platform, me.json()["id"])

    assert (await eventually(known, timeout=10))["role"] == "ADMIN"


async def test_an_admin_created_user_logs_in_at_once_and_every_service_knows_them(
    platform: Platform,
) -> None:
    """If this fails, a user the admin just created cannot log in, or is missing from the
    users table or from the devices service's copy (so no device can be assigned)."""
    created = await platform.create_user(full_name="Ada Lovelace", email=f"{unique('a')}@x.io")
    assert created["role"] == "CLIENT" and created["full_name"] == "Ada Lovelace"

    async def logs_in() -> bool:
        response = await platform.gateway.post(
            "/api/auth/login", json={"username": created["username"], "password": PASSWORD}
        )
        return response.status_code == 200

    await eventually(logs_in, timeout=SECOND)
    tokens = await platform.login(created["username"])
    assert tokens["user"] == {k: created[k] for k in ("id", "username", "role")}
    me = await platform.gateway.get("/api/users/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email"] == created["email"]

    async def in_devices() -> dict[str, Any] | None:
        return await copy_in_devices(platform, created["id"])

    copy = await eventually(in_devices, timeout=SECOND)
    assert copy["username"] == created["username"] and copy["role"] == "CLIENT"


async def test_a_registered_user_appears_in_users_and_devices_within_a_second(
    platform: Platform,
) -> None:
    """If this fails, a client who registers has no profile, or no device can be assigned
    to them, for longer than a second (or ever)."""
    email = f"{unique('reg')}@example.com"
    user = await platform.register(full_name="Grace Hopper", email=email)

    async def in_devices() -> dict[str, Any] | None:
        return await copy_in_devices(platform, user["id"])

    copy = await eventually(in_devices, timeout=SECOND)
    assert copy == {"username": user["username"], "role": "CLIENT", "revision": 1, "deleted": False}
    profile = await platform.gateway.get(
        f"/api/users/{user['id']}", headers=bearer(platform.admin_token)
    )
    assert profile.status_code == 200
    assert profile.json()["full_name"] == "Grace Hopper" and profile.json()["email"] == email


async def test_deleting_a_user_removes_login_refresh_tokens_and_devices_within_a_second(
    platform: Platform,
) -> None:
    """If this fails, a deleted user can still log in or refresh, or their devices (and so
    their data in every later service) stay behind."""
    user, _ = await platform.client()
    tokens = await platform.login(user["username"])
    devices = [await platform.create_device(user["id"]) for _ in range(2)]
    async with probe(platform.amqp_url, (EXCHANGE_SYNC, "device.deleted")) as queue:
        response = await platform.gateway.delete(
            f"/api/users/{user['id']}", headers=bearer(platform.admin_token)
        )
        assert response.status_code == 204

        async def gone() -> bool:
            login = await platform.gateway.post(
                "/api/auth/login", json={"username": user["username"], "password": PASSWORD}
            )
            refresh = await platform.gateway.post(
                "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            reads = [
                await platform.gateway.get(
                    f"/api/devices/{d['id']}", headers=bearer(platform.admin_token)
                )
                for d in devices
            ]
            return (
                login.status_code == 401
                and refresh.status_code == 401
                and all(r.status_code == 404 for r in reads)
            )

        await eventually(gone, timeout=SECOND)
        assert await credential_in_auth(platform, user["id"]) is None  # tokens cascade
        seen: set[str] = set()

        async def both_announced() -> bool:
            message = await queue.get(no_ack=True, fail=False)
            if message is not None:
                seen.add(str(Envelope.model_validate_json(message.body).data["id"]))
            return {d["id"] for d in devices} <= seen

        await eventually(both_announced, timeout=5)

    # The old access token is refused too once the gateway's 1 s verify cache has passed.
    async def refused() -> bool:
        me = await platform.gateway.get("/api/users/me", headers=bearer(tokens["access_token"]))
        return me.status_code == 401

    await eventually(refused, timeout=3)


async def test_a_role_change_takes_effect_on_the_next_request(platform: Platform) -> None:
    """If this fails, a demoted admin keeps admin powers until their token expires (or a
    promoted client does not get them once they come back with a fresh token)."""
    user, token = await platform.client()
    assert (await platform.gateway.get("/api/users", headers=bearer(token))).status_code == 403
    promote = await platform.gateway.patch(
        f"/api/users/{user['id']}", json={"role": "ADMIN"}, headers=bearer(platform.admin_token)
    )
    assert promote.json()["role"] == "ADMIN"

    async def stopped(old: str) -> bool:
        users = await platform.gateway.get("/api/users", headers=bearer(old))
        devices = await platform.gateway.get("/api/devices", headers=bearer(old))
        return users.status_code == devices.status_code == 401

    # A token carrying the old role stops everywhere; the user comes back with a new one.
    await eventually(lambda: stopped(token), timeout=REVOKED)
    admin_token = (await platform.login(user["username"]))["access_token"]

    async def admin_everywhere() -> bool:
        users = await platform.gateway.get("/api/users", headers=bearer(admin_token))
        devices = await platform.gateway.post(
            "/api/devices", json={"name": "m", "max_hourly_kwh": 1}, headers=bearer(admin_token)
        )
        return users.status_code == 200 and devices.status_code == 201

    await eventually(admin_everywhere, timeout=SECOND)
    demote = await platform.gateway.patch(
        f"/api/users/{user['id']}", json={"role": "CLIENT"}, headers=bearer(platform.admin_token)
    )
    assert demote.json()["role"] == "CLIENT"
    # The owner of roles refuses on the very next request, whatever the token says.
    after = await platform.gateway.get("/api/users", headers=bearer(admin_token))
    assert after.status_code in (401, 403)
    await eventually(lambda: stopped(admin_token), timeout=REVOKED)

    async def client_everywhere() -> bool:
        credential = await credential_in_auth(platform, user["id"])
        return credential is not None and credential["role"] == "CLIENT"

    await eventually(client_everywhere, timeout=SECOND)
    refreshed = await platform.login(user["username"])
    assert refreshed["user"]["role"] == "CLIENT"
    devices = await platform.gateway.post(
        "/api/devices",
        json={"name": "m", "max_hourly_kwh": 1},
        headers=bearer(refreshed["access_token"]),
    )
    assert devices.status_code == 403


async def test_changes_made_while_the_broker_is_down_reach_every_service_after_it_returns(
    platform: Platform,
) -> None:
    """If this fails, a change committed during a broker outage is lost for the services
    that keep a copy (the dual-write bug the outbox exists to prevent)."""
    promoted, _ = await platform.client()
    doomed, _ = await platform.client()
    doomed_device = await platform.create_device(doomed["id"])
    await platform.broker_proxy.cut()
    try:

        async def all_disconnected() -> bool:
            states = [
                (await platform.direct(name).get("/health/ready")).json()["checks"]["broker"]
                for name in ("auth", "users", "devices")
            ]
            return not any(states)

        await eventually(all_disconnected, timeout=10)
        registered = await platform.register()  # auth commits; its event waits in the outbox
        created = await platform.create_user()  # loopback HTTP to auth still works
        changed = await platform.gateway.patch(
            f"/api/users/{promoted['id']}",
            json={"role": "ADMIN", "full_name": "Promoted"},
            headers=bearer(platform.admin_token),
        )
        assert changed.status_code == 200
        deleted = await platform.gateway.delete(
            f"/api/users/{doomed['id']}", headers=bearer(platform.admin_token)
        )
        assert deleted.status_code == 204
        # Half a second for a broken outbox to lose something (or to publish while cut off).
        await held(
            lambda: _absent(copy_in_devices(platform, registered["id"])),
            0.5,
            what="no copy in devices while the broker is cut off",
        )
    finally:
        await platform.broker_proxy.restore()

    async def everywhere() -> bool:
        reg = await copy_in_devices(platform, registered["id"])
        new = await copy_in_devices(platform, created["id"])
        up = await copy_in_devices(platform, promoted["id"])
        down = await copy_in_devices(platform, doomed["id"])
        auth_copy = await credential_in_auth(platform, promoted["id"])
        device = await platform.gateway.get(
            f"/api/devices/{doomed_device['id']}", headers=bearer(platform.admin_token)
        )
        return bool(
            reg
            and new
            and up
            and up["role"] == "ADMIN"
            and down
            and down["deleted"]
            and auth_copy
            and auth_copy["role"] == "ADMIN"
            and await credential_in_auth(platform, doomed["id"]) is None
            and device.status_code == 404
        )

    await eventually(everywhere, timeout=20)
    profile = await platform.gateway.get(
        f"/api/users/{registered['id']}", headers=bearer(platform.admin_token)
    )
    assert profile.status_code == 200


async def test_a_redelivered_or_late_event_changes_nothing(platform: Platform) -> None:
    """If this fails, a repeated `user.updated` (which RabbitMQ may always deliver) or one
    that arrives after a newer change or after the deletion undoes the copy's state."""
    user, _ = await platform.client()
    renamed = await platform.gateway.patch(
        f"/api/users/{user['id']}", json={"role": "ADMIN"}, headers=bearer(platform.admin_token)
    )
    assert renamed.json()["role"] == "ADMIN"

    async def promoted() -> bool:
        copy = await copy_in_devices(platform, user["id"])
        auth_copy = await credential_in_auth(platform, user["id"])
        return bool(copy and copy["revision"] == 2 and auth_copy and auth_copy["role"] == "ADMIN")

    await eventually(promoted, timeout=5)
    stale = Envelope.wrap(
        UserUpdated(id=user["id"], username=user["username"], role="CLIENT", revision=1)
    )
    current = Envelope.wrap(
        UserUpdated(id=user["id"], username=user["username"], role="ADMIN", revision=2)
    )
    for envelope in (current, current, stale, stale):
        await platform.senders.publish(
            EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode()
        )
    # A marker behind them on the same queues: once it is applied, they were too.
    await platform.gateway.patch(
        f"/api/users/{user['id']}",
        json={"full_name": "Marker"},
        headers=bearer(platform.admin_token),
    )

    async def marker_applied() -> bool:
        copy = await copy_in_devices(platform, user["id"])
        auth_copy = await credential_in_auth(platform, user["id"])
        return bool(
            copy and copy["revision"] == 3 and auth_copy and auth_copy["profile_revision"] == 3
        )

    await eventually(marker_applied, timeout=5)
    assert (await copy_in_devices(platform, user["id"]))["role"] == "ADMIN"  # type: ignore[index]
    assert (await credential_in_auth(platform, user["id"]))["role"] == "ADMIN"  # type: ignore[index]

    # An update delivered after the deletion does not bring the user back.
    await platform.gateway.delete(f"/api/users/{user['id']}", headers=bearer(platform.admin_token))

    async def tombstoned() -> bool:
        copy = await copy_in_devices(platform, user["id"])
        return bool(copy and copy["deleted"])

    await eventually(tombstoned, timeout=5)
    late = Envelope.wrap(
        UserUpdated(id=user["id"], username=user["username"], role="ADMIN", revision=3)
    )
    await platform.senders.publish(EXCHANGE_SYNC, late.type, late.model_dump_json().encode())
    other = await platform.create_user()  # a marker again

    async def other_known() -> dict[str, Any] | None:
        return await copy_in_devices(platform, other["id"])

    await eventually(other_known, timeout=5)
    copy = await copy_in_devices(platform, user["id"])
    assert copy is not None and copy["deleted"] and copy["revision"] == 4
    assert await credential_in_auth(platform, user["id"]) is None


async def test_a_crash_between_the_login_and_the_profile_loses_nothing(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If this fails, a users process that dies after auth made the login but before it
    wrote the profile leaves a user who can log in but exists nowhere else."""

    async def crash(*_: Any) -> Any:
        raise RuntimeError("the users process died here")

    monkeypatch.setattr(service, "apply_registration", crash)
    username = unique("survivor")
    response = await platform.gateway.post(
        "/api/users",
        json={"username": username, "password": PASSWORD, "role": "CLIENT"},
        headers=bearer(platform.admin_token),
    )
    assert response.status_code == 500
    monkeypatch.undo()

    tokens = await platform.login(username)  # the login exists: auth committed it
    user_id = tokens["user"]["id"]

    async def profile() -> bool:
        me = await platform.gateway.get("/api/users/me", headers=bearer(tokens["access_token"]))
        return me.status_code == 200 and me.json()["username"] == username

    await eventually(profile, timeout=SECOND)

    async def in_devices() -> dict[str, Any] | None:
        return await copy_in_devices(platform, user_id)

    await eventually(in_devices, timeout=SECOND)


async def _absent(copy: Awaitable[object]) -> bool:
    return await copy is None
