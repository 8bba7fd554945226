"""Real WebSockets against a real realtime instance, real broker and real tokens:
each message reaches exactly the users it is for."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from ems.contracts.ws import Audience, ConsumptionUpdated
from tests.platform.auth import AuthServer, Login
from tests.platform.broker import Senders, publish_ws
from tests.platform.sockets import connected
from tests.realtime.messages import alert_for, chat


async def test_each_alert_and_chat_message_reaches_exactly_its_recipients(
    realtime: str, auth_server: AuthServer, admin_login: Login, senders: Senders
) -> None:
    """If this fails, a client sees another client's alerts or chat (the seeds' worst
    WebSocket bug), or an admin misses what the inbox needs."""
    alice, bob = await auth_server.client("alice"), await auth_server.client("bob")
    a = await connected(realtime, alice.access_token)
    b = await connected(realtime, bob.access_token)
    admin = await connected(realtime, admin_login.access_token)
    device_a, device_b = uuid.uuid4(), uuid.uuid4()

    await publish_ws(senders, alert_for(device_a), Audience(user_ids=[alice.id], admins=True))
    await publish_ws(senders, alert_for(device_b), Audience(user_ids=[bob.id], admins=True))
    await publish_ws(senders, chat(alice.id, "only for alice"), Audience(user_ids=[alice.id]))
    await publish_ws(senders, chat(bob.id, "hi admins", "user"), Audience(admins=True))
    update = ConsumptionUpdated(device_id=device_b, hour=datetime.now(UTC), kwh=1.0)
    await publish_ws(senders, update, Audience(user_ids=[bob.id]))
    # A last message to everyone: once it is in, everything before it has been delivered.
    barrier = chat(alice.id, "barrier")
    await publish_ws(senders, barrier, Audience(user_ids=[alice.id, bob.id], admins=True))
    for sock in (a, b, admin):
        await sock.wait_for("chat.message", text="barrier")

    def seen(sock: object) -> list[tuple[str, str]]:
        out = []
        for m in sock.received:  # type: ignore[attr-defined]
            if m["type"] == "notify.overconsumption":
                out.append((m["type"], m["device_id"]))
            elif m["type"] in ("chat.message", "consumption.updated"):
                out.append((m["type"], m.get("text", m.get("device_id"))))
        return out

    assert seen(a) == [
        ("notify.overconsumption", str(device_a)),
        ("chat.message", "only for alice"),
        ("chat.message", "barrier"),
    ]
    assert seen(b) == [
        ("notify.overconsumption", str(device_b)),
        ("consumption.updated", str(device_b)),
        ("chat.message", "barrier"),
    ]
    assert seen(admin) == [
        ("notify.overconsumption", str(device_a)),
        ("notify.overconsumption", str(device_b)),
        ("chat.message", "hi admins"),
        ("chat.message", "barrier"),
    ]
    alert = a.of_type("notify.overconsumption")[0]
    assert alert["kwh"] == 3.5 and alert["limit_kwh"] == 2.0 and alert["kind"] == "hourly"
    for sock in (a, b, admin):
        await sock.close()


async def test_every_socket_of_a_user_gets_the_message(
    realtime: str, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, a user with the app open on a phone and a laptop sees an alert on
    only one of them."""
    carol = await auth_server.client("carol")
    first, second = await asyncio.gather(
        connected(realtime, carol.access_token), connected(realtime, carol.access_token)
    )
    await publish_ws(senders, chat(carol.id, "both tabs"), Audience(user_ids=[carol.id]))
    for sock in (first, second):
        await sock.wait_for("chat.message", text="both tabs")
        await sock.close()


async def test_a_malformed_broker_message_does_not_stop_delivery(
    realtime: str, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, one bad message on ems.ws stops every live alert for everyone."""
    dave = await auth_server.client("dave")
    sock = await connected(realtime, dave.access_token)
    await senders.publish("ems.ws", "notify.overconsumption", b"{not json")
    await senders.publish("ems.ws", "chat.message", b'{"type": "chat.message"}')
    await publish_ws(senders, chat(dave.id, "still here"), Audience(user_ids=[dave.id]))
    await sock.wait_for("chat.message", text="still here")
    await sock.close()


async def test_a_client_that_reconnects_gets_what_it_missed(
    realtime: str, auth_server: AuthServer, senders: Senders
) -> None:
    """If this fails, an alert raised while the client's socket was reconnecting is only
    found later in the history, never shown live."""
    erin = await auth_server.client("erin")
    before = datetime.now(UTC)
    watcher = await connected(realtime, erin.access_token)
    device = uuid.uuid4()
    await publish_ws(senders, alert_for(device), Audience(user_ids=[erin.id]))
    await watcher.wait_for("notify.overconsumption", device_id=str(device))
    await watcher.close()  # the alert above was "missed" by the next socket

    back = await connected(realtime, erin.access_token)
    await back.send({"type": "resume", "since": before.isoformat()})
    done = await back.wait_for("resume.done")
    assert done["count"] == 1
    assert back.of_type("notify.overconsumption")[0]["device_id"] == str(device)
    await back.send({"type": "resume", "since": int(datetime.now(UTC).timestamp() * 1000)})
    await back.wait_for("resume.done", count=0)
    await back.send({"type": "resume", "since": "yesterday"})
    error = await back.wait_for("error")
    assert error["code"] == "bad_request"
    await back.close()
