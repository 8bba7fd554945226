"""The consumption API's alert history: who may see which device's alerts.

An admin sees every device; a client only the devices they own now, and only from the
first hour of their ownership (owners.py). Any other device id answers 404, so a client
cannot even learn that a device exists. The figures themselves are in figures.py.

Plain SQL on an asyncpg pool: a day's figures are one indexed read of 24 rows, and going
through the ORM session cost forty times the query itself (see docs/benchmarks.md).
"""

from __future__ import annotations

import uuid
from typing import Any

from ems.common.security import Principal
from ems.monitoring.figures import scope_of, viewer
from ems.monitoring.ingest.store import MICRO
from ems.monitoring.owners import visible_hours
from ems.monitoring.schemas import AlertPage, AlertRead

# $1: one device or NULL; a client's visibility joins on $2 (their id).
_ALERTS_FROM = "FROM alerts a JOIN devices d ON d.id = a.device_id {visibility}"
_ALERTS_WHERE = "WHERE NOT d.deleted AND ($1::uuid IS NULL OR a.device_id = $1)"


async def alert_page(
    conn: Any,
    principal: Principal,
    device_id: uuid.UUID | None,
    page: int,
    size: int,
) -> AlertPage:
    """Alerts newest first, of the devices and hours the caller may see."""
    who = await viewer(conn, principal, None)
    scope = await scope_of(conn, who, device_id)
    args: list[Any] = [scope.device_id]
    visibility = ""
    if scope.owner_id is not None:
        visibility = visible_hours("a.device_id", "a.hour", "$2")
        args.append(scope.owner_id)
    source = f"{_ALERTS_FROM.format(visibility=visibility)} {_ALERTS_WHERE}"
    total = await conn.fetchval(f"SELECT count(*) {source}", *args)
    n = len(args)
    rows = await conn.fetch(
        "SELECT a.id, a.device_id, d.name, a.kind, a.hour, a.micro_kwh, a.limit_micro_kwh, "
        f"a.created_at {source} ORDER BY a.created_at DESC, a.id LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
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
