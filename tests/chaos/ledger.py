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

import asyncpg

from ems.simulator.profile import reading_kwh
from ems.simulator.publisher import Pacer, ReadingPublisher
from ems.simulator.readings import OutgoingReading, iso

Key = tuple[str, datetime]
INTERVAL = timedelta(minutes=10)


def micro(value: str) -> int:
    """The exact micro-kWh of a value written with at most 6 decimals."""
    return int(Decimal(value).scaleb(6))


class LedgerPublisher(ReadingPublisher):
    """Records every reading whose publish the broker confirmed."""

    def __init__(self, amqp_url: str, **kwargs: Any) -> None:
        super().__init__(amqp_url, **kwargs)
        self.handed_over: dict[Key, str] = {}
        self.confirmed_keys: dict[Key, str] = {}

    async def _until_confirmed(self, reading: OutgoingReading) -> None:
        key = (reading.device_id, _parse(reading.timestamp))
        self.handed_over[key] = reading.value
        await super()._until_confirmed(reading)
        self.confirmed_keys[key] = reading.value


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
    hourly_rows = await db.fetch(
        "SELECT device_id, hour, micro_kwh FROM hourly_consumption "
        "WHERE device_id = ANY($1::uuid[])",
        devices,
    )
    hourly = {(str(r["device_id"]), r["hour"]): r["micro_kwh"] for r in hourly_rows}
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


def utc_now() -> datetime:
    return datetime.now(UTC)
