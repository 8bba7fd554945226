"""The authorization matrix over every endpoint of every service: each route the services
serve is listed here with who may call it, and is checked through the gateway and straight
at the service (each service must refuse on its own, the gateway is not the only wall).

Object-level checks for users and devices (client A against client B's profile and meter)
live in tests/devices/test_authorization_matrix.py; this file adds the other services and
the guarantee that no endpoint is left out."""

from __future__ import annotations

import re
import uuid
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.routing import APIRoute, APIWebSocketRoute

from tests.platform.secure import SERVICES, SecurePlatform
from tests.platform.tokens import reissued

Access = Literal["public", "user", "admin", "internal"]

# (service, method, path) -> who may call it. "user": any signed-in user (the service then
# limits them to their own data); "admin": admins only; "internal": service to service on
# the private network, never routed by the gateway.
MATRIX: dict[tuple[str, str, str], Access] = {
    ("auth", "POST", "/api/auth/register"): "public",
    ("auth", "POST", "/api/auth/login"): "public",
    ("auth", "POST", "/api/auth/refresh"): "public",
    ("auth", "POST", "/api/auth/logout"): "public",
    ("auth", "GET", "/api/auth/jwks.json"): "public",
    ("auth", "GET", "/api/auth/me"): "user",
    ("auth", "POST", "/api/auth/password"): "user",
    ("auth", "GET", "/internal/verify"): "internal",
    ("auth", "POST", "/internal/credentials"): "internal",
    ("auth", "GET", "/internal/credentials"): "internal",
    ("auth", "GET", "/internal/revocations"): "internal",
    ("auth", "POST", "/internal/service-token"): "internal",
    ("users", "GET", "/api/users"): "admin",
    ("users", "POST", "/api/users"): "admin",
    ("users", "GET", "/api/users/me"): "user",
    ("users", "PUT", "/api/users/me"): "user",
    ("users", "PATCH", "/api/users/me"): "user",
    ("users", "GET", "/api/users/{user_id}"): "user",
    ("users", "PUT", "/api/users/{user_id}"): "user",
    ("users", "PATCH", "/api/users/{user_id}"): "user",
    ("users", "DELETE", "/api/users/{user_id}"): "admin",
    ("users", "GET", "/internal/users"): "internal",
    ("devices", "GET", "/api/devices"): "user",
    ("devices", "POST", "/api/devices"): "admin",
    ("devices", "GET", "/api/devices/user/{user_id}"): "admin",
    ("devices", "GET", "/api/devices/{device_id}"): "user",
    ("devices", "PUT", "/api/devices/{device_id}"): "admin",
    ("devices", "PATCH", "/api/devices/{device_id}"): "admin",
    ("devices", "DELETE", "/api/devices/{device_id}"): "admin",
    ("devices", "GET", "/internal/devices"): "internal",
    ("devices", "GET", "/api/tariffs"): "user",
    ("devices", "POST", "/api/tariffs"): "admin",
    ("devices", "GET", "/api/tariffs/{tariff_id}"): "user",
    ("devices", "PUT", "/api/tariffs/{tariff_id}"): "admin",
    ("devices", "PATCH", "/api/tariffs/{tariff_id}"): "admin",
    ("devices", "DELETE", "/api/tariffs/{tariff_id}"): "admin",
    ("devices", "GET", "/internal/tariffs"): "internal",
    ("monitoring", "GET", "/api/consumption/day"): "user",
    ("monitoring", "GET", "/api/consumption/range"): "user",
    ("monitoring", "GET", "/api/consumption/export.csv"): "user",
    ("monitoring", "GET", "/api/consumption/compare"): "user",
    ("monitoring", "GET", "/api/consumption/month-to-date"): "user",
    ("monitoring", "GET", "/api/consumption/alerts"): "user",
    ("monitoring", "GET", "/api/consumption/alerts/unread-count"): "user",
    ("monitoring", "POST", "/api/consumption/alerts/read-all"): "user",
    ("monitoring", "POST", "/api/consumption/alerts/{alert_id}/read"): "user",
    ("monitoring", "POST", "/api/consumption/alerts/{alert_id}/ack"): "admin",
    ("monitoring", "GET", "/api/consumption/meters"): "user",
    ("monitoring", "GET", "/api/consumption/overview"): "admin",
    ("realtime", "GET", "/api/realtime/presence"): "admin",
    ("realtime", "WS", "/ws"): "user",
    ("support", "POST", "/api/support/messages"): "user",
    ("support", "POST", "/api/support/admin/reply"): "admin",
    ("support", "GET", "/api/support/history"): "user",
    ("support", "GET", "/api/support/conversations"): "admin",
    ("support", "GET", "/api/support/conversations/me"): "user",
    ("support", "POST", "/api/support/conversations/{user_id}/read"): "admin",
    ("support", "POST", "/api/support/typing"): "user",
}
# Served by every service for operators and tooling, by design without a token.
_OPERATIONAL = re.compile(r"^(/health/|/metrics$|/api/[a-z]+/(docs|openapi\.json|docs/oauth2))")


