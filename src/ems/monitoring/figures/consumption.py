"""The consumption figures: kWh and cost per local hour, day, week or month, comparisons
and the month so far, in the caller's zone, of the devices and hours the caller may see.

Zones: the caller's profile zone (monitoring's copy of users), or `tz`; hours stay UTC in
the database and are grouped by the local period their start falls in (periods.py).

Cost: a kWh of hour H of device D costs the price of D's tariff band whose [start, end)
(the device OWNER's local time, wrapping midnight when start > end) holds H's local start,
else the tariff's `price_per_kwh`. The current tariff prices all history. Devices without
a tariff add kWh but no cost; with no tariff at all, or tariffs in different currencies,
cost and currency are null. Money is exact (numeric) until rounded to 4 decimals.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from ems.common.deps import account_gone
from ems.common.errors import ApiError
from ems.common.security import Principal
from ems.common.timezones import DEFAULT_TIME_ZONE
from ems.monitoring.figures.periods import (
    Bucket,
    Period,
    Window,
    bucket_keys,
    hour_span,
    hours_between,
    local_start,
    month_start,
    next_month,
    period_window,
    previous_window,
    year_before_window,
)
from ems.monitoring.models import MICRO
from ems.monitoring.schemas import (
    Comparison,
    DayConsumption,
    HourValue,
    MonthToDate,
    PeriodFigures,
    RangeConsumption,
    RangePoint,
)
from ems.monitoring.sync.owners import Scope, resolve_scope, visible_hours

# Longest range per bucket, in days: hourly points for about a quarter, others 3 years.
MAX_DAYS: dict[str, int] = {"hour": 93, "day": 1096, "week": 1096, "month": 1096}
CENT = Decimal("0.0001")

# The one pricing rule (every figure: day, range, compare, month so far, the overview's
# costs). kWh per UTC hour, tariff and owner zone first (a fleet's day is 24 hours times a
# few tariffs and zones, however many devices; per device with `{device}` = h.device_id),
# then each such sum priced once: by the band holding the hour's local start minute in that
# zone, else the tariff's own price. Rows per `{period}` and currency (NULL: no tariff).
_PRICED = """
WITH hours AS (
    SELECT h.hour, {device} AS device_id, d.tariff_id,
           coalesce(u.time_zone, 'UTC') AS owner_zone, sum(h.micro_kwh)::bigint AS micro_kwh
    FROM hourly_consumption h
    JOIN devices d ON d.id = h.device_id
    {visibility}
    LEFT JOIN users u ON u.id = d.owner_id
    WHERE h.hour >= $1 AND h.hour < $2 AND NOT d.deleted AND {devices}
    GROUP BY 1, 2, 3, 4
)
SELECT {period} AS period, t.currency,
       sum(p.micro_kwh)::bigint AS micro_kwh,
       sum(p.micro_kwh * coalesce(band.price, t.price_per_kwh)) AS micro_cost
