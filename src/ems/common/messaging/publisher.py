"""Confirmed publishing.

`BatchPublisher` is the fast path: everything handed over in one turn of the event loop
leaves in a single socket write. aiormq's `basic_publish` takes a lock, a timeout scope, a
queue round trip and a socket write for every message, which dominates at tens of thousands
of messages a second. This builds the same frames and registers the same confirmation
futures that aiormq's reader resolves (and fails when the channel closes), but queues them
together. It relies on aiormq internals (`delivery_tag`, `confirmations`, `write_queue`,
`max_content_size`, `number`; pinned by tests/common/test_aiormq_internals.py) and must be
the only publisher on its channel.

`Publisher` keeps one such channel on a `Link` and stamps every message with the link's
login as `user_id` (RabbitMQ refuses a publish whose user_id is not the login, so
consumers can trust it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiormq.abc import AbstractChannel, AbstractConnection, ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from ems.common.messaging.link import Link

log = logging.getLogger(__name__)


class BatchPublisher:
    def __init__(self, channel: AbstractChannel) -> None:
        self.channel = channel
        self._frames: list[Any] = []
        self._scheduled = False
        self._backlog: list[Any] = []
        self._writer: asyncio.Task[None] | None = None
        # The confirmations of the messages in `_frames`.
        self._waiting: list[asyncio.Future[Any]] = []
        self._giving_up: asyncio.Future[Any] | None = None

    def publish(
        self,
        body: bytes,
        *,
        exchange: str,
        routing_key: str,
        properties: spec.Basic.Properties,
    ) -> asyncio.Future[Any]:
        """Queue one message; the future resolves on the broker's confirm (or fails)."""
        channel: Any = self.channel
        if channel.is_closed:
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(ChannelInvalidStateError(f"{channel!r} closed"))
            return failed
        channel.delivery_tag += 1
        confirmation: asyncio.Future[Any] = channel.create_future()
        channel.confirmations[channel.delivery_tag] = confirmation
        self._waiting.append(confirmation)
        self._frames.append(spec.Basic.Publish(exchange=exchange, routing_key=routing_key))
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
        size = self.channel.max_content_size  # type: ignore[attr-defined]
        self._frames.extend(ContentBody(body[i : i + size]) for i in range(0, len(body), size))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        frames, self._frames = self._frames, []
        waiting, self._waiting = self._waiting, []
        channel: Any = self.channel
        if not frames or channel.is_closed:
            return  # aiormq fails the confirmations of a closed channel
        try:
            payload = ChannelFrame.marshall(channel_number=channel.number, frames=frames)
        except Exception as exc:
            # Something in the batch cannot be encoded: none of it was sent, yet its delivery
            # tags were counted, so ours and the broker's no longer agree. Fail what waits
            # and give the channel up (its owner opens a new one).
            log.error("a batch of %d frames could not be encoded: %r", len(frames), exc)
            for confirmation in waiting:
                if not confirmation.done():
                    confirmation.set_exception(exc)
            self._giving_up = asyncio.ensure_future(channel.close())
            return
        if not self._backlog:
            try:
                channel.write_queue.put_nowait(payload)
                return
            except asyncio.QueueFull:
                pass
        # The connection's queue is full: keep the order behind what already waits.
        self._backlog.append(payload)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_backlog())

    async def _write_backlog(self) -> None:
        channel: Any = self.channel
        while self._backlog:
            if channel.is_closed:  # a frame for a closed channel would end the connection
                self._backlog.clear()
                return
            # Removed only once queued: until then, new flushes line up behind it.
            await channel.write_queue.put(self._backlog[0])
            self._backlog.pop(0)


def properties(
    user_id: str,
    *,
    message_id: str | None = None,
    headers: Mapping[str, Any] | None = None,
    persistent: bool = True,
    content_type: str | None = "application/json",
) -> spec.Basic.Properties:
    return spec.Basic.Properties(
        content_type=content_type,
        delivery_mode=2 if persistent else 1,
        message_id=message_id,
        headers=dict(headers) if headers else None,
        user_id=user_id,
    )


class Publisher:
    """Confirmed publishing on one channel of a link, set up again on every connection."""

    def __init__(self, link: Link, *, confirms: bool = True) -> None:
        self.link = link
        self.confirms = confirms
        self.batch: BatchPublisher | None = None
        link.on_connect(self._setup, self._teardown)

    async def _setup(self, _: AbstractConnection) -> None:
        self.batch = BatchPublisher(await self.link.channel(confirms=self.confirms))

    def _teardown(self) -> None:
        self.batch = None

    def send(
        self, exchange: str, routing_key: str, body: bytes, props: spec.Basic.Properties
    ) -> asyncio.Future[Any]:
        """Queue a message; the future resolves on its confirm."""
        if self.batch is None or not self.link.is_connected():
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(ConnectionError("broker not connected"))
            return failed
        return self.batch.publish(
            body, exchange=exchange, routing_key=routing_key, properties=props
        )

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        persistent: bool = True,
        timeout: float = 10.0,
    ) -> None:
        """Publish and wait for the broker's confirm (raises when it is not given)."""
        props = properties(
            self.link.user, message_id=message_id, headers=headers, persistent=persistent
        )
        # A refused message (a nack) fails the future with aiormq's DeliveryError.
        await asyncio.wait_for(self.send(exchange, routing_key, body, props), timeout)
