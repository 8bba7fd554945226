"""The simulator's publisher with a ledger of what the broker confirmed, and a checker that
counts like Jepsen: confirmed, stored, lost, double-counted, phantom, hourly totals."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aio_pika
import asyncpg

from ems.common.messaging import EXCHANGE_DATA
from ems.contracts.readings import reading_routing_key
from ems.simulator.profile import reading_kwh
from ems.simulator.publisher import Pacer
from ems.simulator.readings import OutgoingReading, iso

Key = tuple[str, datetime]
INTERVAL = timedelta(minutes=10)


def micro(value: str) -> int:
    """The exact micro-kWh of a value written with at most 6 decimals."""
    return int(Decimal(value).scaleb(6))


class LedgerPublisher:
    """Publishes readings as any meter would (plain AMQP, persistent, publisher confirms;
    `amqp_url` logs in as the meter),
    re-sends each one until the broker confirms it, and records what was confirmed.

    Its own code rather than the simulator's publisher: the checker must know exactly which
    reading the broker confirmed, whatever the simulator's internals become."""

    def __init__(
        self, amqp_url: str, *, window: int = 500, name: str = "ledger", passive: bool = False
    ) -> None:
        self.url = amqp_url
        self.name = name
        # A meter's login may not declare the exchange, only use it (passive declare).
        self.passive = passive
        self.handed_over: dict[Key, str] = {}
        self.confirmed_keys: dict[Key, str] = {}
        self.sent = self.confirmed = self.retried = 0
        self._slots = asyncio.Semaphore(window)
        self._tasks: set[asyncio.Task[None]] = set()
        self._connection: Any = None
        self._exchange: Any = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(
            self.url, client_properties={"connection_name": self.name}
        )
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.declare_exchange(
            EXCHANGE_DATA, aio_pika.ExchangeType.TOPIC, durable=True, passive=self.passive
        )

    def connected(self) -> bool:
        return self._connection is not None and self._connection.connected.is_set()

    async def publish(self, reading: OutgoingReading) -> None:
        """Hand one reading over; returns as soon as there is room in the window."""
        await self._slots.acquire()
        self.sent += 1
        key = (reading.device_id, _parse(reading.timestamp))
        self.handed_over[key] = reading.value
        task = asyncio.create_task(self._until_confirmed(key, reading))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _until_confirmed(self, key: Key, reading: OutgoingReading) -> None:
        message = aio_pika.Message(
            reading.body(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        pause = 0.1
        try:
            while True:
                try:
                    await self._exchange.publish(
                        message, reading_routing_key(reading.device_id), timeout=10
                    )
                except Exception:  # refused, connection lost, timed out: send it again
                    self.retried += 1
                    await asyncio.sleep(pause)  # a publisher's back-off, as the simulator's
                    pause = min(pause * 2, 2.0)
                    continue
                self.confirmed += 1
                self.confirmed_keys[key] = reading.value
                return
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Wait until every reading handed over is confirmed."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._connection is not None:
            await self._connection.close()


def _parse(stamp: str | int) -> datetime:
    assert isinstance(stamp, str)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class Load:
    """A steady stream: every device's next 10-minute reading in turn, some sent twice."""

    publisher: LedgerPublisher
    devices: list[uuid.UUID]
    rate: float
    start: datetime
    duplicate_share: float = 0.03
    seed: int = 7
    _task: asyncio.Task[None] | None = None
    _step: int = 0
    duplicates_sent: int = 0

    def begin(self) -> None:
        self._task = asyncio.create_task(self._run(), name="chaos-load")

    async def _run(self) -> None:
        rng = random.Random(self.seed)
        pacer = Pacer(self.rate)
        sent: list[OutgoingReading] = []
        while True:
            moment = self.start + INTERVAL * self._step
            self._step += 1
            for device in self.devices:
                reading = self.reading(device, moment)
                await self.publisher.publish(reading)
                sent.append(reading)
                await pacer.tick()
                # A meter repeating an earlier reading (a retry after a lost ack).
                if sent and rng.random() < self.duplicate_share:
                    await self.publisher.publish(rng.choice(sent[-2000:]))
                    self.duplicates_sent += 1
                    await pacer.tick()

    @staticmethod
    def reading(device: uuid.UUID, moment: datetime) -> OutgoingReading:
        value = round(reading_kwh(device, moment, INTERVAL, None), 4)
        return OutgoingReading(str(device), iso(moment), f"{value:.4f}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass
class Verdict:
    handed_over: int
    confirmed: int
    stored: int
    lost: int
    phantom: int
    wrong_value: int
    hours_checked: int
    hours_wrong: int
    double_counted_hours: int
    unconfirmed_but_stored: int
    lost_examples: list[str] = field(default_factory=list)
    wrong_hours_examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.phantom == 0
            and self.wrong_value == 0
            and self.hours_wrong == 0
            and self.double_counted_hours == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def check(db: asyncpg.Pool, publisher: LedgerPublisher) -> Verdict:
    """Compare what the broker confirmed with what monitoring stored."""
    devices = sorted({uuid.UUID(device) for device, _ in publisher.handed_over})
    rows = await db.fetch(
        "SELECT device_id, ts, micro_kwh FROM readings WHERE device_id = ANY($1::uuid[])", devices
    )
    stored: dict[Key, int] = {(str(r["device_id"]), r["ts"]): r["micro_kwh"] for r in rows}
    hourly_rows = await db.fetch(
        "SELECT device_id, hour, micro_kwh FROM hourly_consumption "
        "WHERE device_id = ANY($1::uuid[])",
        devices,
    )
    hourly = {(str(r["device_id"]), r["hour"]): r["micro_kwh"] for r in hourly_rows}
    return judge(publisher, stored, hourly)


def judge(publisher: LedgerPublisher, stored: dict[Key, int], hourly: dict[Key, int]) -> Verdict:
    """The verdict on monitoring's readings and hourly totals (micro-kWh by device and UTC
    time) of the devices the publisher fed."""
    confirmed = publisher.confirmed_keys
    lost = [key for key in confirmed if key not in stored]
    phantom = [key for key in stored if key not in publisher.handed_over]
    wrong_value = [
        key
        for key, value in publisher.handed_over.items()
        if key in stored and stored[key] != micro(value)
    ]
    # Ground truth: each distinct reading once, in its own UTC hour.
    truth: dict[tuple[str, datetime], int] = defaultdict(int)
    for (device, moment), value in publisher.handed_over.items():
        if (device, moment) in stored:
            truth[(device, moment.replace(minute=0, second=0, microsecond=0))] += micro(value)
    wrong_hours = [k for k in set(truth) | set(hourly) if truth.get(k, 0) != hourly.get(k, 0)]
    doubled = [k for k in wrong_hours if hourly.get(k, 0) > truth.get(k, 0)]
    return Verdict(
        handed_over=len(publisher.handed_over),
        confirmed=len(confirmed),
        stored=len(stored),
        lost=len(lost),
        phantom=len(phantom),
        wrong_value=len(wrong_value),
        hours_checked=len(truth),
        hours_wrong=len(wrong_hours),
        double_counted_hours=len(doubled),
        unconfirmed_but_stored=len([k for k in stored if k not in confirmed]),
        lost_examples=[f"{d} {t.isoformat()}" for d, t in lost[:5]],
        wrong_hours_examples=[
            f"{d} {h.isoformat()}: stored {hourly.get((d, h), 0)} truth {truth.get((d, h), 0)}"
            for d, h in wrong_hours[:5]
        ],
    )


def verdict_rows(v: dict[str, Any], duplicates_sent: int) -> list[str]:
    """A verdict (`Verdict.as_dict()`) as the rows of a Markdown table, for docs/results."""
    return [
        "| count | value |",
        "|---|---|",
        f"| readings handed to the publisher (distinct) | {v['handed_over']} |",
        f"| confirmed by the broker | {v['confirmed']} |",
        f"| stored | {v['stored']} |",
        f"| **lost** (confirmed, not stored) | **{v['lost']}** |",
        f"| **double-counted hours** | **{v['double_counted_hours']}** |",
        "| hours checked against ground truth / wrong | "
        f"{v['hours_checked']} / {v['hours_wrong']} |",
        f"| phantom readings / wrong values | {v['phantom']} / {v['wrong_value']} |",
        f"| repeats sent on purpose | {duplicates_sent} |",
    ]


def utc_now() -> datetime:
    return datetime.now(UTC)
