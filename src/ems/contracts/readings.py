"""A meter reading on `ems.data` (routing key `device.<device_id>.reading`), in the format
the earlier systems used, accepted as is from any AMQP client."""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, field_validator

# A device's meter id, which a meter may send instead of the device's uuid: a word of a
# routing key (`device.<meter_id>.reading`), so no dots. The devices service allows these
# only; monitoring and the simulator recognise them.
METER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
METER_ID = re.compile(METER_ID_PATTERN)


def reading_routing_key(device_id: uuid.UUID | str) -> str:
    return f"device.{device_id}.reading"


class Reading(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    device_id: uuid.UUID
    # ISO 8601 (UTC or with an offset) or epoch milliseconds.
    timestamp: datetime
    # kWh used in the interval that ends at `timestamp`.
    measurement_value: float

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch_millis(cls, value: object) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value / 1000, UTC)
            except (OverflowError, OSError, ValueError):
                # NaN, infinities and instants past the year 9999 (1e20: issue 15).
                raise ValueError("epoch milliseconds out of range") from None
        return value

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_validator("measurement_value")
    @classmethod
    def _finite_non_negative(cls, value: float) -> float:
        if not math.isfinite(value) or value < 0:
            raise ValueError("measurement_value must be a finite, non-negative number of kWh")
        return value