def _served_routes(platform: SecurePlatform) -> set[tuple[str, str, str]]:
    routes = set()
    for name in SERVICES:
        app = platform.services[name].app
        assert app is not None
        for kind, path, methods in _walk(app.routes, ""):
            if _OPERATIONAL.match(path):
                continue
            if kind == "WS":
                routes.add((name, "WS", path))
            else:
                routes |= {(name, method, path) for method in methods - {"HEAD"}}
        # A WebSocket endpoint may sit in front of the app's router (realtime's /ws does, to
        # keep each socket lean); the service's spec declares it.
        spec = platform.services[name].spec
        routes |= {(name, "WS", r.prefix) for r in spec.routes if r.websocket}
    return routes


def _walk(routes: Any, prefix: str) -> Any:
    """(kind, path, methods) of every endpoint, through included routers (newer FastAPI
    keeps an included router as one entry instead of copying its routes)."""
    for route in routes:
        included = getattr(route, "include_context", None)
        if included is not None:
            yield from _walk(included.included_router.routes, prefix + included.prefix)
        elif isinstance(route, APIRoute):
            yield "HTTP", prefix + route.path, set(route.methods or ())
        elif isinstance(route, APIWebSocketRoute):
            yield "WS", prefix + route.path, set()


def _concrete(path: str) -> str:
    """The path with every {parameter} filled with a fresh id."""
    return re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)


def _http_routes(access: Access | None = None) -> list[tuple[str, str, str]]:
    return [
        key for key, who in MATRIX.items() if key[1] != "WS" and (access is None or who == access)
    ]


def _query(path: str) -> dict[str, str]:
    # Parameters the consumption endpoints require, so that a refusal is about the caller.
    if path.startswith("/api/consumption/"):
        return {
            "device_id": str(uuid.uuid4()),
            "date": "2026-01-01",
            "start": "2026-01-01",
            "end": "2026-01-02",
            "period": "day",
        }
    return {}


async def _call(
    client: httpx.AsyncClient, method: str, path: str, token: str | None, **extra: Any
) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(extra.pop("headers", {}))
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    response = await client.request(
        method, _concrete(path), json=body, params=_query(path), headers=headers
    )
    return response.status_code


async def test_every_served_endpoint_is_in_the_matrix(secure_platform: SecurePlatform) -> None:
    """If this fails, a service serves an endpoint nobody has decided the access rules of
    (or the matrix names one that no longer exists): add it to MATRIX."""
    served = _served_routes(secure_platform)
    assert sorted(served - set(MATRIX)) == [], "endpoints missing from MATRIX"
    assert sorted(set(MATRIX) - served) == [], "MATRIX names endpoints nobody serves"


