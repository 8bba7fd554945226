"""Support and realtime together: chat messages and typing indicators travel from the
support service (through its outbox and ems.ws) and from sockets to exactly the right
people, over real WebSockets."""

from __future__ import annotations

from ems.common.messaging import Broker
from ems.contracts.ws import Audience
from tests.platform.auth import AuthServer, Login
from tests.platform.broker import publish_ws
from tests.platform.sockets import connected
from tests.realtime.messages import chat
from tests.support.conftest import Support


async def test_chat_messages_reach_exactly_their_recipients_live(
    support: Support, realtime: str, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, the admin inbox does not update live, a client sees another
    client's conversation, or a bot exchange is broadcast to admins."""
    alice, bob = await auth_server.client("alice"), await auth_server.client("bob")
    a = await connected(realtime, alice.access_token)
    b = await connected(realtime, bob.access_token)
    admin = await connected(realtime, admin_login.access_token)

    await support.http.post(
        "/api/support/messages",
        json={"text": "my meter is on fire", "mode": "admin"},
        headers=support.as_(alice),
    )
    await support.http.post(
        "/api/support/messages",
        json={"text": "how do I export csv", "mode": "bot"},
        headers=support.as_(bob),
    )
    await support.http.post(
        "/api/support/admin/reply",
        json={"user_id": str(alice.id), "text": "Calling the firefighters."},
        headers=support.as_(admin_login),
    )
    await a.wait_for("chat.message", text="Calling the firefighters.")
    await admin.wait_for("chat.message", text="Calling the firefighters.")
    await b.wait_for("chat.message", sender="bot")
    # A barrier to everyone, so that nothing is still in flight when we compare.
    barrier = chat(alice.id, "barrier")
    await publish_ws(support_broker(support), barrier, Audience(user_ids=[bob.id], admins=True))
    await b.wait_for("chat.message", text="barrier")
    await admin.wait_for("chat.message", text="barrier")

    def texts(sock: object) -> list[tuple[str, str]]:
        return [
            (m["sender"], m["text"])
            for m in sock.of_type("chat.message")  # type: ignore[attr-defined]
        ]

    assert texts(a) == [("user", "my meter is on fire"), ("admin", "Calling the firefighters.")]
    assert texts(b)[0] == ("user", "how do I export csv") and texts(b)[1][0] == "bot"
    assert texts(admin) == [
        ("user", "my meter is on fire"),
        ("admin", "Calling the firefighters."),
        ("admin", "barrier"),
    ]
    for m in a.of_type("chat.message"):
        assert m["user_id"] == str(alice.id)
    for sock in (a, b, admin):
        await sock.close()


def support_broker(support: Support) -> Broker:
    broker: Broker | None = support.app.state.runtime.broker
    assert broker is not None
    return broker


async def test_typing_is_relayed_to_the_other_side_and_rate_limited(
    support: Support, realtime: str, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, the typing indicator never shows, shows to the wrong client, or a
    client can flood every admin with typing events."""
    alice, bob = await auth_server.client("alice"), await auth_server.client("bob")
    a = await connected(realtime, alice.access_token)
    b = await connected(realtime, bob.access_token)
    admin = await connected(realtime, admin_login.access_token)

    await a.send({"type": "chat.typing", "typing": True})
    typing = await admin.wait_for("chat.typing", user_id=str(alice.id))
    assert typing["sender"] == "user" and typing["typing"] is True
    await admin.send({"type": "chat.typing", "typing": True, "user_id": str(alice.id)})
    to_alice = await a.wait_for("chat.typing", sender="admin")
    assert to_alice["user_id"] == str(alice.id)
    # Through the REST route (and the outbox) as well.
    response = await support.http.post(
        "/api/support/typing",
        json={"typing": False, "user_id": str(bob.id)},
        headers=support.as_(admin_login),
    )
    assert response.status_code == 204
    await b.wait_for("chat.typing", sender="admin", typing=False)

    for _ in range(30):
        await b.send({"type": "chat.typing", "typing": True})
    await b.send({"type": "ping"})
    await b.wait_for("pong")
    barrier = chat(bob.id, "barrier")
    await publish_ws(support_broker(support), barrier, Audience(admins=True))
    await admin.wait_for("chat.message", text="barrier")
    from_bob = [m for m in admin.of_type("chat.typing") if m["user_id"] == str(bob.id)]
    assert 1 <= len(from_bob) <= 6  # the burst, not 30
    assert not [m for m in a.of_type("chat.typing") if m["user_id"] == str(bob.id)]
    assert not [m for m in b.of_type("chat.typing") if m["sender"] == "user"]
    for sock in (a, b, admin):
        await sock.close()


async def test_admins_see_who_is_online(
    realtime: str, auth_server: AuthServer, admin_login: Login
) -> None:
    """If this fails, the admin inbox cannot show who is online."""
    admin = await connected(realtime, admin_login.access_token)
    snapshot = await admin.wait_for("presence.snapshot")
    assert any(u["user_id"] == str(admin_login.id) for u in snapshot["users"])
    client = await auth_server.client("online")
    sock = await connected(realtime, client.access_token)
    came = await admin.wait_for("presence.changed", user_id=str(client.id), online=True)
    assert came["username"] == client.username and came["role"] == "CLIENT"
    await sock.close()
    await admin.wait_for("presence.changed", user_id=str(client.id), online=False)
    await admin.close()