FROM hours p
LEFT JOIN tariffs t ON t.id = p.tariff_id AND NOT t.deleted
LEFT JOIN LATERAL (
    SELECT b.price_per_kwh AS price
    FROM tariff_bands b,
         LATERAL (SELECT p.hour AT TIME ZONE p.owner_zone AS clock) l,
         LATERAL (SELECT (extract(hour FROM l.clock) * 60
                          + extract(minute FROM l.clock))::int AS minute) m
    WHERE t.id IS NOT NULL AND b.tariff_id = t.id
      AND CASE WHEN b.start_minute < b.end_minute
               THEN m.minute >= b.start_minute AND m.minute < b.end_minute
               ELSE m.minute >= b.start_minute OR m.minute < b.end_minute END
    LIMIT 1
) band ON true
GROUP BY 1, 2
"""
# The scope's figures per bucket. $3: the bucket ('hour': the UTC hour itself), $4: the
# zone the buckets are local to, $5: one device or NULL, $6: the client (visibility).
_BUCKETS = _PRICED.format(
    device="NULL::uuid",
    devices="($5::uuid IS NULL OR h.device_id = $5)",
    period="CASE WHEN $3 = 'hour' THEN p.hour ELSE date_trunc($3, p.hour, $4) END",
    visibility="{visibility}",
)
# Every device's kWh and cost of its hours in [$1, $2) (the fleet: admins only).
_FLEET_DEVICES = _PRICED.format(
    device="h.device_id", devices="true", period="p.device_id", visibility=""
)
_CURRENCIES = """
SELECT DISTINCT t.currency FROM devices d {visibility}
JOIN tariffs t ON t.id = d.tariff_id AND NOT t.deleted
WHERE NOT d.deleted AND ($1::uuid IS NULL OR d.id = $1)
"""


@dataclass(frozen=True)
class Viewer:
    """The caller as monitoring knows them: role from the users copy (a token's role may be
    stale), and the zone figures are shown in."""

    user_id: uuid.UUID
    is_admin: bool
    zone: ZoneInfo

    @property
    def time_zone(self) -> str:
        return self.zone.key


async def viewer(conn: Any, principal: Principal, tz: str | None) -> Viewer:
    """`tz` (already checked against the zone database) or the caller's profile zone."""
    row = await conn.fetchrow(
        "SELECT role, time_zone, deleted FROM users WHERE id = $1", principal.user_id
    )
    if row is not None and row["deleted"]:
        raise account_gone()
    # Not copied yet (a user created a moment ago): the fresh token's role, UTC.
    role = row["role"] if row is not None else principal.role
    name = tz or (row["time_zone"] if row is not None else DEFAULT_TIME_ZONE)
    return Viewer(principal.user_id, role == "ADMIN", ZoneInfo(name))


async def scope_of(conn: Any, who: Viewer, device_id: uuid.UUID | None) -> Scope:
    return await resolve_scope(conn, who.user_id, who.is_admin, device_id)


def cents(value: Decimal) -> float:
    """An amount of money as answered: to the hundredth of a cent, half up."""
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def money(value: Decimal | None) -> float | None:
    return None if value is None else cents(value)


def kwh(micro: int) -> float:
    return round(micro / MICRO, 6)


@dataclass
class Figures:
    """micro-kWh and exact cost per bucket key (a UTC hour, or a local date naming a day,
    week or month); cost None when the scope's consumption has no single currency."""

    micro: dict[Any, int]
    cost: dict[Any, Decimal]
    currency: str | None

    def kwh_of(self, key: Any) -> float:
        return kwh(self.micro.get(key, 0))

    def cost_of(self, key: Any) -> float | None:
        if self.currency is None:
            return None
        return money(self.cost.get(key, Decimal(0)))

    @property
    def total_kwh(self) -> float:
        return kwh(sum(self.micro.values()))

    @property
    def total_cost(self) -> float | None:
        return None if self.currency is None else money(sum(self.cost.values(), Decimal(0)))


async def currency_of(conn: Any, scope: Scope) -> str | None:
    """The one currency of the scope's tariffs; None without any, or with several."""
    if scope.owner_id is None:
        rows = await conn.fetch(_CURRENCIES.format(visibility=""), scope.device_id)
    else:
        visibility = "JOIN current_owners co ON co.device_id = d.id AND co.owner_id = $2"
        rows = await conn.fetch(
            _CURRENCIES.format(visibility=visibility), scope.device_id, scope.owner_id
        )
    return rows[0]["currency"] if len(rows) == 1 else None


