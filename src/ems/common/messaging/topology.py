"""The broker's topology in one table: exchanges, queues and their arguments, bindings, dead
letters, and who may do what.

The services declare their own queues from it at connect; `ems broker definitions` and the
provisioning (`ems up`, `ems broker provision`, the tests) turn it into RabbitMQ definitions
(`deploy/rabbitmq/definitions.json` is one of them; a test fails when it differs).

Readings: meters publish to `ems.data` (`device.<id>.reading`), which is bound to the
consistent-hash exchange `ems.readings`; that spreads devices over `READING_PARTITIONS`
durable partition queues `readings.<nn>`, bound once in index order and never rebound, so
a device always lands in the same partition, in order. Each partition is consumed by one
monitoring replica at a time (the balancer assigns them, see ems.balancer).

Every consumed queue `Q` dead-letters to `ems.dlx` under its dead-letter key (`Q` itself,
or the family name of per-instance queues), where `<key>.dlq` holds them, bounded in bytes
(oldest dropped). Redelivered messages are counted by republishing them to `ems.retry`
under the queue's own name, where only that queue is bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

EXCHANGE_DATA = "ems.data"
EXCHANGE_READINGS = "ems.readings"
EXCHANGE_SYNC = "ems.sync"
EXCHANGE_WS = "ems.ws"
EXCHANGE_CONTROL = "ems.control"
EXCHANGE_DLX = "ems.dlx"
EXCHANGE_RETRY = "ems.retry"

READING_PARTITIONS = 64
# Every dead-letter queue keeps at most this many bytes; the oldest go first.
DLQ_MAX_BYTES = 64 * 1024 * 1024
# The default (and the broker's) limit on a message body.
MAX_MESSAGE_BYTES = 64 * 1024

# The identities: one broker login per service, and `meter` for whoever sends readings.
AUTH = "auth"
USERS = "users"
DEVICES = "devices"
MONITORING = "monitoring"
BALANCER = "balancer"
REALTIME = "realtime"
SUPPORT = "support"
METER = "meter"
IDENTITIES = (AUTH, USERS, DEVICES, MONITORING, BALANCER, REALTIME, SUPPORT, METER)

ExchangeType = Literal["topic", "fanout", "x-consistent-hash"]


@dataclass(frozen=True)
class Exchange:
    name: str
    type: ExchangeType = "topic"
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    exchange: str
    routing_key: str


@dataclass(frozen=True)
class Queue:
    """A queue and how it is declared; `name` may hold `{id}` for per-instance queues
    (exclusive, gone with their connection), which are not in the definitions."""

    name: str
    owner: str
    bindings: tuple[Binding, ...] = ()
    # Dead letters go to `<dead_letter_key>.dlq`; None: dead letters are not kept.
    dead_letter_key: str | None = None
    # Bounded dead-letter queues and per-instance queues (also bounded: nobody drains them
    # when their instance is gone).
    max_bytes: int | None = None

    @property
    def per_instance(self) -> bool:
        return "{id}" in self.name

    def named(self, instance_id: str = "") -> str:
        return self.name.replace("{id}", instance_id)

    def arguments(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.dead_letter_key is not None:
            args["x-dead-letter-exchange"] = EXCHANGE_DLX
            args["x-dead-letter-routing-key"] = self.dead_letter_key
        if self.max_bytes is not None:
            args["x-max-length-bytes"] = self.max_bytes
            args["x-overflow"] = "drop-head"
        return args

    def all_bindings(self, instance_id: str = "") -> list[Binding]:
        """Its bindings, and its own name on `ems.retry` (where counted redeliveries go)."""
        bindings = list(self.bindings)
        if self.dead_letter_key is not None:
            bindings.append(Binding(EXCHANGE_RETRY, self.named(instance_id)))
        return bindings


def partition_queue(index: int) -> str:
    return f"readings.{index:02d}"


def _consumed(name: str, owner: str, *bindings: Binding, family: str | None = None) -> Queue:
    """A consumed queue; per-instance ones dead-letter under their `family` name."""
    per_instance = "{id}" in name
    return Queue(
        name,
        owner,
        bindings,
        dead_letter_key=family or name,
        max_bytes=DLQ_MAX_BYTES if per_instance else None,
    )


EXCHANGES = (
    Exchange(EXCHANGE_DATA),
    Exchange(EXCHANGE_READINGS, "x-consistent-hash"),
    Exchange(EXCHANGE_SYNC),
    Exchange(EXCHANGE_WS),
    Exchange(EXCHANGE_CONTROL),
    Exchange(EXCHANGE_DLX),
    Exchange(EXCHANGE_RETRY),
)

# Exchange-to-exchange bindings: (source, destination, routing key).
EXCHANGE_BINDINGS = ((EXCHANGE_DATA, EXCHANGE_READINGS, "device.*.reading"),)

# Who publishes what: (identity, exchange, routing-key pattern as a regex). The identities
# listed for a routing key on ems.sync, ems.ws and ems.control are the only logins whose
# messages under it are accepted (consumers check the AMQP user_id, which RabbitMQ checks
# at publish). Typing indicators come from sockets (realtime) and from the support API.
PUBLISHES: tuple[tuple[str, str, str], ...] = (
    (METER, EXCHANGE_DATA, r"device\.[^.]+\.reading"),
    (AUTH, EXCHANGE_SYNC, r"auth\..+"),
    (USERS, EXCHANGE_SYNC, r"user\..+"),
    (DEVICES, EXCHANGE_SYNC, r"(device|tariff)\..+"),
    (MONITORING, EXCHANGE_WS, r"(notify|consumption|alerts)\..+"),
    (SUPPORT, EXCHANGE_WS, r"chat\.(message|typing)"),
    (REALTIME, EXCHANGE_WS, r"(chat\.typing|presence\..+)"),
    (MONITORING, EXCHANGE_CONTROL, r"monitoring\.replica\..+"),
    (BALANCER, EXCHANGE_CONTROL, r"balancer\.assignment"),
)

_SYNC = EXCHANGE_SYNC
QUEUES: tuple[Queue, ...] = (
    *(
        _consumed(
            partition_queue(i), MONITORING, Binding(EXCHANGE_READINGS, "1"), family="readings"
        )
        for i in range(READING_PARTITIONS)
    ),
    _consumed(
        "auth.sync",
        AUTH,
        Binding(_SYNC, "user.created"),
        Binding(_SYNC, "user.updated"),
        Binding(_SYNC, "user.deleted"),
    ),
    _consumed("users.sync", USERS, Binding(_SYNC, "auth.user_registered")),
    _consumed(
        "devices.sync",
        DEVICES,
        Binding(_SYNC, "user.created"),
        Binding(_SYNC, "user.updated"),
        Binding(_SYNC, "user.deleted"),
    ),
    _consumed(
        "monitoring.sync",
        MONITORING,
        Binding(_SYNC, "device.created"),
        Binding(_SYNC, "device.updated"),
        Binding(_SYNC, "device.deleted"),
        Binding(_SYNC, "user.created"),
        Binding(_SYNC, "user.updated"),
        Binding(_SYNC, "user.deleted"),
        Binding(_SYNC, "tariff.created"),
        Binding(_SYNC, "tariff.updated"),
        Binding(_SYNC, "tariff.deleted"),
    ),
    _consumed(
        "support.sync", SUPPORT, Binding(_SYNC, "user.updated"), Binding(_SYNC, "user.deleted")
    ),
    _consumed("realtime.{id}.ws", REALTIME, Binding(EXCHANGE_WS, "#"), family="realtime"),
    _consumed(
        "realtime.{id}.sync",
        REALTIME,
        Binding(_SYNC, "user.updated"),
        Binding(_SYNC, "user.deleted"),
        family="realtime",
    ),
    _consumed(
        "monitoring.{id}.control",
        MONITORING,
        Binding(EXCHANGE_CONTROL, "balancer.assignment"),
        family="monitoring.control",
    ),
    _consumed(
        "balancer.{id}.control",
        BALANCER,
        Binding(EXCHANGE_CONTROL, "monitoring.replica.*"),
        family="balancer.control",
    ),
)

# The dead-letter queues, one per dead-letter key, with the identity that owns the key.
DEAD_LETTER_QUEUES: dict[str, str] = {
    q.dead_letter_key: q.owner for q in QUEUES if q.dead_letter_key is not None
}


def dead_letter_queue(key: str) -> Queue:
    return Queue(
        f"{key}.dlq",
        DEAD_LETTER_QUEUES[key],
        (Binding(EXCHANGE_DLX, key),),
        max_bytes=DLQ_MAX_BYTES,
    )


def queue(name: str) -> Queue:
    """The table's entry for a queue (a per-instance queue by its `{id}` form)."""
    for q in QUEUES:
        if q.name == name:
            return q
    if name.endswith(".dlq") and name[:-4] in DEAD_LETTER_QUEUES:
        return dead_letter_queue(name[:-4])
    raise KeyError(f"no queue {name!r} in the topology")


