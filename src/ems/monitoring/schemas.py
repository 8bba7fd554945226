"""Response models of the consumption API (kWh as numbers, hours as UTC ISO timestamps)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

Bucket = Literal["hour", "day", "week", "month"]
ComparePeriod = Literal["day", "week", "month"]
# Money: a number rounded to 4 decimals; null where no tariff prices the consumption, or
# the devices' tariffs are in different currencies.
Money = float | None


class HourValue(BaseModel):
    # The start of the local hour, with its UTC offset (2026-03-29T03:00:00+03:00).
    hour: datetime
    kwh: float
    cost: Money = None


class DayConsumption(BaseModel):
    # None when the figures are the sum of all the caller's devices.
    device_id: uuid.UUID | None
    date: date
    time_zone: str
    unit: Literal["kWh"] = "kWh"
    currency: str | None = None
    # 23, 24 or 25 hours: the local day's.
    hours: list[HourValue]
    total_kwh: float
    total_cost: Money = None


class RangePoint(BaseModel):
    # The bucket's local start, with its UTC offset.
    start: datetime
    kwh: float
    cost: Money = None


class RangeConsumption(BaseModel):
    device_id: uuid.UUID | None
    start: date
    # Inclusive.
    end: date
    bucket: Bucket
    time_zone: str
    unit: Literal["kWh"] = "kWh"
    currency: str | None = None
    points: list[RangePoint]
    total_kwh: float
    total_cost: Money = None


class PeriodFigures(BaseModel):
    # Local dates; `end` exclusive.
    start: date
    end: date
    # When the period is cut (a running one, and the ones compared with it): the local
    # moment it is counted up to; null for a whole period.
    until: datetime | None = None
    kwh: float
    cost: Money = None


class Comparison(BaseModel):
    device_id: uuid.UUID | None
    period: ComparePeriod
    time_zone: str
    currency: str | None = None
    # True while the current period is running: all three cover the same elapsed time.
    partial: bool
    current: PeriodFigures
    previous: PeriodFigures
    year_before: PeriodFigures
    # Null when the base is 0.
    change_vs_previous_pct: float | None
    change_vs_year_before_pct: float | None


class MonthToDate(BaseModel):
    device_id: uuid.UUID | None
    time_zone: str
    # YYYY-MM
    month: str
    kwh: float
    cost: Money = None
    currency: str | None = None
    # The month so far divided by the elapsed fraction of the local month.
    projected_kwh: float
    projected_cost: Money = None
    elapsed_fraction: float


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
