"""Who may open a socket, when it is closed, and what a bad frame does."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from ems.contracts.events import UserDeleted, UserUpdated
from ems.contracts.ws import Audience
from tests.platform.auth import AuthServer, Login
from tests.platform.broker import Senders, publish_event, publish_ws
from tests.platform.sockets import connected, open_socket
from tests.platform.tokens import forged_tokens, reissued
from tests.realtime.messages import chat


async def test_invalid_tokens_are_refused_with_4401(realtime: str, auth_server: AuthServer) -> None:
    """If this fails, a forged, tampered or expired token opens a socket that receives
    someone's alerts, or the web app cannot tell it must log the user out."""
    user = await auth_server.client()
    jwks = (await auth_server.http.get("/api/auth/jwks.json")).json()
    for name, token in forged_tokens(user.access_token, jwks, auth_server.signing_key()).items():
        sock = await open_socket(realtime, token)
        assert await sock.wait_closed() == 4401, name
        assert not sock.of_type("welcome"), name


async def test_a_socket_is_closed_with_4401_when_its_token_expires(
    realtime: str, auth_server: AuthServer
) -> None:
    """If this fails, a socket outlives its token and keeps receiving after logout."""
    user = await auth_server.client()
    short = reissued(user.access_token, auth_server.signing_key(), exp=int(time.time()) + 2)
    sock = await connected(realtime, short)
    assert sock.close_code is None
    assert await sock.wait_closed(timeout=10) == 4401
    assert "expired" in sock.close_reason


async def test_a_fresh_token_sent_in_band_keeps_the_socket_open(
    realtime: str, auth_server: AuthServer
) -> None:
    """If this fails, every socket drops at each token refresh; or a socket can be taken
    over with another user's token."""
    user, other = await auth_server.client(), await auth_server.client()
    short = reissued(user.access_token, auth_server.signing_key(), exp=int(time.time()) + 2)
    sock = await connected(realtime, short)
    await sock.send({"type": "auth", "token": user.access_token})
    await sock.wait_for("auth.ok")
    await sock.send({"type": "ping"})
    await sock.wait_for("pong")
    await sock.send({"type": "auth", "token": other.access_token})
    assert await sock.wait_closed() == 4401


async def test_the_token_may_come_in_the_first_message(
    realtime: str, auth_server: AuthServer
) -> None:
    """If this fails, clients that keep tokens out of URLs cannot connect, or a socket
    that never authenticates stays open."""
    user = await auth_server.client()
    sock = await open_socket(realtime, None)
    await sock.send({"type": "auth", "token": user.access_token})
    welcome = await sock.wait_for("welcome")
    assert welcome["user_id"] == str(user.id) and welcome["role"] == "CLIENT"
    await sock.close()

    silent = await open_socket(realtime, None)
    assert await silent.wait_closed(timeout=5) == 4401


async def test_a_deleted_users_sockets_close_with_4403_and_stay_closed(
    realtime: str, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, a deleted user keeps receiving live data until the token runs out."""
    user, bystander = await auth_server.client(), await auth_server.client()
    sock = await connected(realtime, user.access_token)
    other = await connected(realtime, bystander.access_token)
    await publish_event(senders, UserDeleted(id=user.id, revision=2))
    assert await sock.wait_closed() == 4403
    again = await open_socket(realtime, user.access_token)
    assert await again.wait_closed() == 4403
    await publish_ws(senders, chat(bystander.id, "unaffected"), Audience(user_ids=[bystander.id]))
    await other.wait_for("chat.message", text="unaffected")
    await other.close()


async def test_a_demoted_admin_is_closed_with_4401(
    realtime: str, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, an admin whose role was taken away keeps getting every admin's
    messages until the token expires."""
    admin_login = await auth_server.admin("demoted")
    sock = await connected(realtime, admin_login.access_token)
    same = UserUpdated(id=admin_login.id, username=admin_login.username, role="ADMIN", revision=5)
    await publish_event(senders, same)
    other = await auth_server.client()
    await publish_event(
        senders, UserUpdated(id=other.id, username=other.username, role="CLIENT", revision=2)
    )
    demoted = UserUpdated(
        id=admin_login.id, username=admin_login.username, role="CLIENT", revision=6
    )
    await publish_event(senders, demoted)
    assert await sock.wait_closed() == 4401


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", 4400),
        ('["a", "list"]', 4400),
        ('{"no": "type"}', 4400),
        (b"\x00\x01binary", 1003),
        ('{"type": "ping", "pad": "' + "x" * 5000 + '"}', 1009),
    ],
)
async def test_bad_frames_close_with_a_clear_code_and_the_service_goes_on(
    realtime: str, auth_server: AuthServer, frame: str | bytes, code: int
) -> None:
    """If this fails, a bad frame crashes the handler, leaves the socket in limbo, or a
    huge frame is buffered whole."""
    user = await auth_server.client()
    sock = await connected(realtime, user.access_token)
    await sock.send(frame)
    assert await sock.wait_closed() == code
    healthy = await connected(realtime, user.access_token)
    await healthy.send({"type": "ping"})
    await healthy.wait_for("pong")
    await healthy.send({"type": "what"})
    error = await healthy.wait_for("error")
    assert error["code"] == "unknown_type"
    await healthy.close()


async def test_only_allowed_origins_may_open_a_socket(
    realtime: str, auth_server: AuthServer
) -> None:
    """If this fails, any web page a user visits can open a socket with their token
    (cross-site WebSocket hijacking)."""
    user = await auth_server.client()
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(realtime, user.access_token, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    for origin in ("http://app.example", f"http://{realtime}"):
        sock = await open_socket(realtime, user.access_token, origin=origin)
        await sock.wait_for("welcome")
        await sock.close()


async def test_presence_route_is_for_admins_only(
    realtime: str, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, any client can list who is online."""
    client = await auth_server.client()
    async with httpx.AsyncClient(base_url=f"http://{realtime}") as http:
        denied = await http.get(
            "/api/realtime/presence",
            headers={"Authorization": f"Bearer {client.access_token}"},
        )
        assert denied.status_code == 403
        anonymous = await http.get("/api/realtime/presence")
        assert anonymous.status_code == 401
        # A spoofed identity header is not a token.
        spoofed = await http.get(
            "/api/realtime/presence",
            headers={"X-User-Id": str(uuid.uuid4()), "X-User-Role": "ADMIN"},
        )
        assert spoofed.status_code == 401
        allowed = await http.get(
            "/api/realtime/presence",
            headers={"Authorization": f"Bearer {admin_login.access_token}"},
        )
        assert allowed.status_code == 200
        assert {"items", "total", "page", "size"} <= allowed.json().keys()
