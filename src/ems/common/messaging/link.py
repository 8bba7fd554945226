"""One AMQP connection per process part, kept open until stopped.

`Link` connects (with a growing pause between attempts), runs every registered setup on
each new connection (channels, consumers), and watches the channels it opened: a channel
the broker closes (a refused operation, a protocol error) or a consumer the broker cancels
(its queue deleted) restarts the connection, so every consumer is set up again. A setup
that fails does the same. Channels opened with `on_lost` are the owner's to recover.

Built on aiormq directly: a consumer must know exactly which channel a delivery tag belongs
to (a tag from a dead channel must never be acked on its replacement), and the reading path
cannot afford a heavier client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import aiormq
from aiormq.abc import AbstractChannel, AbstractConnection

from ems.common.messaging.metrics import CHANNELS_LOST, count
from ems.common.tasks import Background

log = logging.getLogger(__name__)

Setup = Callable[[AbstractConnection], Awaitable[None]]
Lost = Callable[[AbstractChannel, BaseException | None], None]


class Link:
    def __init__(self, url: str, name: str, *, max_backoff: float = 5.0) -> None:
        self.url = url
        self.name = name
        self.max_backoff = max_backoff
        # The login every publish is stamped with (RabbitMQ checks it, consumers trust it).
        self.user = unquote(urlsplit(url).username or "guest")
        self.connection: AbstractConnection | None = None
        self.ready = asyncio.Event()
        self.connects = 0
        self.last_problem: str | None = None
        self.down_since: float | None = time.monotonic()
        self._setups: list[Setup] = []
        self._teardowns: list[Callable[[], None]] = []
        self._restart = asyncio.Event()
        self._deliberate: set[int] = set()
        self._task = Background(f"amqp-link {name}")

    def on_connect(self, setup: Setup, teardown: Callable[[], None] | None = None) -> None:
        """Run `setup` on every new connection (and `teardown` when it is lost)."""
        self._setups.append(setup)
        if teardown is not None:
            self._teardowns.append(teardown)

    def start(self) -> None:
        if not self._task.running():
            self._task.start(self._run())

    async def wait_ready(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self.ready.wait(), timeout)

    async def stop(self) -> None:
        await self._task.stop()
        await self._close()

    def is_connected(self) -> bool:
        return self.ready.is_set() and self.connection is not None and not self.connection.is_closed

    def restart(self, why: str) -> None:
        """Drop the connection and set everything up again on a new one."""
        if self.ready.is_set():
            log.warning("AMQP link restarting: %s", why, extra={"link": self.name})
            self.last_problem = why
        self._restart.set()

    async def channel(
        self, *, confirms: bool, prefetch: int | None = None, on_lost: Lost | None = None
    ) -> AbstractChannel:
        """A channel on the current connection, watched (see the module docstring)."""
        connection = self.connection
        if connection is None or connection.is_closed:
            raise ConnectionError("not connected")
        channel = await connection.channel(publisher_confirms=confirms)
        if prefetch is not None:
            await channel.basic_qos(prefetch_count=prefetch)

        def closed(future: asyncio.Future[Any]) -> None:
            if id(channel) in self._deliberate:
                self._deliberate.discard(id(channel))
                return
            if connection.is_closed or self.connection is not connection:
                return
            count(CHANNELS_LOST, self.name)
            exc = None if future.cancelled() else future.exception()
            if on_lost is not None:
                on_lost(channel, exc)
            else:
                self.restart(f"channel {channel.number} closed: {exc!r}"[:300])

        def cancelled(frame: Any) -> None:
            if on_lost is None:
                self.restart(f"consumer {frame.consumer_tag} cancelled by the broker")
            else:
                on_lost(channel, None)

        channel.closing.add_done_callback(closed)
        channel.on_consumer_cancel_callbacks.add(cancelled)
        return channel

    async def close_channel(self, channel: AbstractChannel) -> None:
        """Close a channel on purpose (not a loss)."""
        if channel.is_closed:
            return
        self._deliberate.add(id(channel))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(channel.close(), 5.0)

    async def _run(self) -> None:
        backoff = 0.2
        while True:
            self._restart.clear()
            try:
                self.connection = await aiormq.connect(
                    self.url, client_properties={"connection_name": self.name}
                )
                for setup in self._setups:
                    await setup(self.connection)
                self.connects += 1
                self.ready.set()
                self.down_since = None
                self.last_problem = None
                backoff = 0.2
                restart = asyncio.ensure_future(self._restart.wait())
                try:
                    await asyncio.wait(
                        [self.connection.closing, restart], return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    restart.cancel()
                if not self._restart.is_set():
                    self.last_problem = "connection lost"
                    log.warning("AMQP connection lost; reconnecting", extra={"link": self.name})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_problem = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "AMQP connection failed; retrying",
                    extra={"link": self.name, "error": self.last_problem},
                )
            self.ready.clear()
            if self.down_since is None:
                self.down_since = time.monotonic()
            for teardown in self._teardowns:
                teardown()
            await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 5.0)
