"""A plain aiormq connection for the high-volume reading path.

The robust aio-pika `Broker` suits events and commands. Readings pass through the balancer
and the monitoring replicas tens of thousands a second, where aio-pika's per-message objects
cost too much, and where a consumer must know exactly which channel a delivery tag belongs
to (a tag from a dead channel must never be acked on its replacement). `AmqpLink` keeps one
aiormq connection open, reconnects with a growing pause, and calls `on_connect` on every new
connection so the owner sets its channels and consumers up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiormq
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from ems.common.bus import EXCHANGE_DLX, EXCHANGES

log = logging.getLogger(__name__)

OnConnect = Callable[[Any], Awaitable[None]]
OnDisconnect = Callable[[], None]


class AmqpLink:
    """One aiormq connection, kept open until `stop`."""

    def __init__(
        self,
        url: str,
        name: str,
        on_connect: OnConnect,
        on_disconnect: OnDisconnect | None = None,
        *,
        max_backoff: float = 5.0,
    ) -> None:
        self.url = url
        self.name = name
        self.on_connect = on_connect
        self.on_disconnect = on_disconnect
        self.max_backoff = max_backoff
        self.connection: Any = None
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"amqp-link {self.name}")

    def is_connected(self) -> bool:
        return self.ready.is_set() and self.connection is not None and not self.connection.is_closed

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                self.connection = await aiormq.connect(
                    self.url, client_properties={"connection_name": self.name}
                )
                await self.on_connect(self.connection)
                self.ready.set()
                backoff = 0.5
                await asyncio.wait([self.connection.closing])
                log.warning("AMQP connection lost; reconnecting", extra={"link": self.name})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "AMQP connection failed; retrying",
                    extra={"link": self.name, "error": repr(exc)[:300]},
                )
            self.ready.clear()
            if self.on_disconnect is not None:
                self.on_disconnect()
            await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5.0)


async def declare_exchanges(channel: Any) -> None:
    """The platform's durable topic exchanges (as `Broker.declare_exchanges` declares them)."""
    for name in EXCHANGES:
        await channel.exchange_declare(name, exchange_type="topic", durable=True)


async def declare_queue_with_dlq(
    channel: Any, name: str, bindings: Iterable[tuple[str, str]] = ()
) -> Any:
    """A durable queue and its dead-letter queue, with exactly the arguments
    `Broker.declare_queue` uses (a mismatch would make the broker refuse the declare)."""
    await channel.queue_declare(f"{name}.dlq", durable=True)
    await channel.queue_bind(f"{name}.dlq", EXCHANGE_DLX, routing_key=name)
    declared = await channel.queue_declare(
        name,
        durable=True,
        arguments={"x-dead-letter-exchange": EXCHANGE_DLX, "x-dead-letter-routing-key": name},
    )
    for exchange, key in bindings:
        await channel.queue_bind(name, exchange, routing_key=key)
    return declared


class BatchPublisher:
    """Publishes on one aiormq channel; everything handed over in one turn of the event loop
    leaves in a single socket write.

    aiormq's `basic_publish` takes a lock, a timeout scope, a queue round trip and a socket
    write for every message, which dominates at tens of thousands of messages a second. This
    builds the same frames and registers the same confirmation futures that aiormq's reader
    resolves (and fails when the channel closes), but queues them together. It relies on
    aiormq internals (`delivery_tag`, `confirmations`, `write_queue`) and must be the only
    publisher on its channel.
    """

    def __init__(self, channel: Any) -> None:
        self.channel = channel
        self._frames: list[Any] = []
        self._scheduled = False
        self._backlog: list[Any] = []
        self._writer: asyncio.Task[None] | None = None

    def publish(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: spec.Basic.Properties,
        mandatory: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue one message; the future resolves on the broker's confirm (or fails)."""
        channel = self.channel
        if channel.is_closed:
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(ChannelInvalidStateError(f"{channel!r} closed"))
            return failed
        channel.delivery_tag += 1
        tag = channel.delivery_tag
        confirmation: asyncio.Future[Any] = channel.create_future()
        channel.confirmations[tag] = confirmation
        if mandatory:
            # A returned message is matched to its publish by message id.
            if not properties.message_id:
                properties.message_id = uuid.uuid4().hex
            message_id = properties.message_id
            channel.message_id_delivery_tag[message_id] = tag
            confirmation.add_done_callback(lambda _: _forget(channel, message_id, tag))
        self._frames.append(
            spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory)
        )
        self._add_content(body, properties)
        return confirmation

    def publish_unconfirmed(
        self, body: bytes, *, exchange: str, routing_key: str, properties: spec.Basic.Properties
    ) -> None:
        """Queue one message on a channel without confirms (nothing to wait for)."""
        if self.channel.is_closed:
            raise ChannelInvalidStateError(f"{self.channel!r} closed")
        self._frames.append(spec.Basic.Publish(exchange=exchange, routing_key=routing_key))
        self._add_content(body, properties)

    def _add_content(self, body: bytes, properties: spec.Basic.Properties) -> None:
        self._frames.append(ContentHeader(properties=properties, body_size=len(body)))
        size = self.channel.max_content_size
        self._frames.extend(ContentBody(body[i : i + size]) for i in range(0, len(body), size))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        frames, self._frames = self._frames, []
        if not frames or self.channel.is_closed:
            return
        payload = ChannelFrame.marshall(channel_number=self.channel.number, frames=frames)
        if not self._backlog:
            try:
                self.channel.write_queue.put_nowait(payload)
                return
            except asyncio.QueueFull:
                pass
        # The connection's queue is full: keep the order behind what already waits.
        self._backlog.append(payload)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_backlog())

    async def _write_backlog(self) -> None:
        while self._backlog:
            # Removed only once queued: until then, new flushes line up behind it.
            await self.channel.write_queue.put(self._backlog[0])
            self._backlog.pop(0)


def _forget(channel: Any, message_id: str, tag: int) -> None:
    if channel.message_id_delivery_tag.get(message_id) == tag:
        channel.message_id_delivery_tag.pop(message_id, None)