async def test_without_a_token_only_public_endpoints_answer(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, an endpoint serves anonymous callers, through the gateway or on the
    service's own port, or the gateway routes an internal endpoint to the outside."""
    failures = []
    for service, method, path in _http_routes():
        access = MATRIX[(service, method, path)]
        through = await _call(secure_platform.gateway, method, path, None)
        direct = await _call(secure_platform.direct(service), method, path, None)
        if access == "public":
            ok = through not in (401, 403, 404, 405) and direct not in (401, 403)
        elif access == "internal":
            # Never routed, and refused on the service's own port without a credential.
            ok = through == 404 and direct == 401
        else:
            ok = through == 401 and direct == 401
        if not ok:
            failures.append((service, method, path, access, through, direct))
    assert failures == []


async def test_a_client_is_refused_by_every_admin_endpoint(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a client reaches an admin-only endpoint of some service (lists users,
    reads who is online, replies as support, creates or changes devices)."""
    _, token = await secure_platform.new_client()
    forged_admin = reissued(token, Ed25519PrivateKey.generate(), role="ADMIN")
    failures = []
    for service, method, path in _http_routes("admin"):
        for client in (secure_platform.gateway, secure_platform.direct(service)):
            status = await _call(client, method, path, token)
            # A client with a forged ADMIN role claim fares no better than without a token.
            forged = await _call(client, method, path, forged_admin)
            if status != 403 or forged != 401:
                failures.append((service, method, path, str(client.base_url), status, forged))
    assert failures == []


async def test_a_client_never_sees_another_clients_consumption_or_chat(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, one client reads another's consumption, alerts, CSV export or support
    history by naming their device or user id (the seeds' mistake), or learns of them by
    asking the assistant."""
    a, a_token = await secure_platform.new_client()
    b, _ = await secure_platform.new_client()
    admin = {"Authorization": f"Bearer {secure_platform.admin_token}"}
    response = await secure_platform.gateway.post(
        "/api/devices",
        json={"name": "b's meter", "max_hourly_kwh": 2, "owner_id": b["id"]},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    b_device = response.json()["id"]
    when = {"date": "2026-01-01", "start": "2026-01-01", "end": "2026-01-07"}
    requests = [
        ("monitoring", "/api/consumption/day", {"device_id": b_device, **when}),
        ("monitoring", "/api/consumption/range", {"device_id": b_device, **when}),
        ("monitoring", "/api/consumption/export.csv", {"device_id": b_device, **when}),
        (
            "monitoring",
            "/api/consumption/compare",
            {"device_id": b_device, "period": "day", **when},
        ),
        ("monitoring", "/api/consumption/month-to-date", {"device_id": b_device}),
        ("support", "/api/support/history", {"user_id": b["id"]}),
    ]
    failures = []
    for service, path, params in requests:
        for client in (secure_platform.gateway, secure_platform.direct(service)):
            response = await client.get(
                path, params=params, headers={"Authorization": f"Bearer {a_token}"}
            )
            if response.status_code not in (403, 404):
                failures.append((path, str(client.base_url), response.status_code))
    # B's meter has an alert (the admin sees it), which A must not see by naming the meter.
    await secure_platform.add_alert(b_device)
    admin_sees = await secure_platform.gateway.get(
        "/api/consumption/alerts", params={"device_id": b_device}, headers=admin
    )
    assert [a["device_id"] for a in admin_sees.json()["items"]] == [b_device]
    for client in (secure_platform.gateway, secure_platform.direct("monitoring")):
        alerts = await client.get(
            "/api/consumption/alerts",
            params={"device_id": b_device},
            headers={"Authorization": f"Bearer {a_token}"},
        )
        if alerts.status_code == 200:
            assert all(item["device_id"] != b_device for item in alerts.json()["items"])
        else:
            assert alerts.status_code in (403, 404)
        listed = await client.get(
            "/api/consumption/alerts", headers={"Authorization": f"Bearer {a_token}"}
        )
        assert all(item["device_id"] != b_device for item in listed.json()["items"])
    # The assistant reads A's figures with A's own token: B's meter and its alert stay
    # invisible (and a reply that is not "you have none" means it could not read them).
    for question in ("Any alerts?", "Which device uses the most?"):
        asked = await secure_platform.gateway.post(
            "/api/support/messages",
            json={"text": question, "mode": "bot"},
            headers={"Authorization": f"Bearer {a_token}"},
        )
        assert asked.status_code == 200, asked.text
        reply = asked.json()["reply"]["text"]
        assert reply.startswith("You have no"), (question, reply)
        assert "b's meter" not in reply and b_device not in reply, reply
    assert failures == [], failures
    assert a["id"] != b["id"]


async def test_internal_snapshots_need_a_service_credential(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a caller on the services' network can list every user, device and
    login without any credential, or with a user's token, or as a service not allowed."""
    _, user_token = await secure_platform.new_client()
    for service, path, allowed, refused in [
        ("users", "/internal/users", "devices", "realtime-imposter"),
        ("devices", "/internal/devices", "monitoring", "users"),
        ("auth", "/internal/credentials", "users", "devices"),
    ]:
        client = secure_platform.direct(service)
        response = await client.get(path)
        assert response.status_code == 401, (service, path, response.status_code)
        as_user = await client.get(path, headers={"X-Service-Token": user_token})
        assert as_user.status_code == 401, (service, path, as_user.status_code)
        other = await client.get(path, headers=await secure_platform.as_service(refused))
        assert other.status_code == 403, (service, path, other.status_code)
        ok = await client.get(path, headers=await secure_platform.as_service(allowed))
        assert ok.status_code == 200, (service, path, ok.status_code)
