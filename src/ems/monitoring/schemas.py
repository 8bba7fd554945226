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
    kind: Literal["hourly", "reading", "silent"]
    # Overconsumption: the UTC hour; silent: when the silence began (the last reading, or
    # when the device was first watched if it never sent).
    hour: datetime
    # None for a silent meter.
    kwh: float | None
    limit_kwh: float | None
    created_at: datetime
    # Silent: when the next reading ended the episode (None while it lasts).
    ended_at: datetime | None = None
    last_seen_at: datetime | None = None
    # Whether the caller has read it (read state is per user, kept by the server).
    read: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: uuid.UUID | None = None
    # The alert as a sentence, times in the caller's zone.
    message: str


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    page: int
    size: int


class UnreadCount(BaseModel):
    count: int


class MarkedRead(BaseModel):
    # How many alerts were unread and are read now.
    marked: int


class MeterItem(BaseModel):
    device_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    meter_id: str | None
    # When its latest reading arrived (None: never).
    last_seen_at: datetime | None
    silence_minutes: int | None
    silent: bool
    silent_since: datetime | None


class MeterPage(BaseModel):
    items: list[MeterItem]
    total: int
    page: int
    size: int


class CurrencyAmount(BaseModel):
    currency: str
    amount: float


class TopConsumer(BaseModel):
    device_id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None
    kwh: float
    cost: float | None
    currency: str | None


class OverLimit(BaseModel):
    device_id: uuid.UUID
    name: str
    kwh: float
    limit_kwh: float


class SilentItem(BaseModel):
    device_id: uuid.UUID
    name: str
    last_seen_at: datetime | None


class Overview(BaseModel):
    time_zone: str
    devices_total: int
    # The local day so far, across the fleet.
    today_kwh: float
    today_costs: list[CurrencyAmount]
    top_consumers: list[TopConsumer]
    over_limit_this_hour: list[OverLimit]
    silent_meters: list[SilentItem]
    # Readings that arrived in the last 60 s (every replica's, from the database) / 60.
    readings_per_second: float
    # Alerts raised since the local day began.
    alerts_today: int
