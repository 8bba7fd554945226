"""Playing meters: a backfill, a live clock (optionally sped up), a CSV replay, or the load
mode's fixed workload at a set rate."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ems.simulator.publisher import Pacer, ReadingPublisher
from ems.simulator.readings import (
    FaultInjector,
    Faults,
    Meter,
    OutgoingReading,
    floor_to,
    reading_at,
    replay,
    span,
)

MeterSource = Callable[[], Awaitable[list[Meter]]]

# Readings generated (and faulted) at a time: small enough to pace smoothly.
_CHUNK = 500


@dataclass
class Plan:
    meters: list[Meter]
    interval: timedelta = timedelta(minutes=10)
    # The simulated clock runs this many times faster than real time from `start` (in the
    # past) until it has caught up with the present; then it keeps real time.
    speed: float = 1.0
    start: datetime | None = None
    backfill_days: float = 0.0
    follow: bool = True
    replay: Path | None = None
    # Load mode: this many readings a second, `count` of them or for `duration` seconds.
    rate: float | None = None
    count: int | None = None
    duration: float | None = None
    faults: Faults = field(default_factory=Faults)
    seed: int | None = None
    # Where to get the meters again now and then while following the clock (`--all`).
    refresh: MeterSource | None = None
    refresh_every: float = 60.0

    @property
    def load_mode(self) -> bool:
        return self.count is not None or self.duration is not None


class Simulation:
    def __init__(self, plan: Plan, publisher: ReadingPublisher) -> None:
        self.plan = plan
        self.publisher = publisher
        self.faults = FaultInjector(plan.faults, random.Random(plan.seed))
        self.meters = list(plan.meters)

    async def run(self) -> None:
        plan = self.plan
        if plan.replay is not None:
            await self._send(replay(plan.replay), Pacer(plan.rate))
        elif plan.load_mode:
            await self._load()
        else:
            resume_at = None
            if plan.backfill_days > 0:
                resume_at = await self._backfill()
            if plan.follow:
                await self._follow(resume_at)
        await self._send_now(self.faults.flush())
        await self.publisher.drain()

    async def _backfill(self) -> datetime:
        """Every reading since `backfill_days` ago, as fast as allowed; returns the last
        boundary sent."""
        interval = self.plan.interval
        last = floor_to(datetime.now(UTC), interval)
        first = floor_to(last - timedelta(days=self.plan.backfill_days), interval) + interval
        await self._send(span(self.meters, first, last, interval), Pacer(self.plan.rate))
        return last

    async def _load(self) -> None:
        """The benchmark workload: distinct readings cycling over the meters, stamped in the
        recent past so that every one is valid, at `rate` a second."""
        plan = self.plan
        count = plan.count
        if count is None:
            assert plan.duration is not None and plan.rate is not None
            count = math.ceil(plan.rate * plan.duration)
        steps = math.ceil(count / len(self.meters))
        last = floor_to(datetime.now(UTC), plan.interval)
        first = last - (steps - 1) * plan.interval
        readings = itertools.islice(span(self.meters, first, last, plan.interval), count)
        deadline = time.monotonic() + plan.duration if plan.duration is not None else None
        await self._send(readings, Pacer(plan.rate), deadline)

    async def _follow(self, resume_at: datetime | None) -> None:
        """Readings as the (simulated) clock passes each interval boundary, forever."""
        plan = self.plan
        origin = plan.start or resume_at or datetime.now(UTC)
        began = time.monotonic()
        refreshed = time.monotonic()
        boundary = floor_to(origin, plan.interval) + plan.interval
        if resume_at is not None:
            boundary = resume_at + plan.interval
        while True:
            simulated = min(
                origin + timedelta(seconds=(time.monotonic() - began) * plan.speed),
                datetime.now(UTC),
            )
            if boundary <= simulated:
                await self._send_now(
                    self.faults.feed(reading_at(m, boundary, plan.interval) for m in self.meters)
                )
                boundary += plan.interval
                continue
            if plan.refresh is not None and time.monotonic() - refreshed > plan.refresh_every:
                refreshed = time.monotonic()
                await self._refresh(plan.refresh)
            wait = (boundary - simulated).total_seconds() / plan.speed
            await asyncio.sleep(min(max(wait, 0.01), 1.0))

    async def _refresh(self, source: MeterSource) -> None:
        try:
            meters = await source()
        except Exception as exc:
            print(f"could not refresh the device list: {exc!r}", flush=True)
            return
        self.meters = meters

    async def _send(
        self,
        readings: Iterable[OutgoingReading],
        pacer: Pacer,
        deadline: float | None = None,
    ) -> None:
        for chunk in _chunks(readings, _CHUNK):
            for reading in self.faults.feed(chunk):
                await pacer.tick()
                await self.publisher.publish(reading)
            if deadline is not None and time.monotonic() >= deadline:
                return

    async def _send_now(self, readings: list[OutgoingReading]) -> None:
        for reading in readings:
            await self.publisher.publish(reading)


def _chunks(items: Iterable[OutgoingReading], size: int) -> Iterator[list[OutgoingReading]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
