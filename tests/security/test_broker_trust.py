"""The broker is not a trusted zone (issue 15): an ordinary broker login cannot forge another
service's events, and a message that does not come from the service that owns it changes
nothing and reaches nobody: it is dead-lettered as forged, and counted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import aio_pika
import pytest
from aiormq.exceptions import AMQPError
from prometheus_client import REGISTRY

from ems.common.messaging import EXCHANGE_SYNC, EXCHANGE_WS, REASON_HEADER
from ems.common.messaging.topology import DEVICES, METER, MONITORING, USERS
from ems.contracts.events import Envelope, UserUpdated
from ems.contracts.ws import Audience, ChatMessage, WsEnvelope
from tests.platform.broker import TestBroker, admin_url, take_all
from tests.platform.polling import eventually
from tests.platform.secure import SecurePlatform
from tests.platform.sockets import connected


def _forged_total(queue: str) -> float:
    value = REGISTRY.get_sample_value(
        "ems_messages_dead_lettered_total", {"queue": queue, "kind": "forged"}
    )
    return value or 0.0


async def _refused_by_the_broker(
    test_broker: TestBroker, amqp_url: str, identity: str, exchange: str, key: str, body: bytes
) -> None:
    """The login has no right to publish `key` on `exchange`: RabbitMQ refuses it."""
    client = test_broker.client(amqp_url, identity, f"forger-{identity}")
    await client.connect()
    try:
        with pytest.raises((AMQPError, ConnectionError, TimeoutError)):
            await client.publish(exchange, key, body, timeout=5.0)
    finally:
        await client.close()


async def _dead_letters(channel: aio_pika.abc.AbstractChannel, queue: str, body: bytes) -> str:
    """Waits for `body` in the dead-letter queue `queue`; returns its reason."""
    found: list[str] = []

    async def arrived() -> bool:
        for message in await take_all(channel, [queue]):
            if message.body == body:
                found.append(str(message.headers[REASON_HEADER]))
        return bool(found)

    await eventually(arrived, timeout=10)
    return found[0]


async def test_a_forged_user_update_makes_nobody_an_admin(
    secure_platform: SecurePlatform, test_broker: TestBroker
) -> None:
    """If this fails, anyone with a broker login (a meter's, a stolen service password with
    too wide permissions) promotes a client to ADMIN by publishing a `user.updated` with a
    high revision: the next login returns an admin token."""
    user, _ = await secure_platform.new_client()
    forged = (
        Envelope.wrap(
            UserUpdated(
                id=uuid.UUID(user["id"]), username=user["username"], role="ADMIN", revision=1000
            )
        )
        .model_dump_json()
        .encode()
    )
    url = secure_platform.amqp_url
    # Ordinary logins may not publish user events at all: the broker refuses them.
    for identity in (METER, DEVICES, MONITORING):
        await _refused_by_the_broker(
            test_broker, url, identity, EXCHANGE_SYNC, "user.updated", forged
        )

    # Nor can any login claim to be the users service: RabbitMQ checks user_id itself.
    connection = await aio_pika.connect(admin_url(url))
    channel = await connection.channel(publisher_confirms=True)
    with pytest.raises(aio_pika.exceptions.AMQPError):
        exchange = await channel.get_exchange(EXCHANGE_SYNC)
        await exchange.publish(
            aio_pika.Message(forged, user_id=test_broker.login(USERS)), "user.updated"
        )
    await connection.close()

    # A login that may write there (here the broker's administrator) is not the users
    # service: every consumer dead-letters its event as forged.
    before = {q: _forged_total(q) for q in ("auth.sync", "devices.sync", "support.sync")}
    connection = await aio_pika.connect(admin_url(url))
    channel = await connection.channel()
    exchange = await channel.get_exchange(EXCHANGE_SYNC)
    await exchange.publish(aio_pika.Message(forged), "user.updated")
    for queue in ("auth.sync", "devices.sync", "support.sync"):
        reason = await _dead_letters(channel, f"{queue}.dlq", forged)
        assert reason.startswith("forged:") and test_broker.login(USERS) in reason, reason
        assert _forged_total(queue) == before[queue] + 1
    await connection.close()

    login = await secure_platform.login(user["username"])
    assert login["user"]["role"] == "CLIENT"
    me = await secure_platform.gateway.get(
        "/api/users/me", headers={"Authorization": f"Bearer {login['access_token']}"}
    )
    assert me.json()["role"] == "CLIENT"
    admin_only = await secure_platform.gateway.get(
        "/api/users", headers={"Authorization": f"Bearer {login['access_token']}"}
    )
    assert admin_only.status_code == 403


async def test_a_forged_chat_message_never_reaches_a_socket(
    secure_platform: SecurePlatform, test_broker: TestBroker
) -> None:
    """If this fails, any broker login can put words in an admin's mouth: a `chat.message`
    it publishes on ems.ws shows up in a client's chat as a message from support."""
    user, token = await secure_platform.new_client()
    realtime = secure_platform.services["realtime"].url.removeprefix("http://")
    sock = await connected(realtime, token)
    asked = await secure_platform.gateway.post(
        "/api/support/messages",
        json={"text": "Is my account all right?", "mode": "admin"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert asked.status_code in (200, 201), asked.text
    await sock.wait_for("chat.message", text="Is my account all right?")
    forged = (
        WsEnvelope.wrap(
            ChatMessage(
                id=uuid.uuid4(),
                user_id=uuid.UUID(user["id"]),
                sender="admin",
                text="Your account is locked: send your password to reset it.",
                created_at=datetime.now(UTC),
            ),
            Audience(user_ids=[uuid.UUID(user["id"])]),
        )
        .model_dump_json()
        .encode()
    )
    url = secure_platform.amqp_url
    for identity in (METER, MONITORING, DEVICES):
        await _refused_by_the_broker(
            test_broker, url, identity, EXCHANGE_WS, "chat.message", forged
        )

    before = _forged_total("realtime")
    connection = await aio_pika.connect(admin_url(url))
    channel = await connection.channel()
    exchange = await channel.get_exchange(EXCHANGE_WS)
    await exchange.publish(aio_pika.Message(forged), "chat.message")
    reason = await _dead_letters(channel, "realtime.dlq", forged)
    assert reason.startswith("forged:"), reason
    assert _forged_total("realtime") == before + 1
    await connection.close()

    # A genuine reply from support, behind the forged one on the same queue.
    reply = await secure_platform.gateway.post(
        "/api/support/admin/reply",
        json={"user_id": user["id"], "text": "A real answer."},
        headers={"Authorization": f"Bearer {secure_platform.admin_token}"},
    )
    assert reply.status_code == 201, reply.text
    await sock.wait_for("chat.message", text="A real answer.")
    assert [m["text"] for m in sock.of_type("chat.message")] == [
        "Is my account all right?",
        "A real answer.",
    ]
    await sock.close()
