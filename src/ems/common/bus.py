"""The message broker: robust connection, declared topology, confirmed publishing, and
consumers that never crash or block on a bad message.

Topology: three durable topic exchanges (`ems.data` readings, `ems.sync` user/device events,
`ems.ws` messages for connected users) and `ems.dlx`, where every consuming queue `Q` has a
dead-letter queue `Q.dlq` bound with routing key `Q`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

EXCHANGE_DATA = "ems.data"
EXCHANGE_SYNC = "ems.sync"
EXCHANGE_WS = "ems.ws"
EXCHANGE_DLX = "ems.dlx"
EXCHANGES = (EXCHANGE_DATA, EXCHANGE_SYNC, EXCHANGE_WS, EXCHANGE_DLX)

REASON_HEADER = "x-ems-reason"
ATTEMPTS_HEADER = "x-ems-attempts"

MESSAGES = Counter(
    "ems_messages_consumed_total", "Messages taken off a queue, by outcome", ["queue", "outcome"]
)
DEAD_LETTERED = Counter(
    "ems_messages_dead_lettered_total", "Messages moved to a dead-letter queue", ["queue"]
)


class PoisonMessage(Exception):
    """The message can never be processed (bad JSON, wrong shape, unknown type)."""


Handler = Callable[[AbstractIncomingMessage], Awaitable[None]]


def _is_transient(exc: BaseException) -> bool:
    """Errors that say a dependency is down, not that the message is bad: retry forever."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


class Broker:
    """One robust AMQP connection per process: a confirming channel for publishing and one
    channel per consumer, so a slow consumer never holds up publishers."""

    def __init__(self, url: str, name: str, max_attempts: int = 5) -> None:
        self.url = url
        self.name = name
        self.max_attempts = max_attempts
        self.connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._consumer_tasks: set[asyncio.Task[None]] = set()

    async def connect(self, timeout: float = 30.0) -> None:
        self.connection = await aio_pika.connect_robust(
            self.url,
            timeout=timeout,
            client_properties={"connection_name": self.name},
            # Come back quickly after a broker restart (the default waits 5 s).
            reconnect_interval=1,
        )
        self._channel = await self.connection.channel(publisher_confirms=True)
        await self.declare_exchanges(self._channel)

    async def declare_exchanges(self, channel: AbstractChannel) -> None:
        for name in EXCHANGES:
            self._exchanges[name] = await channel.declare_exchange(
                name, aio_pika.ExchangeType.TOPIC, durable=True
            )

    @property
    def channel(self) -> AbstractChannel:
        if self._channel is None:
            raise RuntimeError("broker is not connected")
        return self._channel

    def is_connected(self) -> bool:
        # `connected` is cleared while a robust connection is down and reconnecting.
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self.connection.connected.is_set()
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
        message = aio_pika.Message(
            body,
            content_type="application/json",
            message_id=message_id,
            headers=dict(headers or {}),
            delivery_mode=(
                aio_pika.DeliveryMode.PERSISTENT
                if persistent
                else aio_pika.DeliveryMode.NOT_PERSISTENT
            ),
        )
        # mandatory=False: an event nobody has bound a queue for yet is not an error.
        await self._exchanges[exchange].publish(
            message, routing_key, mandatory=False, timeout=timeout
        )

    async def declare_queue(
        self,
        name: str,
        bindings: Iterable[tuple[str, str]],
        channel: AbstractChannel | None = None,
        *,
        durable: bool = True,
        exclusive: bool = False,
    ) -> aio_pika.abc.AbstractQueue:
        """A queue with its bindings and its dead-letter queue `<name>.dlq`."""
        ch = channel or self.channel
        if durable:
            dlq = await ch.declare_queue(f"{name}.dlq", durable=True)
            await dlq.bind(EXCHANGE_DLX, routing_key=name)
        queue = await ch.declare_queue(
            name,
            durable=durable,
            exclusive=exclusive,
            auto_delete=not durable,
            arguments={"x-dead-letter-exchange": EXCHANGE_DLX, "x-dead-letter-routing-key": name},
        )
        for exchange, key in bindings:
            await queue.bind(exchange, routing_key=key)
        return queue

    async def consume(
        self,
        queue_name: str,
        bindings: Iterable[tuple[str, str]],
        handler: Handler,
        *,
        prefetch: int = 50,
        durable: bool = True,
    ) -> None:
        """Consume with `handler`; the message is acked when the handler returns.

        A poison message goes to the dead-letter queue with its reason; a dependency outage
        requeues it (after a pause) until the dependency is back; any other failure is retried
        up to `max_attempts` times, then dead-lettered.
        """
        assert self.connection is not None
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await self.declare_queue(queue_name, bindings, channel, durable=durable)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self.process(queue_name, message, handler)

        await queue.consume(on_message)

    async def process(
        self, queue_name: str, message: AbstractIncomingMessage, handler: Handler
    ) -> None:
        try:
            await handler(message)
        except (PoisonMessage, ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            await self.dead_letter(queue_name, message, _reason(exc))
        except Exception as exc:
            if _is_transient(exc):
                MESSAGES.labels(queue_name, "retried").inc()
                log.warning("dependency unavailable, will retry", extra={"queue": queue_name})
                await asyncio.sleep(1.0)
                await message.nack(requeue=True)
                return
            await self._retry_or_dead_letter(queue_name, message, exc)
        else:
            await message.ack()
            MESSAGES.labels(queue_name, "ok").inc()

    async def _retry_or_dead_letter(
        self, queue_name: str, message: AbstractIncomingMessage, exc: Exception
    ) -> None:
        previous = (message.headers or {}).get(ATTEMPTS_HEADER, 0)
        attempts = (previous if isinstance(previous, int) else 0) + 1
        if attempts >= self.max_attempts:
            log.exception("giving up on message", exc_info=exc, extra={"queue": queue_name})
            await self.dead_letter(queue_name, message, f"failed {attempts} times: {_reason(exc)}")
            return
        log.warning("handler failed, retrying", extra={"queue": queue_name, "attempt": attempts})
        headers = dict(message.headers or {})
        headers[ATTEMPTS_HEADER] = attempts
        # Straight back to the same queue through the default exchange, counted.
        await self.channel.default_exchange.publish(
            aio_pika.Message(
                message.body,
                headers=headers,
                content_type=message.content_type,
                message_id=message.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=queue_name,
        )
        await message.ack()
        MESSAGES.labels(queue_name, "retried").inc()

    async def dead_letter(
        self, queue_name: str, message: AbstractIncomingMessage, reason: str
    ) -> None:
        """Move a message to `<queue>.dlq` with the reason in its headers."""
        headers = dict(message.headers or {})
        headers[REASON_HEADER] = reason[:1000]
        headers["x-ems-original-exchange"] = message.exchange or ""
        headers["x-ems-original-routing-key"] = message.routing_key or ""
        await self.publish(
            EXCHANGE_DLX, queue_name, message.body, message_id=message.message_id, headers=headers
        )
        await message.ack()
        DEAD_LETTERED.labels(queue_name).inc()
        MESSAGES.labels(queue_name, "dead_lettered").inc()
        log.warning("message dead-lettered", extra={"queue": queue_name, "reason": reason[:200]})

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"invalid message: {errors}"
    return f"{type(exc).__name__}: {exc}"
