"""Turning a message body into a reading row, or into the reason it is refused."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import ValidationError

from ems.contracts.readings import METER_ID, Reading
from ems.monitoring.ingest.store import ReadingRow
from ems.monitoring.models import MICRO
from ems.monitoring.settings import MonitoringSettings

# Readings that name their meter by meter id are keyed by a stand-in uuid made from it until
# they are matched to the device (held aside, device locks), see `meter_key`.
_METER_NAMESPACE = uuid.UUID("0b9f5a52-7c1e-4f43-8d0e-6a2c9e4b7d15")


def meter_key(meter_id: str) -> uuid.UUID:
    """The uuid a reading naming itself `meter_id` is keyed by before it is matched: the id
    itself when it is a uuid's text, else a stand-in made from it."""
    try:
        return uuid.UUID(meter_id)
    except ValueError:
        return uuid.uuid5(_METER_NAMESPACE, meter_id)


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
        meter_id = _meter_id(data.get("device_id"))
        if meter_id is not None:
            # Validated with a uuid in its place; the reading keeps its meter id.
            data = {**data, "device_id": str(meter_key(meter_id))}
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
        return ReadingRow(reading.device_id, reading.timestamp, micro_kwh, meter_id)


def _meter_id(value: object) -> str | None:
    """The meter id a `device_id` gives (a JSON number 7 or a string "7"), or None when it
    is a uuid (or something the contract model will refuse)."""
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
        if METER_ID.fullmatch(text):
            return text
        raise BadReading("invalid reading: device_id: a meter id is 1 to 64 characters")
    if isinstance(value, str):
        try:
            uuid.UUID(value)
        except ValueError:
            if METER_ID.fullmatch(value):
                return value
            raise BadReading(
                "invalid reading: device_id: neither a uuid nor a meter id "
                "(1 to 64 letters, digits, '-' or '_')"
            ) from None
    return None


def _describe(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
    )
    return f"invalid reading: {problems}"
