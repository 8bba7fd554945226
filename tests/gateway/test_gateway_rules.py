"""The gateway's rules, checked at the upstream: what reaches a service, and what never does."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import Gateway
from tests.gateway.fake_upstream import BROKEN_TOKEN, GOOD_TOKEN, IDENTITY, fresh_token
from tests.platform.polling import eventually_blocking

SPOOFED = {"X-User-Id": "admin-1", "X-User-Role": "ADMIN", "X-User-Name": "root"}


@pytest.fixture
def client(gateway: Gateway) -> Iterator[httpx.Client]:
    gateway.upstream.reset()
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details"}


def test_public_route_reaches_service_without_identity_headers(
    client: httpx.Client, gateway: Gateway
) -> None:
    """Else a client could name itself admin on a public route (login, register)."""
    response = client.get("/api/auth/login", headers=SPOOFED)
    assert response.status_code == 200
    [seen] = gateway.upstream.requests_to("/api/auth/login")
    for name in SPOOFED:
        assert seen.header(name) == []
    assert gateway.upstream.requests_to("/internal/verify") == []


def test_protected_route_without_token_never_reaches_service(
    client: httpx.Client, gateway: Gateway
) -> None:
    """Else a request with spoofed X-User-* headers and no token reaches a service."""
    headers = {**SPOOFED, "X_User_Id": "admin-1"}
    response = client.post("/api/echo/devices", headers=headers, json={"x": 1})
    _assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    assert gateway.upstream.requests_to("/api/echo") == []


def test_protected_route_overwrites_spoofed_identity(
    client: httpx.Client, gateway: Gateway
) -> None:
    """Else a client with any valid token could pass itself off as someone else."""
    headers = {**SPOOFED, "Authorization": f"Bearer {GOOD_TOKEN}"}
    response = client.get("/api/echo/whoami", headers=headers)
    assert response.status_code == 200
    [seen] = gateway.upstream.requests_to("/api/echo/whoami")
    for name, value in IDENTITY.items():
        assert seen.header(name) == [value]


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/echo/x"])
def test_underscore_spellings_are_dropped(
    client: httpx.Client, gateway: Gateway, path: str
) -> None:
    """Else X_User_Id reaches a service, and frameworks that fold `_` into `-` trust it."""
    headers = {
        "X_User_Id": "admin-1",
        "X_User_Role": "ADMIN",
        "Authorization": f"Bearer {GOOD_TOKEN}",
    }
    assert client.get(path, headers=headers).status_code == 200
    [seen] = gateway.upstream.requests_to(path)
    names = {name.lower() for name, _ in seen.headers}
    assert not {"x_user_id", "x_user_role"} & names
    assert seen.header("X-User-Role") in ([], [IDENTITY["X-User-Role"]])


@pytest.mark.parametrize(
    "path", ["/internal/verify", "/internal", "/internal/anything", "/_ems/verify"]
)
def test_internal_paths_are_not_routed(client: httpx.Client, gateway: Gateway, path: str) -> None:
    """Else anyone could call the services' internal endpoints from outside."""
    response = client.get(path, headers={"Authorization": f"Bearer {GOOD_TOKEN}"})
    _assert_error(response, 404, "not_found")
    assert gateway.upstream.seen == []


@pytest.mark.parametrize("path", ["/api/x", "/api", "/api/", "/api/nothing/deep?q=1"])
def test_unknown_api_paths_are_json_404(client: httpx.Client, path: str) -> None:
    """Else a typo in an API path gets the SPA's HTML with a 200 and confuses clients."""
    _assert_error(client.get(path), 404, "not_found")


def test_longest_prefix_wins(client: httpx.Client, gateway: Gateway) -> None:
    """Else /api/auth/me would be public under /api/auth/, or claim its siblings."""
    _assert_error(client.get("/api/auth/me"), 401, "unauthorized")
    _assert_error(client.get("/api/auth/me/sessions"), 401, "unauthorized")
    assert client.get("/api/auth/meow").status_code == 200
    assert client.get("/api/auth/jwks.json").status_code == 200
    assert [s.path for s in gateway.upstream.requests_to("/api/")] == [
        "/api/auth/meow",
        "/api/auth/jwks.json",
    ]


