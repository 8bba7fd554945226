"""The consumption API's work: who may see which device, and the figures themselves.

An admin sees every device; a client only the devices whose synced owner is them. Any other
device id answers 404, so a client cannot even learn that a device exists.

Plain SQL on an asyncpg pool: a day's figures are one indexed read of 24 rows, and going
through the ORM session cost forty times the query itself (see docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ems.common.errors import ApiError, not_found
from ems.common.security import Principal
from ems.monitoring.ingest.store import MICRO
from ems.monitoring.schemas import (
    AlertPage,
    AlertRead,
    Bucket,
    DayConsumption,
    HourValue,
    RangeConsumption,
    RangePoint,
)

MAX_DAYS = {"hour": 62, "day": 400}

_ONE_DEVICE = """
SELECT date_trunc($4, hour, 'UTC') AS period, sum(micro_kwh)::bigint AS micro_kwh
FROM hourly_consumption WHERE device_id = $1 AND hour >= $2 AND hour < $3 GROUP BY 1
"""
# $4: the owner, or NULL for every device (admins).
_ALL_DEVICES = """
SELECT date_trunc($3, h.hour, 'UTC') AS period, sum(h.micro_kwh)::bigint AS micro_kwh
FROM hourly_consumption h JOIN devices d ON d.id = h.device_id
WHERE h.hour >= $1 AND h.hour < $2 AND NOT d.deleted AND ($4::uuid IS NULL OR d.owner_id = $4)
GROUP BY 1
"""
_ALERTS_WHERE = """
FROM alerts a JOIN devices d ON d.id = a.device_id
WHERE NOT d.deleted AND ($1::uuid IS NULL OR a.device_id = $1)
  AND ($2::uuid IS NULL OR d.owner_id = $2)
"""


@dataclass(frozen=True)
class Scope:
    """One device, or all devices the caller may see (an owner's, or every one for admins)."""

    device_id: uuid.UUID | None
    owner_id: uuid.UUID | None


async def resolve_scope(conn: Any, caller: Principal, device_id: uuid.UUID | None) -> Scope:
    if device_id is None:
        return Scope(None, None if caller.is_admin else caller.user_id)
    owner = await conn.fetchrow(
        "SELECT owner_id FROM devices WHERE id = $1 AND NOT deleted", device_id
    )
    if owner is None or (not caller.is_admin and owner["owner_id"] != caller.user_id):
        raise not_found("device")
    return Scope(device_id, None)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def bucket_totals(
    conn: Any, scope: Scope, start: datetime, end: datetime, bucket: Bucket
) -> dict[datetime, int]:
    """micro-kWh per hour (or per UTC day) in [start, end) within the scope."""
    if scope.device_id is not None:
        rows = await conn.fetch(_ONE_DEVICE, scope.device_id, start, end, bucket)
    else:
        rows = await conn.fetch(_ALL_DEVICES, start, end, bucket, scope.owner_id)
    return {row["period"]: row["micro_kwh"] for row in rows}


async def day_consumption(
    conn: Any, caller: Principal, device_id: uuid.UUID | None, day: date
) -> DayConsumption:
    scope = await resolve_scope(conn, caller, device_id)
    start = day_start(day)
    totals = await bucket_totals(conn, scope, start, start + timedelta(days=1), "hour")
    hours = [start + timedelta(hours=i) for i in range(24)]
    return DayConsumption(
        device_id=device_id,
        date=day,
        hours=[HourValue(hour=hour, kwh=totals.get(hour, 0) / MICRO) for hour in hours],
        total_kwh=sum(totals.values()) / MICRO,
    )


async def range_consumption(
    conn: Any,
    caller: Principal,
    device_id: uuid.UUID | None,
    first: date,
    last: date,
    bucket: Bucket,
) -> RangeConsumption:
    if last < first:
        raise ApiError(422, "invalid_range", "end is before start")
    if (last - first).days + 1 > MAX_DAYS[bucket]:
        raise ApiError(
            422,
            "range_too_long",
            f"at most {MAX_DAYS[bucket]} days with {bucket}ly buckets",
        )
    scope = await resolve_scope(conn, caller, device_id)
    start, end = day_start(first), day_start(last + timedelta(days=1))
    totals = await bucket_totals(conn, scope, start, end, bucket)
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    points: list[RangePoint] = []
    moment = start
    while moment < end:
        points.append(RangePoint(start=moment, kwh=totals.get(moment, 0) / MICRO))
        moment += step
    return RangeConsumption(
        device_id=device_id,
        start=first,
        end=last,
        bucket=bucket,
        points=points,
        total_kwh=sum(totals.values()) / MICRO,
    )


def consumption_csv(figures: RangeConsumption) -> str:
    """The range as CSV: one row per bucket, UTC start and kWh."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["device_id", "period_start_utc", "kwh"])
    device = str(figures.device_id) if figures.device_id else "all"
    for point in figures.points:
        writer.writerow([device, point.start.isoformat().replace("+00:00", "Z"), point.kwh])
    return out.getvalue()


async def alert_page(
    conn: Any,
    caller: Principal,
    device_id: uuid.UUID | None,
    page: int,
    size: int,
) -> AlertPage:
    """Alerts newest first, of the devices the caller may see."""
    scope = await resolve_scope(conn, caller, device_id)
    total = await conn.fetchval(f"SELECT count(*) {_ALERTS_WHERE}", scope.device_id, scope.owner_id)
    rows = await conn.fetch(
        "SELECT a.id, a.device_id, d.name, a.kind, a.hour, a.micro_kwh, a.limit_micro_kwh, "
        f"a.created_at {_ALERTS_WHERE} ORDER BY a.created_at DESC, a.id LIMIT $3 OFFSET $4",
        scope.device_id,
        scope.owner_id,
        size,
        (page - 1) * size,
    )
    items = [
        AlertRead(
            id=row["id"],
            device_id=row["device_id"],
            device_name=row["name"] or None,
            kind=row["kind"],
            hour=row["hour"],
            kwh=row["micro_kwh"] / MICRO,
            limit_kwh=row["limit_micro_kwh"] / MICRO,
            created_at=row["created_at"],
        )
        for row in rows
    ]
    return AlertPage(items=items, total=total, page=page, size=size)
