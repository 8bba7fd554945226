"""The consumption API's work: who may see which device, and the figures themselves.

An admin sees every device; a client only the devices whose synced owner is them. Any other
device id answers 404, so a client cannot even learn that a device exists.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.errors import ApiError, not_found
from ems.common.security import Principal
from ems.monitoring.models import Alert, Device, HourlyConsumption
from ems.monitoring.schemas import (
    AlertPage,
    AlertRead,
    Bucket,
    DayConsumption,
    HourValue,
    RangeConsumption,
    RangePoint,
)
from ems.monitoring.store import MICRO

MAX_DAYS = {"hour": 62, "day": 400}


@dataclass(frozen=True)
class Scope:
    """One device, or all devices the caller may see (an owner's, or every one for admins)."""

    device_id: uuid.UUID | None
    owner_id: uuid.UUID | None


async def resolve_scope(
    session: AsyncSession, caller: Principal, device_id: uuid.UUID | None
) -> Scope:
    if device_id is None:
        return Scope(None, None if caller.is_admin else caller.user_id)
    owner = (
        await session.execute(
            select(Device.owner_id).where(Device.id == device_id, Device.deleted.is_(False))
        )
    ).first()
    if owner is None or (not caller.is_admin and owner.owner_id != caller.user_id):
        raise not_found("device")
    return Scope(device_id, None)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


async def bucket_totals(
    session: AsyncSession, scope: Scope, start: datetime, end: datetime, bucket: Bucket
) -> dict[datetime, int]:
    """micro-kWh per hour (or per UTC day) in [start, end) within the scope."""
    h = HourlyConsumption
    period = func.date_trunc(bucket, h.hour, "UTC")
    stmt: Select[Any] = (
        select(period.label("period"), func.sum(h.micro_kwh).label("micro_kwh"))
        .where(h.hour >= start, h.hour < end)
        .group_by(period)
    )
    if scope.device_id is not None:
        stmt = stmt.where(h.device_id == scope.device_id)
    else:
        stmt = stmt.join(Device, Device.id == h.device_id).where(Device.deleted.is_(False))
        if scope.owner_id is not None:
            stmt = stmt.where(Device.owner_id == scope.owner_id)
    rows = (await session.execute(stmt)).all()
    return {row.period: int(row.micro_kwh) for row in rows}


async def day_consumption(
    session: AsyncSession, caller: Principal, device_id: uuid.UUID | None, day: date
) -> DayConsumption:
    scope = await resolve_scope(session, caller, device_id)
    start = day_start(day)
    totals = await bucket_totals(session, scope, start, start + timedelta(days=1), "hour")
    hours = [start + timedelta(hours=i) for i in range(24)]
    return DayConsumption(
        device_id=device_id,
        date=day,
        hours=[HourValue(hour=hour, kwh=totals.get(hour, 0) / MICRO) for hour in hours],
        total_kwh=sum(totals.values()) / MICRO,
    )


async def range_consumption(
    session: AsyncSession,
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
    scope = await resolve_scope(session, caller, device_id)
    start, end = day_start(first), day_start(last + timedelta(days=1))
    totals = await bucket_totals(session, scope, start, end, bucket)
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
    session: AsyncSession,
    caller: Principal,
    device_id: uuid.UUID | None,
    page: int,
    size: int,
) -> AlertPage:
    """Alerts newest first, of the devices the caller may see."""
    scope = await resolve_scope(session, caller, device_id)
    conditions: list[ColumnElement[bool]] = [Device.deleted.is_(False)]
    if scope.device_id is not None:
        conditions.append(Alert.device_id == scope.device_id)
    elif scope.owner_id is not None:
        conditions.append(Device.owner_id == scope.owner_id)
    base = select(Alert, Device.name).join(Device, Device.id == Alert.device_id).where(*conditions)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = (
        await session.execute(
            base.order_by(Alert.created_at.desc(), Alert.id).offset((page - 1) * size).limit(size)
        )
    ).all()
    items = [
        AlertRead(
            id=alert.id,
            device_id=alert.device_id,
            device_name=name or None,
            kind=alert.kind,
            hour=alert.hour,
            kwh=alert.micro_kwh / MICRO,
            limit_kwh=alert.limit_micro_kwh / MICRO,
            created_at=alert.created_at,
        )
        for alert, name in rows
    ]
    return AlertPage(items=items, total=total or 0, page=page, size=size)
