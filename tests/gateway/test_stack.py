"""The platform as `ems up` starts it: real auth behind the real gateway."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.gateway.conftest import RunningStack
from tests.platform.polling import eventually_blocking

PASSWORD = "correct-horse-battery"


@pytest.fixture
def client(stack: RunningStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        yield client


def _login(client: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _new_client_user(client: httpx.Client) -> dict[str, Any]:
    username = f"gw{uuid.uuid4().hex[:10]}"
    response = client.post("/api/auth/register", json={"username": username, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return _login(client, username)


def _error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    code: str = response.json()["error"]["code"]
    return code


def test_register_login_refresh_logout_through_gateway(client: httpx.Client) -> None:
    """Else the first user journey of the platform is broken at the front door."""
    username = f"gw{uuid.uuid4().hex[:10]}"
    registered = client.post(
        "/api/auth/register", json={"username": username, "password": PASSWORD, "role": "ADMIN"}
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["role"] == "CLIENT"

    login = _login(client, username)
    assert login["token_type"] == "bearer"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {login['access_token']}"})
    assert me.status_code == 200
    assert me.json()["username"] == username

    refreshed = client.post("/api/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    tokens = refreshed.json()
    assert tokens["refresh_token"] != login["refresh_token"]

    logout = client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert logout.status_code == 204
    again = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


def test_the_configured_admin_can_log_in(client: httpx.Client, stack: RunningStack) -> None:
    """Else `ems up` printed an admin login that does not work."""
    login = _login(client, stack.admin_username, stack.admin_password)
    assert login["user"]["role"] == "ADMIN"


def test_internal_verify_is_not_reachable_from_outside(client: httpx.Client) -> None:
    """Else anyone could probe tokens, or the services' internal endpoints, directly."""
    token = _new_client_user(client)["access_token"]
    response = client.get("/internal/verify", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404
    assert _error_code(response) == "not_found"


def test_spoofed_identity_without_token_never_reaches_a_service(client: httpx.Client) -> None:
    """Else a client could claim to be any user (or admin) just by sending headers."""
    admin_id = str(uuid.uuid4())
    headers = {"X-User-Id": admin_id, "X-User-Role": "ADMIN", "X_User_Id": admin_id}
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 401
    # The gateway's own answer, not the service's: the request never got past auth.
    assert response.json()["error"]["message"] == "a valid access token is required"


def test_spoofed_identity_with_a_valid_token_is_overwritten(client: httpx.Client) -> None:
    """Else a client with any valid token could act as another user."""
    me = _new_client_user(client)
    other = str(uuid.uuid4())
    headers = {
        "Authorization": f"Bearer {me['access_token']}",
        "X-User-Id": other,
        "X-User-Role": "ADMIN",
        "X-User-Name": "root",
        "X_User_Id": other,
    }
    response = client.get("/api/auth/me", headers=headers)
    assert response.status_code == 200
    assert response.json() == me["user"]


def test_unknown_api_prefix_is_json_404(client: httpx.Client) -> None:
    """Else a typo in an API path answers with the SPA's HTML and a 200."""
    response = client.get("/api/x")
    assert response.status_code == 404
    assert _error_code(response) == "not_found"


def test_spa_placeholder_for_root_and_deep_links(client: httpx.Client) -> None:
    """Else the browser shows an error instead of the app on `/` or after a reload."""
    for path in ("/", "/some/deep/link"):
        response = client.get(path)
        assert response.status_code == 200
        assert "web app is not built yet" in response.text


def test_websocket_without_token_is_401(stack: RunningStack) -> None:
    """Else anyone could open a socket, whether or not the realtime service is running."""
    port = int(stack.url.rsplit(":", 1)[1])
    request = (
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 401"), answer


def test_websocket_with_token_reaches_realtime(client: httpx.Client, stack: RunningStack) -> None:
    """Else the web app's live updates cannot connect through the gateway."""
    token = _new_client_user(client)["access_token"]
    url = stack.url.replace("http://", "ws://") + f"/ws?token={token}"
    # As a browser would: with the page's own origin.
    with connect(url, origin=Origin(stack.url), open_timeout=30) as socket:
        socket.send(json.dumps({"type": "ping"}))
        while True:
            message = json.loads(socket.recv(timeout=30))
            if message["type"] == "pong":
                break


def test_request_id_round_trip(client: httpx.Client) -> None:
    """Else a user's report of a failed request cannot be found in the services' logs."""
    response = client.get("/api/auth/jwks.json", headers={"X-Request-Id": "stack-test-1"})
    assert response.status_code == 200
    assert response.headers.get_list("x-request-id") == ["stack-test-1"]


def test_second_stack_on_same_ports_is_refused(stack: RunningStack) -> None:
    """Else a second `ems up` fights the first one for its ports in a restart loop."""
    result = subprocess.run(
        [sys.executable, "-m", "ems.cli", "up", "--no-demo"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ports already in use" in result.stderr


def test_runner_restarts_a_killed_service(client: httpx.Client, stack: RunningStack) -> None:
    """Else a crashed service stays down until someone restarts the whole platform."""
    old = stack.child_pid("serve auth")
    assert old is not None
    os.kill(old, signal.SIGKILL)

    def restarted() -> int | None:
        pid = stack.child_pid("serve auth")
        return pid if pid not in (None, old) else None

    eventually_blocking(restarted, timeout=30, what="auth restarted")

    def healthy() -> bool:
        return client.get("/api/auth/jwks.json").status_code == 200

    eventually_blocking(healthy, timeout=60, what="auth answering through the gateway again")
    assert "auth-0" in stack.log.read_text() and "restarting in" in stack.log.read_text()