@pytest.mark.parametrize("path", ["/", "/some/deep/link", "/devices/42?tab=chart"])
def test_other_paths_serve_the_web_app(client: httpx.Client, path: str) -> None:
    """Else a reload on a client-side route of the SPA shows a 404 page."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "web app is not built yet" in response.text


def test_missing_asset_is_404_not_index(client: httpx.Client) -> None:
    """Else a stale script URL gets HTML back, which the browser fails to run."""
    assert client.get("/assets/index-deadbeef.js").status_code == 404


def test_request_id_is_forwarded_and_returned(client: httpx.Client, gateway: Gateway) -> None:
    """Else logs of the gateway and the services cannot be tied to one request."""
    response = client.get("/api/auth/x", headers={"X-Request-Id": "req-123"})
    assert response.headers["x-request-id"] == "req-123"
    [seen] = gateway.upstream.requests_to("/api/auth/x")
    assert seen.header("X-Request-Id") == ["req-123"]

    response = client.get("/api/auth/y")
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    [seen] = gateway.upstream.requests_to("/api/auth/y")
    assert seen.header("X-Request-Id") == [generated]

    # A value that could forge log lines is replaced, not passed on.
    response = client.get("/api/auth/z", headers={"X-Request-Id": "a b\tc"})
    assert response.headers["x-request-id"] != "a b\tc"


def test_successful_verification_is_cached_briefly(client: httpx.Client, gateway: Gateway) -> None:
    """Else every request costs a round trip to auth, or a revoked token passes for long."""
    headers = {"Authorization": f"Bearer {fresh_token()}"}
    for _ in range(5):
        assert client.get("/api/echo/cached", headers=headers).status_code == 200
    assert len(gateway.upstream.requests_to("/internal/verify")) == 1

    started = time.monotonic()

    def verified_again() -> bool:
        client.get("/api/echo/cached", headers=headers)
        return len(gateway.upstream.requests_to("/internal/verify")) > 1

    eventually_blocking(verified_again, timeout=5, what="the cached verification expiring")
    # nginx counts whole seconds: an entry lives between 1 and 2 s.
    assert time.monotonic() - started < 2.5


def test_rejections_are_never_cached(client: httpx.Client, gateway: Gateway) -> None:
    """Else a token that just became valid (or a retried one) is refused for a while."""
    headers = {"Authorization": "Bearer wrong"}
    for _ in range(3):
        _assert_error(client.get("/api/echo/x", headers=headers), 401, "unauthorized")
    assert len(gateway.upstream.requests_to("/internal/verify")) == 3


def test_broken_auth_answers_503_json(client: httpx.Client) -> None:
    """Else an auth outage looks like a bug in the gateway (a bare 500 HTML page)."""
    response = client.get("/api/echo/x", headers={"Authorization": f"Bearer {BROKEN_TOKEN}"})
    _assert_error(response, 503, "auth_unavailable")


def test_unreachable_service_answers_json(client: httpx.Client) -> None:
    """Else a service that is down gets nginx's HTML error page instead of the error shape."""
    _assert_error(client.get("/api/gone/x"), 502, "bad_gateway")


def _handshake(gateway: Gateway, target: str) -> str:
    port = int(gateway.url.rsplit(":", 1)[1])
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(4096).decode(errors="replace")


def test_websocket_with_token_is_verified_then_upgraded(
    client: httpx.Client, gateway: Gateway
) -> None:
    """Else WebSockets either bypass auth or cannot connect through the gateway at all."""
    token = fresh_token()
    answer = _handshake(gateway, f"/ws?token={token}")
    assert answer.startswith("HTTP/1.1 101"), answer
    [verify] = gateway.upstream.requests_to("/internal/verify")
    assert verify.header("X-Original-URI") == [f"/ws?token={token}"]
    # The check itself must not be a WebSocket handshake, or auth answers it wrongly.
    assert verify.header("Upgrade") == []
    [seen] = gateway.upstream.requests_to("/ws")
    assert seen.header("Upgrade") == ["websocket"]
    assert seen.header("X-User-Id") == [IDENTITY["X-User-Id"]]


def test_websocket_without_token_is_401(client: httpx.Client, gateway: Gateway) -> None:
    """Else anyone could open a socket and listen to other users' alerts."""
    answer = _handshake(gateway, "/ws")
    assert answer.startswith("HTTP/1.1 401"), answer
    assert gateway.upstream.requests_to("/ws") == []