def static_queues() -> list[Queue]:
    """Every queue that exists whether or not its consumer runs."""
    dlqs = [dead_letter_queue(key) for key in DEAD_LETTER_QUEUES]
    return [q for q in QUEUES if not q.per_instance] + dlqs


def publishers_of(exchange: str, routing_key: str) -> tuple[str, ...]:
    """The identities whose messages under `routing_key` on `exchange` are genuine."""
    return tuple(
        identity
        for identity, ex, pattern in PUBLISHES
        if ex == exchange and re.fullmatch(pattern, routing_key)
    )


# --- permissions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ permissions of one identity in the platform's vhost."""

    configure: str
    write: str
    read: str
    # exchange -> (write, read) routing-key regexes; only on topic exchanges.
    topics: dict[str, tuple[str, str]]


def _pattern(name: str) -> str:
    """A queue name (maybe with `{id}`) as a regex fragment."""
    return re.escape(name).replace(r"\{id\}", "[A-Za-z0-9_-]+")


def _any(fragments: list[str]) -> str:
    unique = sorted(set(fragments))
    return f"^({'|'.join(unique)})$" if unique else "^$"


def _routing_pattern(key: str) -> str:
    """A binding key as a regex matching itself (topic reads are checked on the key)."""
    return re.escape(key)