async def figures(
    conn: Any,
    scope: Scope,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    currency: str | None,
) -> Figures:
    """The scope's figures for UTC hours [start, end), per bucket; a client's only from the
    hours they may see (sync/owners.py)."""
    args: list[Any] = [start, end, bucket, zone.key, scope.device_id]
    visibility = ""
    if scope.owner_id is not None:
        visibility = visible_hours("h.device_id", "h.hour", "$6")
        args.append(scope.owner_id)
    try:
        rows = await conn.fetch(_BUCKETS.format(visibility=visibility), *args)
    except asyncpg.InvalidParameterValueError as exc:
        # A zone this process knows but the database's older zone files do not.
        raise ApiError(422, "unknown_time_zone", f"the database does not know {zone.key}") from exc
    result = Figures({}, {}, currency)
    for row in rows:
        period: datetime = row["period"]
        key: Any = period if bucket == "hour" else period.astimezone(zone).date()
        # A bucket has a row per currency (and one for devices without a tariff).
        result.micro[key] = result.micro.get(key, 0) + row["micro_kwh"]
        if row["micro_cost"] is not None:
            result.cost[key] = result.cost.get(key, Decimal(0)) + row["micro_cost"] / MICRO
    return result


@dataclass(frozen=True)
class DeviceFigure:
    micro_kwh: int
    # With its tariff's currency; None for a device without a tariff.
    cost: Decimal | None
    currency: str | None


async def fleet_devices(conn: Any, start: datetime, end: datetime) -> dict[uuid.UUID, DeviceFigure]:
    """Each device's kWh and cost of its hours in [start, end) (devices with none are
    absent), in one read and by the same rule as every other figure."""
    rows = await conn.fetch(_FLEET_DEVICES, start, end)
    return {
        row["period"]: DeviceFigure(
            row["micro_kwh"],
            row["micro_cost"] / MICRO if row["currency"] is not None else None,
            row["currency"],
        )
        for row in rows
    }


def _check_range(first: date, last: date, bucket: Bucket) -> None:
    if last < first:
        raise ApiError(422, "invalid_range", "end is before start")
    if (last - first).days + 1 > MAX_DAYS[bucket]:
        raise ApiError(
            422, "range_too_long", f"at most {MAX_DAYS[bucket]} days with {bucket}ly buckets"
        )


async def day_consumption(
    conn: Any, principal: Principal, device_id: uuid.UUID | None, day: date, tz: str | None
) -> DayConsumption:
    who = await viewer(conn, principal, tz)
    scope = await scope_of(conn, who, device_id)
    start, end = hour_span(day, day, who.zone)
    found = await figures(conn, scope, who.zone, start, end, "hour", await currency_of(conn, scope))
    return DayConsumption(
        device_id=device_id,
        date=day,
        time_zone=who.time_zone,
        currency=found.currency,
        hours=[
            HourValue(
                hour=hour.astimezone(who.zone), kwh=found.kwh_of(hour), cost=found.cost_of(hour)
            )
            for hour in hours_between(start, end)
        ],
        total_kwh=found.total_kwh,
        total_cost=found.total_cost,
    )


async def range_consumption(
    conn: Any,
    principal: Principal,
    device_id: uuid.UUID | None,
    first: date,
    last: date,
    bucket: Bucket,
    tz: str | None,
) -> RangeConsumption:
    """Zero-filled buckets of local days `first` to `last`; a week (Monday) or month
    bucket is named by its first day even when the range starts later in it, and counts
    only the range's days."""
    _check_range(first, last, bucket)
    who = await viewer(conn, principal, tz)
    scope = await scope_of(conn, who, device_id)
    start, end = hour_span(first, last, who.zone)
    found = await figures(conn, scope, who.zone, start, end, bucket, await currency_of(conn, scope))
    if bucket == "hour":
        points = [
            RangePoint(
                start=hour.astimezone(who.zone), kwh=found.kwh_of(hour), cost=found.cost_of(hour)
            )
            for hour in hours_between(start, end)
        ]
    else:
        points = [
            RangePoint(
                start=local_start(key, who.zone), kwh=found.kwh_of(key), cost=found.cost_of(key)
            )
            for key in bucket_keys(bucket, first, last)
        ]
    return RangeConsumption(
        device_id=device_id,
        start=first,
        end=last,
        bucket=bucket,
        time_zone=who.time_zone,
        currency=found.currency,
        points=points,
        total_kwh=found.total_kwh,
        total_cost=found.total_cost,
    )


