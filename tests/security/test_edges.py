"""Attacks on the edges of the platform through the real gateway: identity headers a client
writes itself, WebSocket handshakes with bad tokens, password guessing, and secrets leaking
into logs."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets

from tests.platform.identity import PASSWORD
from tests.platform.polling import eventually
from tests.platform.secure import ACCOUNT_LIMIT, ADDRESS_LIMIT, WINDOW_SECONDS, SecurePlatform
from tests.platform.tokens import forged_tokens

SPOOFED = {
    "X-User-Id": str(uuid.uuid4()),
    "X-User-Role": "ADMIN",
    "X-User-Name": "root",
}


async def test_identity_headers_a_client_sends_are_never_believed(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, a client becomes an admin (or someone else) by sending X-User-*
    headers, in any spelling, through the gateway or straight at a service."""
    _, token = await secure_platform.new_client()
    spellings = [
        SPOOFED,
        {k.replace("-", "_"): v for k, v in SPOOFED.items()},
        {k.lower(): v for k, v in SPOOFED.items()},
    ]
    targets = [
        ("users", "GET", "/api/users"),
        ("devices", "POST", "/api/devices"),
        ("realtime", "GET", "/api/realtime/presence"),
        ("support", "GET", "/api/support/conversations"),
    ]
    failures = []
    for service, method, path in targets:
        for headers in spellings:
            for client in (secure_platform.gateway, secure_platform.direct(service)):
                anonymous = await client.request(method, path, headers=headers, json={})
                as_client = await client.request(
                    method,
                    path,
                    json={},
                    headers={**headers, "Authorization": f"Bearer {token}"},
                )
                if (anonymous.status_code, as_client.status_code) != (401, 403):
                    failures.append(
                        (
                            path,
                            str(client.base_url),
                            next(iter(headers)),
                            anonymous.status_code,
                            as_client.status_code,
                        )
                    )
    assert failures == []
    # Who the services think the caller is comes from the token alone.
    me = await secure_platform.gateway.get(
        "/api/auth/me", headers={**SPOOFED, "Authorization": f"Bearer {token}"}
    )
    assert me.status_code == 200 and me.json()["role"] == "CLIENT"


async def test_websockets_open_only_with_a_valid_token(secure_platform: SecurePlatform) -> None:
    """If this fails, anyone (no token, an expired, tampered or self-signed one) opens a
    socket and receives other users' alerts and chat."""
    _, token = await secure_platform.new_client()
    jwks = (await secure_platform.gateway.get("/api/auth/jwks.json")).json()
    base = secure_platform.gateway_url.replace("http://", "ws://") + "/ws"
    refused = []
    for label, bad in {
        "none": "",
        **forged_tokens(token, jwks, secure_platform.signing_key()),
    }.items():
        url = f"{base}?token={bad}" if bad else base
        try:
            async with websockets.connect(url, open_timeout=5) as socket:
                # Opened: the service must close it at once with a 44xx code.
                try:
                    await asyncio.wait_for(socket.recv(), 5)
                except websockets.ConnectionClosed as closed:
                    if closed.rcvd is not None and 4400 <= closed.rcvd.code < 4500:
                        continue
                refused.append(label)
        except websockets.InvalidStatus as exc:
            if exc.response.status_code != 401:
                refused.append(f"{label}: {exc.response.status_code}")
    assert refused == [], f"opened or wrongly refused: {refused}"
    async with websockets.connect(f"{base}?token={token}", open_timeout=5) as socket:
        await socket.ping()


