"""Sessions end when they are ended: after a logout, a password change, a role change or a
deletion, every affected access token stops on every endpoint of every service (through the
gateway and straight at the service) and on the WebSocket, within 2 s."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.platform.identity import PASSWORD, bearer
from tests.platform.polling import eventually
from tests.platform.secure import SecurePlatform

BOUND_SECONDS = 2.0

# One endpoint of each service that any signed-in user may call.
PROBES = [
    ("auth", "/api/auth/me"),
    ("users", "/api/users/me"),
    ("devices", "/api/devices"),
    ("monitoring", "/api/consumption/alerts"),
    ("support", "/api/support/conversations/me"),
]
# What an admin (only) may read: another client's consumption, the support inbox, presence.
ADMIN_PROBES = [
    ("monitoring", "/api/consumption/alerts"),
    ("support", "/api/support/conversations"),
    ("realtime", "/api/realtime/presence"),
]


async def _statuses(
    platform: SecurePlatform, token: str, probes: list[tuple[str, str]]
) -> dict[str, int]:
    calls = {}
    for service, path in probes:
        calls[f"gateway {path}"] = platform.gateway.get(path, headers=bearer(token))
        calls[f"{service} {path}"] = platform.direct(service).get(path, headers=bearer(token))
    answers = await asyncio.gather(*calls.values())
    return {label: r.status_code for label, r in zip(calls, answers, strict=True)}


async def _refused_everywhere_within_bound(
    platform: SecurePlatform, token: str, probes: list[tuple[str, str]], since: float
) -> float:
    """Seconds from `since` until every probe answers 401 (fails past the bound)."""

    async def refused() -> bool:
        statuses = await _statuses(platform, token, probes)
        return all(status == 401 for status in statuses.values())

    bound = BOUND_SECONDS - (time.monotonic() - since)
    await eventually(refused, timeout=bound, what="the token refused everywhere")
    return time.monotonic() - since


async def _socket(platform: SecurePlatform, token: str) -> ClientConnection:
    url = platform.gateway_url.replace("http://", "ws://") + f"/ws?token={token}"
    socket = await websockets.connect(url, open_timeout=10)
    async with asyncio.timeout(10):
        # An admin hears about presence first.
        while '"welcome"' not in str(await socket.recv()):
            pass
    return socket


async def _closed_with(socket: ClientConnection, since: float) -> int:
    """The close code the server sent, within the bound from `since`."""
    try:
        async with asyncio.timeout(BOUND_SECONDS - (time.monotonic() - since) + 0.5):
            while True:
                await socket.recv()
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a code"
        assert time.monotonic() - since < BOUND_SECONDS + 0.5
        return closed.rcvd.code
    raise AssertionError("the socket stayed open")


async def _login(platform: SecurePlatform, username: str, password: str = PASSWORD) -> Any:
    return await platform.login(username, password)


async def test_a_logged_out_token_stops_everywhere_within_two_seconds(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, an access token keeps working after its owner logged out (on some
    service, straight or through the gateway, or on an open WebSocket)."""
    user, _ = await secure_platform.new_client()
    session = await _login(secure_platform, user["username"])
    other = await _login(secure_platform, user["username"])
    token = session["access_token"]
    before = await _statuses(secure_platform, token, PROBES)
    assert set(before.values()) == {200}, before
    socket = await _socket(secure_platform, token)
    out = await secure_platform.gateway.post(
        "/api/auth/logout", json={"refresh_token": session["refresh_token"]}
    )
    assert out.status_code == 204
    ended = time.monotonic()
    await _refused_everywhere_within_bound(secure_platform, token, PROBES, ended)
    assert await _closed_with(socket, ended) == 4401
    # The user's other session is not touched.
    assert set((await _statuses(secure_platform, other["access_token"], PROBES)).values()) == {200}