def consumption_csv(figures: RangeConsumption) -> str:
    """The range as CSV: each bucket's local start (with its offset), kWh, cost and
    currency (both empty without a tariff)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["start", "kwh", "cost", "currency"])
    for point in figures.points:
        cost = "" if point.cost is None else point.cost
        writer.writerow([point.start.isoformat(), point.kwh, cost, figures.currency or ""])
    return out.getvalue()


def _change(current: int, base: int) -> float | None:
    if base == 0:
        return None
    return round(float((Decimal(current) - Decimal(base)) / Decimal(base) * 100), 2)


async def comparison(
    conn: Any,
    principal: Principal,
    device_id: uuid.UUID | None,
    period: Period,
    day: date,
    tz: str | None,
    now: datetime | None = None,
) -> Comparison:
    """The day, week or month holding `day` against the one before and the same one a
    year earlier; a running period against the same elapsed time of the other two."""
    who = await viewer(conn, principal, tz)
    scope = await scope_of(conn, who, device_id)
    currency = await currency_of(conn, scope)
    now = now or datetime.now(UTC)
    current = period_window(period, day, who.zone)
    previous = previous_window(period, current)
    year_before = year_before_window(period, current)
    partial = current.running_at(now)
    if partial:
        elapsed = current.elapsed(now)
        current = Window(current.first, current.end, current.zone, now)
        previous, year_before = previous.cut_after(elapsed), year_before.cut_after(elapsed)

    async def measure(window: Window) -> tuple[PeriodFigures, int]:
        """The window's figures, and its exact micro-kWh (what % changes compare)."""
        found = await figures(
            conn, scope, who.zone, window.start_utc, window.end_utc, "hour", currency
        )
        until = window.cut.astimezone(who.zone) if window.cut is not None else None
        return (
            PeriodFigures(
                start=window.first,
                end=window.end,
                until=until,
                kwh=found.total_kwh,
                cost=found.total_cost,
            ),
            sum(found.micro.values()),
        )

    now_figures, now_micro = await measure(current)
    before, before_micro = await measure(previous)
    last_year, last_year_micro = await measure(year_before)
    return Comparison(
        device_id=device_id,
        period=period,
        time_zone=who.time_zone,
        currency=currency,
        partial=partial,
        current=now_figures,
        previous=before,
        year_before=last_year,
        change_vs_previous_pct=_change(now_micro, before_micro),
        change_vs_year_before_pct=_change(now_micro, last_year_micro),
    )


async def month_to_date(
    conn: Any,
    principal: Principal,
    device_id: uuid.UUID | None,
    tz: str | None,
    now: datetime | None = None,
) -> MonthToDate:
    """The local month so far, and where it is heading: so far / elapsed fraction."""
    who = await viewer(conn, principal, tz)
    scope = await scope_of(conn, who, device_id)
    currency = await currency_of(conn, scope)
    now = now or datetime.now(UTC)
    today = now.astimezone(who.zone).date()
    first = month_start(today)
    began, ends = local_start(first, who.zone), local_start(next_month(first), who.zone)
    fraction = (now - began) / (ends - began)
    window = Window(first, next_month(first), who.zone, now)
    found = await figures(conn, scope, who.zone, window.start_utc, window.end_utc, "hour", currency)
    micro = sum(found.micro.values())
    cost = sum(found.cost.values(), Decimal(0))
    projected_micro = Decimal(micro) / Decimal(fraction) if fraction > 0 else Decimal(0)
    return MonthToDate(
        device_id=device_id,
        time_zone=who.time_zone,
        month=first.strftime("%Y-%m"),
        kwh=found.total_kwh,
        cost=found.total_cost,
        currency=currency,
        projected_kwh=kwh(int(projected_micro)),
        projected_cost=(
            money(cost / Decimal(fraction)) if currency is not None and fraction > 0 else None
        ),
        elapsed_fraction=round(fraction, 6),
    )
