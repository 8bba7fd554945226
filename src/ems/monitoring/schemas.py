"""Response models of the consumption API (kWh as numbers, hours as UTC ISO timestamps)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

Bucket = Literal["hour", "day"]


class HourValue(BaseModel):
    hour: datetime
    kwh: float


class DayConsumption(BaseModel):
    # None when the figures are the sum of all the caller's devices.
    device_id: uuid.UUID | None
    date: date
    unit: Literal["kWh"] = "kWh"
    hours: list[HourValue]
    total_kwh: float


class RangePoint(BaseModel):
    start: datetime
    kwh: float


class RangeConsumption(BaseModel):
    device_id: uuid.UUID | None
    start: date
    # Inclusive.
    end: date
    bucket: Bucket
    unit: Literal["kWh"] = "kWh"
    points: list[RangePoint]
    total_kwh: float


class AlertRead(BaseModel):
    id: uuid.UUID
    device_id: uuid.UUID
    device_name: str | None
    kind: Literal["hourly", "reading"]
    hour: datetime
    kwh: float
    limit_kwh: float
    created_at: datetime


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    page: int
    size: int
