"""The meters list (last seen, silent) and the admins' overview of the fleet.

Everything is read from the database, so every replica answers the same: readings per
second are the replicas' per-second counts (`ingest_rates`, written with each batch).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ems.common.paging import like_pattern
from ems.common.security import Principal
from ems.monitoring.figures.consumption import cents, fleet_devices, kwh, money
from ems.monitoring.figures.periods import local_start
from ems.monitoring.schemas import (
    CurrencyAmount,
    MeterItem,
    MeterPage,
    OverLimit,
    Overview,
    SilentItem,
    TopConsumer,
)

TOP = 5
RATE_WINDOW_SECONDS = 60

_OPEN_SILENCE = (
    "LEFT JOIN alerts sa ON sa.device_id = d.id AND sa.kind = 'silent' AND sa.ended_at IS NULL"
)


def _meters_scope(caller: Principal) -> tuple[str, str]:
    """JOINs and conditions of the devices the caller may list ($1: the caller): every one
    (admins) or those they own now; $2: a LIKE pattern on name or meter id, or NULL."""
    if caller.is_admin:
        joins, mine = "", "$1::uuid IS NOT NULL"
    else:
        joins, mine = "JOIN current_owners co ON co.device_id = d.id AND co.owner_id = $1", "true"
    return joins, (
        f"{mine} AND NOT d.deleted AND ($2::text IS NULL OR d.name ILIKE $2 OR d.meter_id ILIKE $2)"
    )


async def meter_page(
    conn: Any, caller: Principal, q: str | None, page: int, size: int
) -> MeterPage:
    """The caller's meters (an admin's: all), by name; `q` matches name or meter id."""
    joins, where = _meters_scope(caller)
    # A blank `q` is no filter.
    pattern = like_pattern(q) if q and not q.isspace() else None
    total = await conn.fetchval(
        f"SELECT count(*) FROM devices d {joins} WHERE {where}",  # noqa: S608
        caller.user_id,
        pattern,
    )
    rows = await conn.fetch(
        "SELECT d.id, d.name, d.owner_id, d.meter_id, d.silence_minutes, s.last_seen_at, "  # noqa: S608
        f"sa.hour AS silent_since FROM devices d {joins} "
        f"LEFT JOIN device_seen s ON s.device_id = d.id {_OPEN_SILENCE} "
        f"WHERE {where} ORDER BY d.name, d.id LIMIT $3 OFFSET $4",
        caller.user_id,
        pattern,
        size,
        (page - 1) * size,
    )
    items = [
        MeterItem(
            device_id=row["id"],
            name=row["name"],
            owner_id=row["owner_id"],
            meter_id=row["meter_id"],
            last_seen_at=row["last_seen_at"],
            silence_minutes=row["silence_minutes"],
            silent=row["silent_since"] is not None,
            silent_since=row["silent_since"],
        )
        for row in rows
    ]
    return MeterPage(items=items, total=total, page=page, size=size)


def local_day(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The caller's local today as a UTC [start, end)."""
    today = now.astimezone(tz).date()
    start, end = local_start(today, tz), local_start(today + timedelta(days=1), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


async def overview(conn: Any, tz: ZoneInfo, now: datetime | None = None) -> Overview:
    now = now or datetime.now(UTC)
    start, end = local_day(now, tz)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    devices_total = await conn.fetchval("SELECT count(*) FROM devices WHERE NOT deleted")
    per_device = await fleet_devices(conn, start, end)
    today_costs: dict[str, Decimal] = {}
    for figure in per_device.values():
        if figure.cost is not None and figure.currency is not None:
            today_costs[figure.currency] = (
                today_costs.get(figure.currency, Decimal(0)) + figure.cost
            )
    top = sorted(per_device.items(), key=lambda item: (-item[1].micro_kwh, item[0]))[:TOP]
    named = {
        row["id"]: row
        for row in await conn.fetch(
            "SELECT id, name, owner_id FROM devices WHERE id = ANY($1::uuid[])",
            [device_id for device_id, _ in top],
        )
    }
    over = await conn.fetch(
        "SELECT h.device_id, d.name, h.micro_kwh, d.max_hourly_micro_kwh "
        "FROM hourly_consumption h JOIN devices d ON d.id = h.device_id "
        "WHERE h.hour = $1 AND NOT d.deleted AND h.micro_kwh > d.max_hourly_micro_kwh "
        "ORDER BY h.micro_kwh DESC, h.device_id",
        this_hour,
    )
    silent = await conn.fetch(
        "SELECT d.id, d.name, a.last_seen_at FROM alerts a JOIN devices d ON d.id = a.device_id "
        "WHERE a.kind = 'silent' AND a.ended_at IS NULL AND NOT d.deleted "
        "ORDER BY a.hour, d.id"
    )
    arrived = await conn.fetchval(
        "SELECT coalesce(sum(readings), 0) FROM ingest_rates "
        "WHERE second >= date_trunc('second', now()) - make_interval(secs => $1) "
        "AND second < date_trunc('second', now())",
        RATE_WINDOW_SECONDS,
    )
    alerts_today = await conn.fetchval(
        "SELECT count(*) FROM alerts a JOIN devices d ON d.id = a.device_id "
        "WHERE a.created_at >= $1 AND a.created_at < $2 AND NOT d.deleted",
        start,
        end,
    )
    return Overview(
        time_zone=tz.key,
        devices_total=devices_total,
        today_kwh=kwh(sum(figure.micro_kwh for figure in per_device.values())),
        today_costs=[
            CurrencyAmount(currency=currency, amount=cents(amount))
            for currency, amount in sorted(today_costs.items())
        ],
        top_consumers=[
            TopConsumer(
                device_id=device_id,
                name=named[device_id]["name"],
                owner_id=named[device_id]["owner_id"],
                kwh=kwh(figure.micro_kwh),
                cost=money(figure.cost) if figure.cost is not None else None,
                currency=figure.currency,
            )
            for device_id, figure in top
        ],
        over_limit_this_hour=[
            OverLimit(
                device_id=row["device_id"],
                name=row["name"],
                kwh=kwh(row["micro_kwh"]),
                limit_kwh=kwh(row["max_hourly_micro_kwh"]),
            )
            for row in over
        ],
        silent_meters=[
            SilentItem(device_id=row["id"], name=row["name"], last_seen_at=row["last_seen_at"])
            for row in silent
        ],
        readings_per_second=round(arrived / RATE_WINDOW_SECONDS, 3),
        alerts_today=alerts_today,
    )
