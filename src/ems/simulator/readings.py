"""Streams of readings: a time span (backfill, load), a live clock, a CSV file; and the
faults a real fleet of meters shows (repeats, shuffling, late arrivals)."""

from __future__ import annotations

import csv
import random
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ems.simulator.profile import reading_kwh

# Meters known by a meter id get a stable stand-in id for their profile's randomness.
_METER_NAMESPACE = uuid.UUID("8d3c1f0e-5a7b-4c1d-9e2f-3a4b5c6d7e8f")


@dataclass(frozen=True, slots=True)
class Meter:
    device_id: uuid.UUID
    # None: the device's own fixed scale (see profile.device_scale).
    scale: float | None = None
    # How the meter names itself in its readings instead of `device_id` (the device's
    # `meter_id`); whole numbers go out as JSON numbers, as the seeds' meters send them.
    meter_id: str | None = None

    @property
    def wire_id(self) -> str:
        return self.meter_id if self.meter_id is not None else str(self.device_id)


def meter_by_id(meter_id: str) -> Meter:
    return Meter(uuid.uuid5(_METER_NAMESPACE, meter_id), meter_id=meter_id)


@dataclass(frozen=True, slots=True)
class OutgoingReading:
    device_id: str
    # As it goes on the wire: ISO 8601 text, or epoch milliseconds.
    timestamp: str | int
    # The JSON number's text, so a replayed file goes out digit for digit.
    value: str
    # `device_id` as a JSON number (a numeric meter id) rather than a string.
    numeric_id: bool = False

    def body(self) -> bytes:
        stamp = f'"{self.timestamp}"' if isinstance(self.timestamp, str) else str(self.timestamp)
        device = self.device_id if self.numeric_id else f'"{self.device_id}"'
        return (
            f'{{"device_id": {device}, "timestamp": {stamp}, "measurement_value": {self.value}}}'
        ).encode()


def floor_to(moment: datetime, interval: timedelta) -> datetime:
    """The last interval boundary at or before `moment` (boundaries count from the epoch)."""
    step = int(interval.total_seconds())
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def reading_at(meter: Meter, end: datetime, interval: timedelta) -> OutgoingReading:
    value = reading_kwh(meter.device_id, end, interval, meter.scale)
    numeric = meter.meter_id is not None and meter.meter_id.isdigit()
    return OutgoingReading(meter.wire_id, iso(end), repr(value), numeric)


def span(
    meters: Sequence[Meter], first: datetime, last: datetime, interval: timedelta
) -> Iterator[OutgoingReading]:
    """Every meter's reading at every boundary from `first` to `last` (inclusive), in time
    order: a backfill, or the fixed workload of the load mode."""
    moment = first
    while moment <= last:
        for meter in meters:
            yield reading_at(meter, moment, interval)
        moment += interval


def replay(path: Path) -> Iterator[OutgoingReading]:
    """Rows `device_id,timestamp,measurement_value` (a header row is optional), sent as
    written; epoch milliseconds stay numbers."""
    with path.open(newline="") as handle:
        for row in csv.reader(handle):
            if not row or row[0].strip().startswith("#") or row[0].strip() == "device_id":
                continue
            device_id, stamp, value = (cell.strip() for cell in row[:3])
            float(value)  # a non-number in the file is the file's error: stop here
            yield OutgoingReading(device_id, int(stamp) if stamp.isdigit() else stamp, value)


@dataclass(frozen=True)
class Faults:
    """Probability a reading is sent twice; size of the windows shuffled; probability a
    reading is held back, and for how many later readings."""

    duplicates: float = 0.0
    reorder: int = 0
    late: float = 0.0
    late_by: int = 500


class FaultInjector:
    """Applies `Faults` to readings fed in chunks (a backfill's slices, a live clock's
    rounds); what it holds back comes out in later chunks, or at `flush`."""

    def __init__(self, faults: Faults, rng: random.Random) -> None:
        self.faults = faults
        self.rng = rng
        self._seen = 0
        self._held: list[tuple[int, OutgoingReading]] = []
        self._shuffling: list[OutgoingReading] = []

    def feed(self, readings: Iterable[OutgoingReading]) -> list[OutgoingReading]:
        f, rng = self.faults, self.rng
        out: list[OutgoingReading] = []
        for reading in readings:
            self._seen += 1
            if f.late > 0 and rng.random() < f.late:
                self._held.append((self._seen + f.late_by, reading))
            else:
                out.append(reading)
                # The repeat a retrying meter sends; the shuffle may move it further on.
                if f.duplicates > 0 and rng.random() < f.duplicates:
                    out.append(reading)
            while self._held and self._held[0][0] <= self._seen:
                out.append(self._held.pop(0)[1])
        if f.reorder <= 1:
            return out
        self._shuffling += out
        whole = len(self._shuffling) - len(self._shuffling) % f.reorder
        ready, self._shuffling = self._shuffling[:whole], self._shuffling[whole:]
        for i in range(0, whole, f.reorder):
            window = ready[i : i + f.reorder]
            rng.shuffle(window)
            ready[i : i + f.reorder] = window
        return ready

    def flush(self) -> list[OutgoingReading]:
        rest = self._shuffling + [reading for _, reading in self._held]
        self._shuffling, self._held = [], []
        if self.faults.reorder > 1:
            self.rng.shuffle(rest)
        return rest
