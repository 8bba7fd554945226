"""The one consume policy: no message can stall a consumer, none is trusted on its word.

For every delivery, in order:
1. a body over the size limit is dead-lettered unread;
2. on `ems.sync`, `ems.ws` and `ems.control` the sender must be the service that owns the
   routing key (the AMQP `user_id`, which RabbitMQ checks against the login): anything else
   is dead-lettered as forged;
3. a redelivered message is counted: republished to `ems.retry` under its queue's name
   with the count in a header (the original acked after the confirm), and dead-lettered
   once it reaches the delivery limit, so a message that kills its consumer cannot come
   back forever;
4. the handler runs: a message it cannot decode or validate is dead-lettered with the
   reason; a dependency outage (database, network) is waited out, the message held; any
   other failure is retried a few times in place, then dead-lettered.
Only then is the message acked. Counting never raises.

A consumer handles its queue's messages one at a time, in delivery order (aiormq hands each
delivery to a task of its own): a chat reads in the order it was written, and a message
published after another is never applied before it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from aiormq.abc import AbstractChannel, AbstractConnection, DeliveredMessage
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from ems.common.messaging.link import Link
from ems.common.messaging.metrics import CONSUMED, count
from ems.common.messaging.topology import EXCHANGE_RETRY, Queue

log = logging.getLogger(__name__)

REASON_HEADER = "x-ems-reason"
DELIVERIES_HEADER = "x-ems-deliveries"
ORIGINAL_EXCHANGE_HEADER = "x-ems-original-exchange"
ORIGINAL_ROUTING_KEY_HEADER = "x-ems-original-routing-key"
ORIGINAL_USER_HEADER = "x-ems-original-user-id"
# Exchanges whose messages are accepted only from the owner of their routing key.
TRUSTED_EXCHANGES = frozenset({"ems.sync", "ems.ws", "ems.control"})


class Refused(Exception):
    """The message can never be processed (bad JSON, wrong shape, unknown type)."""


# Kept for the handlers' vocabulary: a poison message is a refused one.
PoisonMessage = Refused


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message as delivered, with where it first came from (a counted redelivery comes
    back through ems.retry, with its origin in headers written by this very consumer)."""

    body: bytes
    exchange: str
    routing_key: str
    user_id: str | None
    headers: dict[str, Any]
    message_id: str | None
    content_type: str | None
    redelivered: bool
    channel: AbstractChannel
    delivery_tag: int
    # The queue it was taken from.
    queue: str = ""

    @classmethod
    def of(cls, message: DeliveredMessage, queue: str = "") -> Delivery:
        props = message.header.properties
        headers = dict(props.headers or {})
        exchange = message.exchange or ""
        routing_key = message.routing_key or ""
        user_id = props.user_id
        if exchange == EXCHANGE_RETRY:
            exchange = _text(headers.get(ORIGINAL_EXCHANGE_HEADER))
            routing_key = _text(headers.get(ORIGINAL_ROUTING_KEY_HEADER))
            user_id = _text(headers.get(ORIGINAL_USER_HEADER)) or None
        return cls(
            body=message.body,
            exchange=exchange,
            routing_key=routing_key,
            user_id=user_id,
            headers=headers,
            message_id=props.message_id,
            content_type=props.content_type,
            redelivered=bool(getattr(message.delivery, "redelivered", False)),
            channel=message.channel,
            delivery_tag=int(getattr(message.delivery, "delivery_tag", 0) or 0),
            queue=queue,
        )

    def deliveries(self) -> int:
        """How many times it was delivered before this one without being settled."""
        value = self.headers.get(DELIVERIES_HEADER, 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    def origin_headers(self) -> dict[str, Any]:
        return {
            ORIGINAL_EXCHANGE_HEADER: self.exchange,
            ORIGINAL_ROUTING_KEY_HEADER: self.routing_key,
            ORIGINAL_USER_HEADER: self.user_id or "",
        }


def require_routed_type(message_type: str, delivery: Delivery, kind: str = "event") -> None:
    """Refuse a message whose type is not its routing key: the sender was checked by the
    routing key (`Gate.check_sender`), so the type it names must be the same."""
    if message_type != delivery.routing_key:
        raise Refused(f"{kind} type {message_type!r} sent as {delivery.routing_key!r}")


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value if isinstance(value, str) else ""


Handler = Callable[[Delivery], Awaitable[None]]
# The logins that may have sent a routing key on an exchange (empty: nobody may).
Senders = Callable[[str, str], frozenset[str]]


def is_transient(exc: BaseException) -> bool:
    """A dependency is down (retry until it is back), not a bad message."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror, httpx.TransportError)):
        return True
    return isinstance(
        exc,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.CannotConnectNowError,
            asyncpg.TooManyConnectionsError,
            asyncpg.OperatorInterventionError,
            asyncpg.DeadlockDetectedError,
            asyncpg.SerializationError,
            asyncpg.LockNotAvailableError,
        ),
    )


def is_refusal(exc: BaseException) -> bool:
    """Failures that say the message itself is bad: never worth another try. The database
    refusing a value as invalid input (a NUL in a text, a number out of range) is one."""
    if isinstance(exc, (Refused, ValueError, RecursionError, OverflowError, DataError)):
        return True
    return isinstance(exc, asyncpg.DataError)


def describe(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return f"invalid message: {errors}"
    if isinstance(exc, Refused):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"[:1000]


@dataclass(frozen=True)
class Policy:
    """The limits of one consumer."""

    max_bytes: int
    delivery_limit: int
    senders: Senders
    max_attempts: int = 3
    retry_pause: float = 0.5


class Gate:
    """Steps 1-3 of the module docstring, shared by the per-message consumer and ingest."""

    def __init__(self, dead_letter_key: str, policy: Policy, outbox: Any) -> None:
        self.dead_letter_key = dead_letter_key
        self.policy = policy
        self.outbox = outbox

    def check_size(self, delivery: Delivery) -> str | None:
        if len(delivery.body) > self.policy.max_bytes:
            size, limit = len(delivery.body), self.policy.max_bytes
            return f"message of {size} bytes is over the {limit}-byte limit"
        return None

    def check_sender(self, delivery: Delivery) -> str | None:
        if delivery.exchange not in TRUSTED_EXCHANGES:
            return None
        allowed = self.policy.senders(delivery.exchange, delivery.routing_key)
        if not allowed:
            return f"forged: nobody may publish {delivery.routing_key!r} on {delivery.exchange}"
        if delivery.user_id not in allowed:
            return (
                f"forged: {delivery.routing_key!r} on {delivery.exchange} must come from "
                f"{' or '.join(sorted(allowed))}, came from "
                f"{delivery.user_id or 'an unnamed sender'!r}"
            )
        return None

    async def count_redelivery(self, delivery: Delivery) -> bool:
        """True when the redelivered message was republished (counted) or dead-lettered."""
        if not delivery.redelivered:
            return False
        await self.recount([delivery])
        return True

    async def recount(self, deliveries: Sequence[Delivery], *, ack: bool = True) -> None:
        """Redelivered messages go round once more, republished to `ems.retry` under the
        queue they came from with their count, or to the dead letters at the delivery limit.
        With `ack` False the caller acks the originals (ingest, with its batch)."""
        over = []
        for delivery in deliveries:
            seen = delivery.deliveries() + 1
            if seen >= self.policy.delivery_limit:
                over.append((delivery, f"delivered {seen + 1} times without being settled"))
                continue
            headers = {**delivery.headers, **delivery.origin_headers(), DELIVERIES_HEADER: seen}
            await self.outbox.republish(delivery, EXCHANGE_RETRY, delivery.queue, headers, ack=ack)
        if over:
            await self.outbox.dead_letter(over, self.dead_letter_key, "delivery_limit", ack=ack)

    async def admit(self, delivery: Delivery) -> bool:
        """False when the gate settled the message itself (dead letter or recount)."""
        for check, kind in ((self.check_size, "too_large"), (self.check_sender, "forged")):
            reason = check(delivery)
            if reason is not None:
                await self.outbox.dead_letter([(delivery, reason)], self.dead_letter_key, kind)
                return False
        return not await self.count_redelivery(delivery)


async def settle(delivery: Delivery, *, multiple: bool = False) -> None:
    """Ack; on a closed channel the broker has requeued it already (it comes back counted)."""
    if delivery.channel.is_closed:
        return
    try:
        await delivery.channel.basic_ack(delivery.delivery_tag, multiple=multiple, wait=False)
    except Exception as exc:
        log.info("ack not sent: %r", exc)


class Consumer:
    """One queue consumed message by message under the policy; set up again with its link."""

    def __init__(
        self,
        link: Link,
        queue: Queue,
        handler: Handler,
        policy: Policy,
        outbox: Any,
        *,
        prefetch: int = 50,
        instance_id: str = "",
    ) -> None:
        self.link = link
        self.queue = queue
        self.name = queue.named(instance_id)
        self.instance_id = instance_id
        self.handler = handler
        self.policy = policy
        self.prefetch = prefetch
        self.outbox = outbox
        self.gate = Gate(queue.dead_letter_key or self.name, policy, outbox)
        self.channel: AbstractChannel | None = None
        # One message at a time: waiters get the lock in the order they asked, which is
        # the order of delivery.
        self._turn = asyncio.Lock()
        link.on_connect(self._setup, self._teardown)

    def active(self) -> bool:
        channel: Any = self.channel
        return channel is not None and not channel.is_closed and bool(channel.consumers)

    async def _setup(self, connection: AbstractConnection) -> None:
        channel = await self.link.channel(confirms=False, prefetch=self.prefetch)
        await declare_queue(channel, self.queue, self.instance_id)
        await channel.basic_consume(self.name, self._on_message)
        self.channel = channel

    def _teardown(self) -> None:
        self.channel = None

    async def _on_message(self, message: DeliveredMessage) -> None:
        delivery = Delivery.of(message, self.name)
        async with self._turn:
            if delivery.channel.is_closed:
                return  # the broker has put it back: it comes again, counted
            await self._settle(delivery)

    async def _settle(self, delivery: Delivery) -> None:
        try:
            if await self.gate.admit(delivery):
                await self._handle(delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Dead-lettering or recounting failed: the broker is in trouble. Start over; the
            # message comes back (counted) on the new connection.
            count(CONSUMED, self.name, "broker_error")
            self.link.restart(f"could not settle a message of {self.name}: {exc!r}"[:300])

    async def _handle(self, delivery: Delivery) -> None:
        attempts = 0
        pause = self.policy.retry_pause
        while True:
            try:
                await self.handler(delivery)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_refusal(exc):
                    await self.outbox.dead_letter(
                        [(delivery, describe(exc))], self.gate.dead_letter_key, "invalid"
                    )
                    return
                if delivery.channel.is_closed:
                    return  # it comes back, counted, on the next channel
                if is_transient(exc):
                    count(CONSUMED, self.name, "waiting")
                    log.warning(
                        "dependency unavailable, will retry: %r", exc, extra={"queue": self.name}
                    )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 5.0)
                    continue
                attempts += 1
                if attempts >= self.policy.max_attempts:
                    log.error("giving up on a message", exc_info=exc, extra={"queue": self.name})
                    await self.outbox.dead_letter(
                        [(delivery, f"failed {attempts} times: {describe(exc)}")],
                        self.gate.dead_letter_key,
                        "failed",
                    )
                    return
                count(CONSUMED, self.name, "retried")
                await asyncio.sleep(pause)
                continue
            await settle(delivery)
            count(CONSUMED, self.name, "ok")
            return


async def declare_queue(channel: AbstractChannel, queue: Queue, instance_id: str = "") -> None:
    """A queue with its arguments, dead-letter queue and bindings, as the table says."""
    name = queue.named(instance_id)
    if queue.dead_letter_key is not None:
        from ems.common.messaging.topology import dead_letter_queue

        dlq = dead_letter_queue(queue.dead_letter_key)
        await channel.queue_declare(dlq.name, durable=True, arguments=dlq.arguments())
        for binding in dlq.bindings:
            await channel.queue_bind(dlq.name, binding.exchange, routing_key=binding.routing_key)
    per_instance = queue.per_instance
    await channel.queue_declare(
        name,
        durable=not per_instance,
        exclusive=per_instance,
        auto_delete=per_instance,
        arguments=queue.arguments(),
    )
    for binding in queue.all_bindings(instance_id):
        await channel.queue_bind(name, binding.exchange, routing_key=binding.routing_key)
