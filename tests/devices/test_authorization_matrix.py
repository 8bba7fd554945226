"""Object-level authorization in the owning services: client A's token against client B's
user and device on every endpoint and method, and a client against every admin endpoint.
Checked through the gateway and straight at each service (which must refuse on its own)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.platform.identity import PASSWORD, Platform, bearer
from tests.platform.tokens import reissued

Request = tuple[str, str, dict[str, Any] | None]
DEVICE_BODY = {"name": "taken", "max_hourly_kwh": 99}


def against_another_client(b: dict[str, Any], b_device: dict[str, Any]) -> list[Request]:
    """Every endpoint naming B's user or device, with every method."""
    user, device = f"/api/users/{b['id']}", f"/api/devices/{b_device['id']}"
    return [
        ("GET", user, None),
        ("PUT", user, {"full_name": "pwned"}),
        ("PATCH", user, {"full_name": "pwned"}),
        ("PATCH", user, {"role": "ADMIN"}),
        ("DELETE", user, None),
        ("GET", device, None),
        ("PUT", device, DEVICE_BODY),
        ("PATCH", device, {"owner_id": None}),
        ("PATCH", device, {"max_hourly_kwh": 99}),
        ("DELETE", device, None),
        ("GET", f"/api/devices/user/{b['id']}", None),
    ]


def admin_only(a: dict[str, Any], a_device: dict[str, Any]) -> list[Request]:
    """Every admin endpoint, aimed where a client would most like it: at themselves."""
    device = f"/api/devices/{a_device['id']}"
    return [
        ("GET", "/api/users", None),
        ("GET", "/api/users?q=a", None),
        ("POST", "/api/users", {"username": "sneaky", "password": PASSWORD, "role": "ADMIN"}),
        ("DELETE", f"/api/users/{a['id']}", None),
        ("POST", "/api/devices", DEVICE_BODY),
        ("PUT", device, DEVICE_BODY),
        ("PATCH", device, {"max_hourly_kwh": 99}),
        ("PATCH", device, {"owner_id": None}),
        ("DELETE", device, None),
        ("GET", f"/api/devices/user/{a['id']}", None),
    ]


@pytest.fixture
async def parties(platform: Platform) -> dict[str, Any]:
    """Each test its own two clients and devices: a request that wrongly changed one of them
    cannot leave the next test a different starting point."""
    a, a_token = await platform.client()
    b, b_token = await platform.client()
    return {
        "a": a,
        "a_token": a_token,
        "a_device": await platform.create_device(a["id"]),
        "b": b,
        "b_token": b_token,
        "b_device": await platform.create_device(b["id"]),
    }


async def snapshot(platform: Platform, p: dict[str, Any]) -> list[Any]:
    """What the refused requests must not have changed (read as the admin)."""
    admin = bearer(platform.admin_token)
    paths = [
        f"/api/users/{p['a']['id']}",
        f"/api/users/{p['b']['id']}",
        f"/api/devices/{p['a_device']['id']}",
        f"/api/devices/{p['b_device']['id']}",
        "/api/users?size=100",
    ]
    return [(await platform.gateway.get(path, headers=admin)).json() for path in paths]


async def send(client: httpx.AsyncClient, request: Request, token: str | None) -> int:
    method, path, body = request
    headers = bearer(token) if token else {}
    response = await client.request(method, path, json=body, headers=headers)
    return response.status_code


def service_of(path: str) -> str:
    return "users" if path.startswith("/api/users") else "devices"


@pytest.mark.parametrize("route", ["gateway", "direct"])
async def test_a_client_cannot_touch_another_clients_user_or_device(
    platform: Platform, parties: dict[str, Any], route: str
) -> None:
    """If this fails, one client can read, change or delete another client's profile or
    meter by guessing its id (the seeds' bug), or the service relies on the gateway."""
    before = await snapshot(platform, parties)
    failures = []
    for request in against_another_client(parties["b"], parties["b_device"]):
        client = platform.gateway if route == "gateway" else platform.direct(service_of(request[1]))
        status = await send(client, request, parties["a_token"])
        if status not in (403, 404):
            failures.append((request[0], request[1], request[2], status))
    assert failures == []
    assert await snapshot(platform, parties) == before


@pytest.mark.parametrize("route", ["gateway", "direct"])
async def test_a_client_is_refused_by_every_admin_endpoint(
    platform: Platform, parties: dict[str, Any], route: str
) -> None:
    """If this fails, a client can list or create users, or create, change, reassign or
    delete devices (their own included)."""
    before = await snapshot(platform, parties)
    failures = []
    for request in admin_only(parties["a"], parties["a_device"]):
        client = platform.gateway if route == "gateway" else platform.direct(service_of(request[1]))
        status = await send(client, request, parties["a_token"])
        if status != 403:
            failures.append((request[0], request[1], status))
    assert failures == []
    assert await snapshot(platform, parties) == before


async def test_without_a_valid_token_every_endpoint_answers_401(
    platform: Platform, parties: dict[str, Any]
) -> None:
    """If this fails, an endpoint serves anonymous callers, or trusts a token whose role
    was rewritten to ADMIN."""
    requests = against_another_client(parties["b"], parties["b_device"]) + admin_only(
        parties["a"], parties["a_device"]
    )
    requests += [("GET", "/api/users/me", None), ("GET", "/api/devices", None)]
    tampered = reissued(parties["a_token"], Ed25519PrivateKey.generate(), role="ADMIN")
    failures = []
    for request in requests:
        through_gateway = await send(platform.gateway, request, None)
        direct = platform.direct(service_of(request[1]))
        statuses = (
            through_gateway,
            await send(direct, request, None),
            await send(direct, request, tampered),
        )
        if statuses != (401, 401, 401):
            failures.append((request[0], request[1], statuses))
    assert failures == []


async def test_the_internal_endpoints_are_not_reachable_through_the_gateway(
    platform: Platform, parties: dict[str, Any]
) -> None:
    """If this fails, anyone on the internet can list every user or create logins."""
    for method, path in [
        ("GET", "/internal/credentials"),
        ("POST", "/internal/credentials"),
        ("GET", "/internal/users"),
        ("GET", "/internal/devices"),
    ]:
        response = await platform.gateway.request(
            method, path, headers=bearer(platform.admin_token)
        )
        assert response.status_code == 404, path
    # Straight at auth, creating a login needs the users service's credential and an
    # admin's token.
    body = {
        "id": str(uuid.uuid4()),
        "username": "x" + uuid.uuid4().hex[:6],
        "password": PASSWORD,
        "role": "ADMIN",
    }
    auth = platform.direct("auth")
    assert (await auth.post("/internal/credentials", json=body)).status_code == 401
    users = await platform.as_service("users")
    as_client = await auth.post(
        "/internal/credentials", json=body, headers={**users, **bearer(parties["a_token"])}
    )
    assert as_client.status_code == 403
    alone = await auth.post("/internal/credentials", json=body, headers=bearer(parties["a_token"]))
    assert alone.status_code == 401
