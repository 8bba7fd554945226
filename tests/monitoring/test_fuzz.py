"""Fuzzed messages against a running ingest pipeline (two replicas and the balancer) and its
device sync consumer (issue 15): valid, near-valid and garbage bodies with odd headers,
published in batches. Every good reading is stored exactly once, every reading of an unknown
device is held, every bad message is dead-lettered once with a reason; no consumer is
restarted and no queue is left holding anything."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import aio_pika
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from ems.common.messaging import EXCHANGE_DATA, EXCHANGE_SYNC, REASON_HEADER
from ems.contracts.events import DeviceCreated, Envelope
from ems.contracts.readings import METER_ID
from ems.monitoring.settings import MonitoringSettings
from tests.platform.broker import TestBroker, queue_stats, take_all
from tests.platform.fuzz import (
    HEADERS,
    JSON,
    LIMIT_FLOATS,
    LIMIT_INTS,
    NON_OBJECT,
    budget,
    dumps,
    garbage,
)
from tests.platform.pipeline import PARTITIONS, Pipeline, running_pipeline
from tests.platform.polling import eventually

# The replicas refuse bodies over this unread (the broker's own limit is larger).
MAX_BYTES = 16 * 1024
FIELDS = ("device_id", "timestamp", "measurement_value")
Outcome = Literal["stored", "held", "dead"]


@dataclass
class Case:
    id: str
    body: bytes
    routing_key: str
    headers: dict[str, Any] | None
    outcome: Outcome
    # Where a stored or held reading must be found, and its exact micro-kWh.
    key: tuple[uuid.UUID, datetime] | None = None
    micro: int | None = None
    times: int = 1


@dataclass
class Fuzzed:
    pipeline: Pipeline
    devices: list[uuid.UUID]
    base: datetime
    window: tuple[float, float]
    instants: itertools.count[int] = field(default_factory=itertools.count)
    ids: itertools.count[int] = field(default_factory=itertools.count)
    lost_before: list[float] = field(default_factory=list)

    def instant(self) -> datetime:
        """A moment no other case uses (so each good reading has a key of its own)."""
        return self.base + timedelta(seconds=next(self.instants))

    def case_id(self) -> str:
        return f"fuzz-{next(self.ids)}"


def _channels_lost(pipeline: Pipeline) -> list[float]:
    return [
        REGISTRY.get_sample_value(
            "ems_amqp_channels_lost_total", {"link": pipeline.intake(i).link.name}
        )
        or 0.0
        for i in (0, 1)
    ]


@pytest.fixture(scope="module")
async def fuzzed(
    monitoring_settings: MonitoringSettings, test_broker: TestBroker
) -> AsyncIterator[Fuzzed]:
    async with running_pipeline(monitoring_settings, test_broker) as pipeline:
        await pipeline.start_replica(0, broker_max_message_bytes=MAX_BYTES)
        await pipeline.start_replica(1, broker_max_message_bytes=MAX_BYTES)
        await pipeline.start_balancer()
        devices = [await pipeline.create_device() for _ in range(8)]
        await pipeline.wait_for_devices(*devices)
        now = datetime.now(UTC).replace(microsecond=0)
        retention = timedelta(days=monitoring_settings.readings_retention_days)
        future = timedelta(seconds=monitoring_settings.max_future_seconds)
        window = ((now - retention).timestamp(), (now + future).timestamp())
        state = Fuzzed(pipeline, devices, now - timedelta(days=2), window)
        state.lost_before = _channels_lost(pipeline)
        yield state


def _micro(value: float) -> int:
    return int(Decimal(repr(float(value))).scaleb(6).to_integral_value(ROUND_HALF_EVEN))


GOOD_VALUES = st.floats(min_value=0, max_value=1e6) | st.sampled_from(
    [0, 0.0, -0.0, 5e-324, 1e-7, 0.1, 0.2, 0.3, 999_999.999_999, 1_000_000]
)


def _stamp(data: st.DataObject, instant: datetime) -> str | int | float:
    """One instant in any of the forms meters write."""
    form = data.draw(st.sampled_from(["z", "offset", "ms", "ms-float"]))
    if form == "z":
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "offset":
        minutes = data.draw(st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59))
        return instant.astimezone(timezone(timedelta(minutes=minutes))).isoformat()
    if form == "ms":
        return int(instant.timestamp()) * 1000
    return instant.timestamp() * 1000.0


def _not_a_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return True
    return False


def _no_device_name(text: str) -> bool:
    """Neither a uuid nor a meter id (which is held until a device takes it)."""
    return _not_a_uuid(text) and METER_ID.fullmatch(text) is None


def _wrong_value(data: st.DataObject, fuzzed: Fuzzed, name: str) -> Any:
    """A value `name` can never hold, of any JSON type."""
    outside = fuzzed.window

    def out_of_window(ms: float) -> bool:
        try:
            return not outside[0] < ms / 1000 < outside[1]
        except (OverflowError, TypeError):
            return True

    if name == "device_id":
        return data.draw(
            st.none()
            | st.booleans()
            # Whole numbers of up to 64 characters are meter ids.
            | st.integers(min_value=10**64)
            | st.integers(max_value=-(10**63))
            | LIMIT_FLOATS
            | st.lists(JSON, max_size=3)
            | st.dictionaries(st.text(max_size=5), JSON, max_size=3)
            | st.text(max_size=60).filter(_no_device_name)
        )
    if name == "timestamp":
        years = st.integers(min_value=1, max_value=9999).filter(lambda y: not 1990 < y < 2100)
        return data.draw(
            st.none()
            | st.booleans()
            | st.lists(JSON, max_size=3)
            | st.dictionaries(st.text(max_size=5), JSON, max_size=3)
            | (st.integers() | LIMIT_INTS | LIMIT_FLOATS).filter(out_of_window)
            | st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=30)
            | st.sampled_from(
                ["2026-13-45T25:61:61Z", "2026-11-30T10:00:00+25:00", "", "T", "Z", "--"]
            )
            | years.map(lambda y: f"{y:04d}-06-01T12:00:00Z")
        )
    return data.draw(
        st.none()
        | st.booleans()
        | st.text(max_size=20)
        | st.lists(JSON, max_size=3)
        | st.dictionaries(st.text(max_size=5), JSON, max_size=3)
        | st.floats(max_value=-1e-300)
        | st.floats(min_value=1e6 + 1, allow_infinity=True)
        | st.sampled_from([float("nan"), float("inf"), float("-inf")])
        | LIMIT_INTS.filter(lambda n: n < 0 or n > 1_000_000)
        | st.integers(max_value=-1)
    )


def _reading_case(data: st.DataObject, fuzzed: Fuzzed) -> Case:
    kind = data.draw(
        st.sampled_from(
            ["good"] * 6 + ["unknown", "field", "field", "missing", "garbage", "utf8", "large"]
        )
    )
    device = data.draw(st.sampled_from(fuzzed.devices))
    instant = fuzzed.instant()
    value = data.draw(GOOD_VALUES)
    body: dict[str, Any] = {
        "device_id": str(device),
        "timestamp": _stamp(data, instant),
        "measurement_value": value,
    }
    headers = data.draw(HEADERS)
    case_id = fuzzed.case_id()
    key = f"device.{device}.reading"
    if kind == "good":
        extra = data.draw(
            st.dictionaries(
                st.text(max_size=10).filter(lambda k: k not in FIELDS), JSON, max_size=3
            )
        )
        times = data.draw(st.sampled_from([1] * 8 + [2, 3]))
        return Case(
            case_id,
            dumps({**extra, **body}),
            key,
            headers,
            "stored",
            (device, instant),
            _micro(value),
            times,
        )
    if kind == "unknown":
        stranger = uuid.uuid4()
        body["device_id"] = str(stranger)
        return Case(
            case_id,
            dumps(body),
            f"device.{stranger}.reading",
            headers,
            "held",
            (stranger, instant),
            _micro(value),
        )
    if kind == "field":
        name = data.draw(st.sampled_from(FIELDS))
        return Case(
            case_id, dumps({**body, name: _wrong_value(data, fuzzed, name)}), key, headers, "dead"
        )
    if kind == "missing":
        name = data.draw(st.sampled_from(FIELDS))
        return Case(
            case_id, dumps({k: v for k, v in body.items() if k != name}), key, headers, "dead"
        )
    if kind == "utf8":
        broken = dumps(body).replace(str(device).encode()[:4], b"\xff\xfe\xfd\xfc", 1)
        return Case(case_id, broken, key, headers, "dead")
    if kind == "large":
        pad = "x" * data.draw(st.integers(min_value=MAX_BYTES, max_value=MAX_BYTES * 2))
        return Case(case_id, dumps({**body, "pad": pad}), key, headers, "dead")
    return Case(case_id, data.draw(garbage(MAX_BYTES)), key, headers, "dead")


async def _publish(fuzzed: Fuzzed, cases: list[Case], exchange: str) -> None:
    meter = fuzzed.pipeline.meter
    await asyncio.gather(
        *(
            meter.publish(exchange, c.routing_key, c.body, message_id=c.id, headers=c.headers)
            for c in cases
            for _ in range(c.times)
        )
    )


async def _dead_letters(
    channel: aio_pika.abc.AbstractChannel, queue: str, wanted: set[str], seen: dict[str, list[str]]
) -> bool:
    for message in await take_all(channel, [queue]):
        seen.setdefault(str(message.message_id), []).append(str(message.headers[REASON_HEADER]))
    return wanted <= set(seen)


def _check_consumers(fuzzed: Fuzzed) -> None:
    """No ingest connection restarted, no partition channel lost."""
    pipeline = fuzzed.pipeline
    assert [pipeline.intake(i).link.connects for i in (0, 1)] == [1, 1]
    assert _channels_lost(pipeline) == fuzzed.lost_before


@budget(40)
@given(data=st.data())
async def test_fuzzed_readings_are_stored_once_held_or_dead_lettered(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    """If this fails, some body a meter can send crashes or stalls a replica, is stored
    twice or not at all, or vanishes without a dead letter and a reason."""
    # Hypothesis draws at most so much per example: about 80 cases.
    count = data.draw(st.integers(min_value=40, max_value=80), label="cases")
    cases = [_reading_case(data, fuzzed) for _ in range(count)]
    await _publish(fuzzed, cases, EXCHANGE_DATA)
    db = fuzzed.pipeline.db
    stored = [c for c in cases if c.outcome == "stored"]
    held = [c for c in cases if c.outcome == "held"]
    dead = {c.id for c in cases if c.outcome == "dead"}

    async def found(table: str, wanted: list[Case]) -> dict[tuple[uuid.UUID, datetime], int]:
        rows = await db.fetch(
            f"SELECT t.device_id, t.ts, t.micro_kwh FROM {table} t "
            "JOIN unnest($1::uuid[], $2::timestamptz[]) AS k(d, ts) "
            "ON t.device_id = k.d AND t.ts = k.ts",
            [c.key[0] for c in wanted if c.key],
            [c.key[1] for c in wanted if c.key],
        )
        return {(r["device_id"], r["ts"]): r["micro_kwh"] for r in rows}

    async def all_there() -> bool:
        return len(await found("readings", stored)) == len(stored) and len(
            await found("unmatched_readings", held)
        ) == len(held)

    connection = await aio_pika.connect(fuzzed.pipeline.admin_url)
    channel = await connection.channel()
    seen: dict[str, list[str]] = {}

    async def settled() -> bool:
        collected = await _dead_letters(channel, "readings.dlq", dead, seen)
        return collected and await all_there()

    try:
        await eventually(settled, timeout=30, interval=0.1)
    except AssertionError:
        stored_keys = await found("readings", stored) | await found("unmatched_readings", held)
        missing = [c for c in [*stored, *held] if c.key not in stored_keys]
        missing += [c for c in cases if c.id in dead - set(seen)]
        lost = [(c.outcome, c.body[:300]) for c in missing]
        raise AssertionError(f"not where they belong: {lost}") from None
    finally:
        await connection.close()
    _check_consumers(fuzzed)
    assert await found("readings", stored) == {c.key: c.micro for c in stored}
    assert await found("unmatched_readings", held) == {c.key: c.micro for c in held}
    assert set(seen) == dead, "a good reading was dead-lettered, or a bad one twice"
    assert all(len(r) == 1 and r[0] for r in seen.values()), seen


NOT_TEXT: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers() | LIMIT_FLOATS | st.lists(JSON, max_size=3)
)
NOT_TEXT |= st.dictionaries(st.text(max_size=5), JSON, max_size=3)
# Text that no lax parser reads as a number, a date or a UUID.
WORDS = st.text(alphabet=st.characters(blacklist_categories=["Nd"]), min_size=1, max_size=30)
WRONG_DATA = {
    "id": NOT_TEXT | WORDS,
    "name": NOT_TEXT,
    "max_hourly_kwh": st.none() | st.lists(JSON, max_size=3) | WORDS,
    "revision": st.none() | st.lists(JSON, max_size=3) | WORDS | st.sampled_from([1.5, -0.25]),
}
WRONG_ENVELOPE = {
    "event_id": NOT_TEXT | WORDS,
    "type": NOT_TEXT,
    "occurred_at": st.none() | st.lists(JSON, max_size=3) | WORDS,
    "version": st.none() | st.lists(JSON, max_size=3) | WORDS,
    "data": NON_OBJECT,
}


def _event_case(data: st.DataObject) -> tuple[Case, bool]:
    """A device event on ems.sync: the case, and whether it is sent by a login that is not
    the devices service."""
    kind = data.draw(
        st.sampled_from(
            ["good"] * 5
            + ["forged", "data", "envelope", "type", "nul", "surrogate", "garbage", "large"]
        )
    )
    device = uuid.uuid4()
    # Any text a service would send (its APIs refuse NUL; lone surrogates are no UTF-8).
    name = data.draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=100))
    limit = data.draw(st.floats(min_value=0, max_value=1e6))
    envelope = Envelope.wrap(DeviceCreated(id=device, name=name, max_hourly_kwh=limit))
    body = envelope.model_dump(mode="json")
    headers = data.draw(HEADERS)
    case_id = str(envelope.event_id)
    key = DeviceCreated.routing_key
    if kind in ("good", "forged"):
        times = data.draw(st.sampled_from([1] * 8 + [2])) if kind == "good" else 1
        outcome: Outcome = "stored" if kind == "good" else "dead"
        return Case(case_id, dumps(body), key, headers, outcome, (device, _NEVER), times=times), (
            kind == "forged"
        )
    if kind == "data":
        part = data.draw(st.sampled_from(sorted(WRONG_DATA)))
        body["data"][part] = data.draw(WRONG_DATA[part])
    elif kind == "envelope":
        part = data.draw(st.sampled_from(sorted(WRONG_ENVELOPE)))
        body[part] = data.draw(WRONG_ENVELOPE[part])
    elif kind == "type":
        body["type"] = data.draw(st.sampled_from(["device.updated", "device.deleted", "x", ""]))
    elif kind == "nul":  # no service sends it (their APIs refuse it); the database would too
        body["data"]["name"] = name + "\x00"
    elif kind == "surrogate":  # valid JSON (an escape), but no text the database can store
        body["data"]["name"] = name + "\ud800"
    elif kind == "large":
        body["data"]["name"] = "x" * (MAX_BYTES + 1)
    else:
        return Case(case_id, data.draw(garbage(MAX_BYTES)), key, headers, "dead"), False
    return Case(case_id, dumps(body), key, headers, "dead"), False


# Device events have no instant: their key is the device id alone.
_NEVER = datetime.min


@budget(12)
@given(data=st.data())
async def test_fuzzed_device_events_are_applied_once_or_dead_lettered(
    fuzzed: Fuzzed, data: st.DataObject
) -> None:
    """If this fails, an event a service (or an intruder) can put on ems.sync crashes or
    blocks monitoring's device sync, changes a device although it was not genuine, or
    vanishes without a dead letter and a reason."""
    count = data.draw(st.integers(min_value=40, max_value=100), label="events")
    drawn = [_event_case(data) for _ in range(count)]
    genuine = [c for c, forged in drawn if not forged]
    forged = [c for c, is_forged in drawn if is_forged]
    devices = fuzzed.pipeline.senders["devices"]
    await asyncio.gather(
        *(
            devices.publish(
                EXCHANGE_SYNC, c.routing_key, c.body, message_id=c.id, headers=c.headers
            )
            for c in genuine
            for _ in range(c.times)
        )
    )
    connection = await aio_pika.connect(fuzzed.pipeline.admin_url)
    channel = await connection.channel()
    exchange = await channel.get_exchange(EXCHANGE_SYNC)
    for c in forged:  # a login that may write there, but is not the devices service
        await exchange.publish(aio_pika.Message(c.body, message_id=c.id), c.routing_key)
    applied = [c for c, _ in drawn if c.outcome == "stored"]
    dead = {c.id for c, _ in drawn if c.outcome == "dead"}
    db = fuzzed.pipeline.db

    async def created() -> set[uuid.UUID]:
        rows = await db.fetch(
            "SELECT id FROM devices WHERE id = ANY($1::uuid[])",
            [c.key[0] for c, _ in drawn if c.key],
        )
        return {r["id"] for r in rows}

    async def all_applied() -> bool:
        return {c.key[0] for c in applied if c.key} <= await created()

    seen: dict[str, list[str]] = {}

    async def settled() -> bool:
        collected = await _dead_letters(channel, "monitoring.sync.dlq", dead, seen)
        return collected and await all_applied()

    try:
        await eventually(settled, timeout=30, interval=0.1)
    except AssertionError:
        made = await created()
        missing = [c for c in applied if c.key and c.key[0] not in made]
        missing += [c for c, _ in drawn if c.id in dead - set(seen)]
        lost = [(c.outcome, c.body[:300]) for c in missing]
        raise AssertionError(f"neither applied nor dead-lettered: {lost}") from None
    finally:
        await connection.close()
    assert await created() == {c.key[0] for c in applied if c.key}, "a forged event applied"
    assert set(seen) == dead
    assert all(len(r) == 1 and r[0] for r in seen.values()), seen
    assert all(r[0].startswith("forged") for i, r in seen.items() if i in {c.id for c in forged})
    sync = fuzzed.pipeline.apps[0].state.runtime.broker
    assert sync.link.connects == 1


async def test_after_the_fuzz_the_hours_add_up_and_nothing_is_left(fuzzed: Fuzzed) -> None:
    """If this fails, a fuzzed batch left the hourly totals out of step with the readings
    stored (a reading counted twice, or stored without being counted), or left readings in
    a partition or unacknowledged, or a consumer was restarted."""
    _check_consumers(fuzzed)
    stats = await asyncio.to_thread(queue_stats, fuzzed.pipeline.settings.amqp_url)
    assert {n: stats[n] for n in PARTITIONS} == {n: (0, 0, 1) for n in PARTITIONS}
    # A dead letter sent twice would be here (each batch took exactly its own).
    assert stats["readings.dlq"][:2] == (0, 0)
    assert stats["monitoring.sync.dlq"][:2] == (0, 0)
    rows = await fuzzed.pipeline.db.fetch(
        "SELECT h.device_id, h.hour, h.micro_kwh, h.readings, "
        "coalesce(sum(r.micro_kwh), 0) AS summed, count(r.*) AS n "
        "FROM hourly_consumption h LEFT JOIN readings r ON r.device_id = h.device_id "
        "AND date_trunc('hour', r.ts, 'UTC') = h.hour GROUP BY 1, 2, 3, 4"
    )
    assert rows, "nothing was stored"
    wrong = [dict(r) for r in rows if (r["micro_kwh"], r["readings"]) != (r["summed"], r["n"])]
    assert wrong == []