async def test_password_guessing_is_throttled_per_account_and_per_address(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, an attacker can try passwords without limit, or escape the limits
    per (account, address) and per address by writing their own X-Forwarded-For (the
    gateway must overwrite it)."""
    gateway = secure_platform.gateway
    victim = f"victim{uuid.uuid4().hex[:6]}"
    created = await gateway.post(
        "/api/auth/register", json={"username": victim, "password": PASSWORD}
    )
    assert created.status_code == 201
    # The throttle counts time: a whole window gone is a clean slate (the behaviour tested).
    await asyncio.sleep(WINDOW_SECONDS)

    statuses = []
    for attempt in range(ACCOUNT_LIMIT + 1):
        response = await gateway.post(
            "/api/auth/login",
            json={"username": victim, "password": f"guess-{attempt}"},
            headers={"X-Forwarded-For": f"203.0.113.{attempt}"},
        )
        statuses.append(response.status_code)
    assert statuses[:ACCOUNT_LIMIT] == [401] * ACCOUNT_LIMIT
    assert statuses[-1] == 429
    # Even the right password from this address waits, and is told how long.
    right = await gateway.post("/api/auth/login", json={"username": victim, "password": PASSWORD})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1

    # Spraying many accounts from one address, each request claiming another address.
    await asyncio.sleep(WINDOW_SECONDS)  # a clean window again, as above
    spray = []
    # Twice the limit: the allowance refills steadily while the requests are made.
    for attempt in range(2 * ADDRESS_LIMIT):
        response = await gateway.post(
            "/api/auth/login",
            json={"username": f"nobody{uuid.uuid4().hex[:6]}", "password": "guess"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
        )
        spray.append(response.status_code)
    assert 429 in spray, spray
    # The window refills: the address is usable again (and so for other tests).
    await asyncio.sleep(WINDOW_SECONDS)
    assert (await secure_platform.login(victim))["access_token"]


async def test_no_password_or_token_ever_reaches_a_log(secure_platform: SecurePlatform) -> None:
    """If this fails, a password, an access or refresh token (from a header, a body or a
    WebSocket's ?token=) is written to a service's log or the gateway's access log, where
    anyone with log access could replay it."""
    # Traffic that carries secrets in every place they travel, failures included.
    sockets_logged = secure_platform.access_log().count(" /ws ")
    user, token = await secure_platform.new_client()
    gateway = secure_platform.gateway
    await gateway.post("/api/auth/login", json={"username": "ghost", "password": PASSWORD + "x"})
    secure_platform.secrets.add(PASSWORD + "x")
    await gateway.post("/api/auth/register", json={"username": "x", "password": "short"})
    refresh = next(s for s in secure_platform.secrets if s.count(".") != 2 and len(s) > 30)
    await gateway.post("/api/auth/refresh", json={"refresh_token": refresh + "tampered"})
    await gateway.get("/api/users/me", headers={"Authorization": f"Bearer {token}x"})
    base = secure_platform.gateway_url.replace("http://", "ws://")
    async with websockets.connect(f"{base}/ws?token={token}", open_timeout=5) as socket:
        await socket.ping()
    with pytest.raises(websockets.InvalidStatus):
        async with websockets.connect(f"{base}/ws?token={token}broken", open_timeout=5):
            pass
    # nginx flushes its access log every second: wait for both sockets' lines.
    await eventually(
        lambda: secure_platform.access_log().count(" /ws ") >= sockets_logged + 2,
        timeout=10,
        what="the gateway logging both sockets",
    )

    logs = "\n".join(secure_platform.logs.lines)
    logs += "\n" + secure_platform.access_log()
    assert secure_platform.logs.lines, "no service log was captured"
    assert secure_platform.access_log(), "the gateway wrote no access log"
    leaked = sorted(
        {secret[:12] + "…" for secret in secure_platform.secrets if secret and secret in logs}
    )
    where = [
        _redacted(line, secure_platform.secrets)[:300]
        for line in logs.splitlines()
        if any(secret and secret in line for secret in secure_platform.secrets)
    ]
    assert leaked == [], f"secrets in the logs: {leaked}: {where[:3]}"
    # Nor in a form that is easy to miss: the JWT's signature part alone.
    signatures = [s.rsplit(".", 1)[1] for s in secure_platform.secrets if s.count(".") == 2]
    assert not [sig for sig in signatures if len(sig) > 20 and sig in logs]
    assert user["username"]  # the username may appear; it is not a secret
    json.dumps(secure_platform.logs.lines[:1])


def _redacted(line: str, secrets: set[str]) -> str:
    for secret in secrets:
        if secret:
            line = line.replace(secret, "<SECRET>")
    return line


async def test_websocket_handshake_lines_do_not_carry_the_token(
    secure_platform: SecurePlatform,
) -> None:
    """If this fails, every socket's access token is written to the realtime log."""
    _, token = await secure_platform.new_client()
    base = secure_platform.gateway_url.replace("http://", "ws://")
    async with websockets.connect(f"{base}/ws?token={token}", open_timeout=5) as socket:
        await socket.ping()
    assert not [line for line in secure_platform.logs.lines if token in line]
