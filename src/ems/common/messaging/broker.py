"""A service's broker: one link, confirmed publishing, consumers under the one policy."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

from ems.common.messaging.consume import Consumer, Handler, Policy
from ems.common.messaging.credentials import connection_url, login_name
from ems.common.messaging.deadletters import DeadLetters
from ems.common.messaging.link import Link
from ems.common.messaging.publisher import Publisher, properties
from ems.common.messaging.topology import MAX_MESSAGE_BYTES, Queue, publishers_of, queue
from ems.common.settings import CommonSettings


class Broker:
    def __init__(
        self,
        url: str,
        name: str,
        *,
        user_prefix: str = "",
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        delivery_limit: int = 10,
    ) -> None:
        self.name = name
        self.user_prefix = user_prefix
        self.link = Link(url, name)
        self.publisher = Publisher(self.link)
        # Publish and wait for the broker's confirm (raises when it is not given).
        self.publish = self.publisher.publish
        self.dead_letters = DeadLetters(self.publisher)
        # Asked for every message consumed; the topology and the prefix never change.
        self.policy = Policy(max_message_bytes, delivery_limit, lru_cache(4096)(self.senders))
        self.consumers: list[Consumer] = []

    def senders(self, exchange: str, routing_key: str) -> frozenset[str]:
        """The logins whose messages under this routing key are genuine."""
        return frozenset(f"{self.user_prefix}{i}" for i in publishers_of(exchange, routing_key))

    async def connect(self, timeout: float | None = 30.0) -> None:
        self.link.start()
        await self.link.wait_ready(timeout)

    def is_connected(self) -> bool:
        return self.link.is_connected()

    def publish_nowait(self, exchange: str, routing_key: str, body: bytes) -> None:
        """Publish, not persistent, without waiting for the confirm: for messages the next
        one makes good if lost (heartbeats, assignments), whose pace must not follow the
        broker's confirm latency under load."""
        props = properties(self.link.user, persistent=False)
        sent = self.publisher.send(exchange, routing_key, body, props)
        sent.add_done_callback(_ignore_outcome)

    async def consume(
        self,
        queue_or_name: Queue | str,
        handler: Handler,
        *,
        prefetch: int = 50,
        instance_id: str = "",
    ) -> Consumer:
        """Consume a queue of the topology (declared as the table says) from now on, and
        again after every reconnect."""
        q = queue(queue_or_name) if isinstance(queue_or_name, str) else queue_or_name
        consumer = Consumer(
            self.link,
            q,
            handler,
            self.policy,
            self.dead_letters,
            prefetch=prefetch,
            instance_id=instance_id,
        )
        self.consumers.append(consumer)
        if self.link.is_connected() and self.link.connection is not None:
            await consumer._setup(self.link.connection)
        return consumer

    def problems(self) -> list[str]:
        """Why this broker cannot do its work now (empty when it can)."""
        if not self.link.is_connected():
            return [f"broker: not connected ({self.link.last_problem or 'connecting'})"]
        return [f"consumer of {c.name} is gone" for c in self.consumers if not c.active()]

    async def close(self) -> None:
        await self.link.stop()


def _ignore_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: a lost one is made good by the next


def broker_for(settings: CommonSettings, identity: str, name: str | None = None) -> Broker:
    """The broker of a process that logs in as `identity` (a service's name, or `meter`)."""
    return Broker(
        connection_url(settings, identity),
        name or f"{identity}-{settings.instance}",
        user_prefix=settings.broker_user_prefix,
        max_message_bytes=settings.broker_max_message_bytes,
        delivery_limit=settings.broker_delivery_limit,
    )


__all__ = ["Broker", "broker_for", "login_name"]
