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
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import aiormq

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
