"""The one broker-admin helper of the tests: vhosts of their own, provisioned with the
platform's topology and this run's users (names unique per run), as `ems up` does."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aio_pika
from aio_pika.abc import AbstractQueue

from ems.common.messaging import EXCHANGE_SYNC, EXCHANGE_WS, Broker
from ems.common.messaging.credentials import ensure_passwords
from ems.common.messaging.definitions import broker_definitions
from ems.common.messaging.provision import BrokerTools
from ems.common.messaging.topology import IDENTITIES, publishers_of
from ems.contracts.events import Envelope, EventBody
from ems.contracts.ws import Audience, WsBody, WsEnvelope

AMQP_HOST = os.environ.get("EMS_TEST_AMQP_HOST", "127.0.0.1:5672")
TOOLS = BrokerTools()


class TestBroker:
    """This run's broker logins: a prefix and a password per identity."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, prefix: str, secrets: Path) -> None:
        self.prefix = prefix
        self.secrets = secrets
        self.passwords = ensure_passwords(secrets, IDENTITIES)

    def provision(self, vhost: str) -> None:
        """The vhost with the topology, this run's users' permissions, and guest as the
        tests' own inspector (it reads queues; it is nobody the services trust)."""
        TOOLS.ctl("add_vhost", vhost)
        TOOLS.import_definitions(broker_definitions(vhost, self.prefix, self.passwords))
        TOOLS.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def login(self, identity: str) -> str:
        return f"{self.prefix}{identity}"

    def url(self, vhost_url: str, identity: str) -> str:
        """An AMQP URL on the vhost of `vhost_url` logged in as `identity`."""
        host_and_vhost = vhost_url.split("@", 1)[-1].split("://", 1)[-1]
        user = quote(self.login(identity), safe="")
        password = quote(self.passwords[identity], safe="")
        return f"amqp://{user}:{password}@{host_and_vhost}"

    def client(self, vhost_url: str, identity: str, name: str = "test-client") -> Broker:
        """A broker client logged in as `identity` (publishes carry its user_id)."""
        return Broker(self.url(vhost_url, identity), name, user_prefix=self.prefix)

    def remove_users(self) -> None:
        TOOLS.delete_users(self.prefix)

    def stack_environment(self, vhost_url: str) -> dict[str, str]:
        """For `ems up` (or `ems serve`) in a child process: the vhost, and this run's
        logins, which `ems up` provisions on it as it would the developer's."""
        return {
            "EMS_AMQP_URL": vhost_url,
            "EMS_BROKER_USER_PREFIX": self.prefix,
            "EMS_BROKER_SECRETS_DIR": str(self.secrets),
        }


class Senders:
    """Clients logged in as each service of the platform, connected on first use: a test
    publishes each message as the service that owns its routing key, the only login its
    consumers accept it from."""

    def __init__(self, broker: TestBroker, vhost_url: str) -> None:
        self.broker = broker
        self.vhost_url = vhost_url
        self.clients: dict[str, Broker] = {}

    async def as_(self, identity: str) -> Broker:
        client = self.clients.get(identity)
        if client is None:
            client = self.broker.client(self.vhost_url, identity, f"test-{identity}")
            await client.connect()
            self.clients[identity] = client
        return client

    async def publish(self, exchange: str, routing_key: str, body: bytes, **options: Any) -> None:
        """Published (confirmed) as the (first) owner of `routing_key` on `exchange`."""
        owners = publishers_of(exchange, routing_key)
        assert owners, f"nobody publishes {routing_key!r} on {exchange}"
        await (await self.as_(owners[0])).publish(exchange, routing_key, body, **options)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        self.clients.clear()


class Publishes(Protocol):
    """`Senders` (as the owning service) or one `Broker` client."""

    async def publish(self, exchange: str, routing_key: str, body: bytes) -> Any: ...


async def publish_ws(senders: Publishes, body: WsBody, audience: Audience) -> None:
    """As the service that owns the message type would send it."""
    envelope = WsEnvelope.wrap(body, audience)
    await senders.publish(EXCHANGE_WS, envelope.type, envelope.model_dump_json().encode())


async def publish_event(senders: Senders, body: EventBody) -> Envelope:
    """As the service that owns the event would send it."""
    envelope = Envelope.wrap(body)
    await senders.publish(EXCHANGE_SYNC, envelope.type, envelope.model_dump_json().encode())
    return envelope


def guest_url(vhost: str) -> str:
    return f"amqp://guest:guest@{AMQP_HOST}/{quote(vhost, safe='')}"


def plain_url(vhost: str) -> str:
    """Where the vhost is, without a login (services add their own)."""
    return f"amqp://{AMQP_HOST}/{quote(vhost, safe='')}"


def vhost_name(run_id: str) -> str:
    return f"ems-test-{run_id}-{uuid.uuid4().hex[:6]}"


@asynccontextmanager
async def own_vhost(broker: TestBroker, run_id: str) -> AsyncIterator[str]:
    """A provisioned vhost of its own (its plain URL), deleted afterwards."""
    vhost = vhost_name(run_id)
    await asyncio.to_thread(broker.provision, vhost)
    try:
        yield plain_url(vhost)
    finally:
        await asyncio.to_thread(TOOLS.ctl, "delete_vhost", vhost)


@asynccontextmanager
async def probe(vhost_url: str, *bindings: tuple[str, str]) -> AsyncIterator[AbstractQueue]:
    """A queue of the tests' inspector on the vhost of `vhost_url`, bound (exchange,
    routing key) as given: it sees what the services publish. Gone afterwards."""
    connection = await aio_pika.connect(admin_url(vhost_url))
    try:
        queue = await (await connection.channel()).declare_queue(exclusive=True)
        for exchange, routing_key in bindings:
            await queue.bind(exchange, routing_key)
        yield queue
    finally:
        await connection.close()


async def take_all(
    channel: aio_pika.abc.AbstractChannel, names: list[str]
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message now in these queues, taken off them."""
    taken = []
    for name in names:
        queue = await channel.declare_queue(name, passive=True)
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            taken.append(message)
    return taken


def queue_stats(vhost_url: str) -> dict[str, tuple[int, int, int]]:
    """Each queue of the vhost: (messages ready, messages unacknowledged, consumers)."""
    out = TOOLS.ctl(
        "list_queues",
        "-p",
        vhost_of_url(vhost_url),
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "--no-table-headers",
    )
    stats = {}
    for line in out.splitlines():
        name, ready, unacked, consumers = line.split("\t")
        stats[name] = (int(ready), int(unacked), int(consumers))
    return stats


def vhost_of_url(url: str) -> str:
    from urllib.parse import unquote

    return unquote(url.rsplit("/", 1)[1])


def admin_url(url: str) -> str:
    """The guest (inspector) URL of the vhost of `url`."""
    return guest_url(vhost_of_url(url))