async def test_a_password_change_stops_the_other_sessions_tokens(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, whoever holds a stolen token keeps using it after the owner changed
    the password."""
    user, _ = await secure_platform.new_client()
    stolen = (await _login(secure_platform, user["username"]))["access_token"]
    mine = (await _login(secure_platform, user["username"]))["access_token"]
    socket = await _socket(secure_platform, stolen)
    changed = await secure_platform.gateway.post(
        "/api/auth/password",
        json={"old_password": PASSWORD, "new_password": "a-new-horse-2"},
        headers=bearer(mine),
    )
    assert changed.status_code == 200, changed.text
    ended = time.monotonic()
    fresh = changed.json()["access_token"]
    secure_platform.secrets.add(fresh)
    await _refused_everywhere_within_bound(secure_platform, stolen, PROBES, ended)
    assert await _closed_with(socket, ended) == 4401
    assert set((await _statuses(secure_platform, fresh, PROBES)).values()) == {200}


async def test_a_demoted_admin_loses_admin_reads_within_two_seconds(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, an admin demoted to client keeps reading every client's consumption,
    the support inbox and who is online with the token they had (services that trusted the
    role inside the token)."""
    admin = bearer(secure_platform.admin_token)
    name = f"boss{uuid.uuid4().hex[:6]}"
    created = await secure_platform.gateway.post(
        "/api/users",
        json={"username": name, "password": PASSWORD, "role": "ADMIN"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    token = (await _login(secure_platform, name))["access_token"]
    before = await _statuses(secure_platform, token, ADMIN_PROBES)
    assert set(before.values()) == {200}, before
    socket = await _socket(secure_platform, token)
    demoted = await secure_platform.gateway.patch(
        f"/api/users/{created.json()['id']}", json={"role": "CLIENT"}, headers=admin
    )
    assert demoted.status_code == 200, demoted.text
    ended = time.monotonic()
    await _refused_everywhere_within_bound(secure_platform, token, ADMIN_PROBES, ended)
    assert await _closed_with(socket, ended) == 4401
    # A fresh login carries the new role, and the admin reads are refused for it.
    again = (await _login(secure_platform, name))["access_token"]
    after = await _statuses(secure_platform, again, ADMIN_PROBES[1:])
    assert set(after.values()) == {403}, after


async def test_a_deleted_users_tokens_stop_and_sockets_close_with_4403(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a deleted user keeps calling the API, or their open socket keeps
    receiving, or the web app cannot tell a deletion from an expired token."""
    user, token = await secure_platform.new_client()
    socket = await _socket(secure_platform, token)
    deleted = await secure_platform.gateway.delete(
        f"/api/users/{user['id']}", headers=bearer(secure_platform.admin_token)
    )
    assert deleted.status_code == 204
    ended = time.monotonic()
    await _refused_everywhere_within_bound(secure_platform, token, PROBES, ended)
    assert await _closed_with(socket, ended) == 4403


async def test_the_gateways_verify_cache_is_proven_with_the_real_auth_service(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, the gateway asks auth on every request (a second round trip each), or
    its cache lets a logged-out token through past the bound (proven with the real auth
    service, not a fake)."""
    user, _ = await secure_platform.new_client()
    session = await _login(secure_platform, user["username"])
    token = session["access_token"]
    metrics = secure_platform.direct("auth")

    async def verifies() -> float:
        text = (await metrics.get("/metrics")).text
        for line in text.splitlines():
            verify = line.startswith("ems_http_requests_total{") and '"/internal/verify"' in line
            if verify and 'status="200"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = await verifies()
    answers = [
        await secure_platform.gateway.get("/api/devices", headers=bearer(token)) for _ in range(20)
    ]
    assert all(r.status_code == 200 for r in answers)
    asked = await verifies() - before
    # 20 requests within a second or two: auth was asked once per cached second, not 20x.
    assert 1 <= asked <= 4, asked
    await secure_platform.gateway.post(
        "/api/auth/logout", json={"refresh_token": session["refresh_token"]}
    )
    ended = time.monotonic()

    async def refused() -> bool:
        response = await secure_platform.gateway.get("/api/devices", headers=bearer(token))
        return response.status_code == 401

    bound = BOUND_SECONDS - (time.monotonic() - ended)
    await eventually(refused, timeout=bound, what="the gateway letting the token go")
    # And at auth's own check, the answer changed at once (the cache alone held it).
    direct = await secure_platform.direct("auth").get("/api/auth/me", headers=bearer(token))
    assert direct.status_code == 401
