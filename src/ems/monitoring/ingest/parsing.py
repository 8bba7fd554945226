"""Turning a message body into a reading row, or into the reason it is refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import ValidationError

from ems.contracts.readings import Reading
from ems.monitoring.ingest.store import MICRO, ReadingRow
from ems.monitoring.settings import MonitoringSettings


class BadReading(Exception):
    """The message can never become a stored reading; the text says why."""


def to_micro_kwh(kwh: float) -> int:
    """kWh as whole micro-kWh, rounded half-even from the value as the sender wrote it.

    `repr` gives the shortest decimal that reads back as the same float, i.e. the number
    in the JSON; working from it (not from the binary float) keeps 0.1 + 0.2 exact."""
    return int(Decimal(repr(kwh)).scaleb(6).to_integral_value(ROUND_HALF_EVEN))


class ReadingParser:
    def __init__(self, settings: MonitoringSettings) -> None:
        self.retention = timedelta(days=settings.readings_retention_days)
        self.max_future = timedelta(seconds=settings.max_future_seconds)
        self.max_micro_kwh = int(settings.max_reading_kwh * MICRO)

    def parse(self, body: bytes, now: datetime) -> ReadingRow:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise BadReading("not JSON") from None
        if not isinstance(data, dict):
            raise BadReading("not a JSON object")
        # The contract model is lax (it would read `true` or "0.5" as a number): a meter
        # that sends those is broken, and its readings are refused rather than guessed at.
        value = data.get("measurement_value")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadReading("invalid reading: measurement_value: must be a JSON number")
        if isinstance(data.get("timestamp"), bool):
            raise BadReading("invalid reading: timestamp: must be ISO 8601 or epoch milliseconds")
        try:
            reading = Reading.model_validate(data)
        except ValidationError as exc:
            raise BadReading(_describe(exc)) from None
        if reading.timestamp > now + self.max_future:
            raise BadReading(f"timestamp {reading.timestamp.isoformat()} is too far in the future")
        if reading.timestamp < now - self.retention:
            raise BadReading(
                f"timestamp {reading.timestamp.isoformat()} is older than the "
                f"{self.retention.days}-day retention of raw readings"
            )
        micro_kwh = to_micro_kwh(reading.measurement_value)
        if micro_kwh > self.max_micro_kwh:
            raise BadReading(f"measurement_value {reading.measurement_value} kWh is implausible")
        return ReadingRow(reading.device_id, reading.timestamp, micro_kwh)


def _describe(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return f"invalid reading: {problems}"
