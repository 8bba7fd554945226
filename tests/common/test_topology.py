"""The topology table and what is made from it: the committed definitions file, and the
permissions each broker login gets (least privilege, issue 15)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

from ems.auth import consumers as auth_consumers
from ems.common.inbox import EventConsumer
from ems.common.messaging.definitions import broker_definitions
from ems.common.messaging.topology import (
    AUTH,
    BALANCER,
    DEVICES,
    EXCHANGE_DATA,
    EXCHANGE_SYNC,
    EXCHANGE_WS,
    IDENTITIES,
    METER,
    MONITORING,
    QUEUES,
    READING_PARTITIONS,
    REALTIME,
    SUPPORT,
    USERS,
    permissions,
    publishers_of,
    queue,
)
from ems.contracts.events import EventBody
from ems.devices import consumers as devices_consumers
from ems.monitoring.consumers import SYNC_QUEUE as MONITORING_SYNC
from ems.monitoring.consumers import DeviceSync
from ems.monitoring.settings import MonitoringSettings
from ems.users import consumers as users_consumers

DEFINITIONS = Path(__file__).resolve().parents[2] / "deploy" / "rabbitmq" / "definitions.json"


def test_the_committed_definitions_are_the_tables_output() -> None:
    """If this fails, deploy/rabbitmq/definitions.json (what compose and Swarm load) has
    drifted from the topology the services declare: regenerate it (`uv run ems broker
    definitions --without-users --vhost ems -o deploy/rabbitmq/definitions.json`)."""
    committed = json.loads(DEFINITIONS.read_text())
    assert committed == broker_definitions("ems")


def test_the_partitions_are_bound_to_the_hash_exchange_in_index_order() -> None:
    """If this fails, the consistent-hash ring (built in binding order) differs between a
    broker that loaded the file and one the services declared: devices land elsewhere."""
    bindings = broker_definitions("ems")["bindings"]
    ring = [b["destination"] for b in bindings if b["source"] == "ems.readings"]
    assert ring == [f"readings.{i:02d}" for i in range(READING_PARTITIONS)]


def _matches(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), name) is not None


def test_a_meter_may_only_publish_readings() -> None:
    """If this fails, a meter's login (on every device in the field) can read other
    people's data, declare queues, or publish anything but readings."""
    meter = permissions(METER)
    assert meter.configure == "^$" and meter.read == "^$"
    assert meter.write == "^(ems\\.data)$"
    assert meter.topics == {EXCHANGE_DATA: ("^(device\\.[^.]+\\.reading)$", "^$")}


def test_each_service_writes_only_what_it_owns_and_reads_only_its_own_queues() -> None:
    """If this fails, one service's login can publish another's events or read another's
    queues: a stolen password of one service would be a password to all of them."""
    for identity in IDENTITIES:
        p = permissions(identity)
        own = [q.named("x1") for q in QUEUES if q.owner == identity]
        others = [q.named("x1") for q in QUEUES if q.owner != identity]
        assert all(_matches(p.read, q) for q in own), identity
        assert not any(_matches(p.read, q) for q in others), identity
        assert not any(_matches(p.configure, q) for q in others), identity
    assert permissions(USERS).topics[EXCHANGE_SYNC][0] == "^(user\\..+)$"
    assert permissions(DEVICES).topics[EXCHANGE_SYNC][0] == "^((device|tariff)\\..+)$"
    assert EXCHANGE_SYNC not in permissions(MONITORING).topics or (
        permissions(MONITORING).topics[EXCHANGE_SYNC][0] == "^$"
    )
    assert not _matches(permissions(BALANCER).write, EXCHANGE_SYNC)


def test_every_routing_key_on_the_trusted_exchanges_has_its_publishers() -> None:
    """If this fails, a consumer dead-letters genuine events as forged (nobody may send
    them), or accepts them from a service that does not own them."""
    assert publishers_of(EXCHANGE_SYNC, "user.updated") == (USERS,)
    assert publishers_of(EXCHANGE_SYNC, "auth.user_registered") == (AUTH,)
    assert publishers_of(EXCHANGE_SYNC, "device.deleted") == (DEVICES,)
    assert publishers_of(EXCHANGE_WS, "chat.message") == (SUPPORT,)
    assert set(publishers_of(EXCHANGE_WS, "chat.typing")) == {SUPPORT, REALTIME}
    assert publishers_of(EXCHANGE_WS, "notify.overconsumption") == (MONITORING,)
    assert publishers_of(EXCHANGE_SYNC, "anything.else") == ()


def _event_types() -> dict[str, type[EventBody]]:
    found: dict[str, type[EventBody]] = {}
    pending = list(EventBody.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if getattr(cls, "routing_key", None):
            found[cls.routing_key] = cls
    return found


def test_every_event_has_its_publisher_and_every_binding_an_event() -> None:
    """If this fails, a service's outbox holds an event its login may not publish (the
    relay retries it forever, and every event behind it waits), or a queue waits for an
    event type nobody sends."""
    events = _event_types()
    assert {"user.created", "device.deleted", "tariff.updated"} <= set(events)
    for key in events:
        assert publishers_of(EXCHANGE_SYNC, key), f"nobody may publish {key}"
    for q in QUEUES:
        for binding in q.bindings:
            if binding.exchange == EXCHANGE_SYNC:
                assert binding.routing_key in events, (q.name, binding.routing_key)


def test_each_service_is_bound_to_exactly_the_events_it_handles() -> None:
    """If this fails, a service subscribes to an event its queue never receives (its copy
    silently goes stale: a new user unknown to auth), or receives events it refuses."""
    dummy = SimpleNamespace(db=None, relay=None)
    consumers = [
        auth_consumers.user_events_consumer(None, None, None),  # type: ignore[arg-type]
        users_consumers.registration_consumer(dummy),  # type: ignore[arg-type]
        devices_consumers.user_events_consumer(dummy),  # type: ignore[arg-type]
        EventConsumer(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            MONITORING_SYNC,
            DeviceSync(MonitoringSettings()).subscriptions(),
        ),
    ]
    for consumer in consumers:
        bound = {b.routing_key for b in queue(consumer.queue).bindings}
        assert bound == set(consumer.by_type), consumer.queue