def permissions(identity: str) -> Permissions:
    own = [q for q in QUEUES if q.owner == identity]
    dlqs = sorted({q.dead_letter_key for q in own if q.dead_letter_key is not None})
    own_names = [_pattern(q.name) for q in own] + [_pattern(f"{key}.dlq") for key in dlqs]
    published = [(ex, pattern) for who, ex, pattern in PUBLISHES if who == identity]
    bound_exchanges = {b.exchange for q in own for b in q.all_bindings("{id}")}
    if dlqs:
        bound_exchanges.add(EXCHANGE_DLX)
    writes = own_names + [re.escape(ex) for ex, _ in published]
    reads = own_names + [re.escape(ex) for ex in bound_exchanges]
    if dlqs:
        # Dead letters and counted redeliveries are published by the consumer itself.
        writes += [re.escape(EXCHANGE_DLX), re.escape(EXCHANGE_RETRY)]
    topics: dict[str, tuple[list[str], list[str]]] = {}
    for ex, pattern in published:
        topics.setdefault(ex, ([], []))[0].append(pattern)
    for q in own:
        for b in q.all_bindings("{id}"):
            if _exchange(b.exchange).type == "topic":
                topics.setdefault(b.exchange, ([], []))[1].append(
                    _pattern(b.routing_key)
                    if b.exchange == EXCHANGE_RETRY
                    else _routing_pattern(b.routing_key)
                )
    for q in own:
        if q.dead_letter_key is not None:
            dlx_write, dlx_read = topics.setdefault(EXCHANGE_DLX, ([], []))
            dlx_write.append(_pattern(q.dead_letter_key))
            dlx_read.append(_pattern(q.dead_letter_key))
            topics.setdefault(EXCHANGE_RETRY, ([], []))[0].append(_pattern(q.name))
    return Permissions(
        configure=_any(own_names),
        write=_any(writes),
        read=_any(reads),
        topics={ex: (_any(w), _any(r)) for ex, (w, r) in sorted(topics.items())},
    )


def _exchange(name: str) -> Exchange:
    for exchange in EXCHANGES:
        if exchange.name == name:
            return exchange
    raise KeyError(name)
