"""The alerts as their readers see them: listing (with the caller's read state and the text
in their zone), per-user read marks pushed to all of the user's sockets, and admins'
acknowledgement. See alerts/notify.py for how alerts are raised and pushed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ems.common.errors import not_found
from ems.common.security import Principal
from ems.contracts.ws import AlertsRead, Audience
from ems.monitoring.alerts.notify import alert_message, push
from ems.monitoring.figures.consumption import Viewer, kwh, scope_of, viewer
from ems.monitoring.schemas import AlertPage, AlertRead
from ems.monitoring.sync.owners import visible_hours

_COLUMNS = """
a.id, a.device_id, d.name, a.kind, a.hour, a.micro_kwh, a.limit_micro_kwh, a.created_at,
a.ended_at, a.last_seen_at, a.silence_minutes, a.acknowledged_at, a.acknowledged_by,
(r.alert_id IS NOT NULL) AS read
"""


def _visible(who: Viewer) -> str:
    """FROM/JOIN/WHERE of the alerts the caller may see, `$1` being the caller and `r`
    their read marks. Clients: devices they own now, hours of their current ownership."""
    scope = "" if who.is_admin else visible_hours("a.device_id", "a.hour", "$1")
    return (
        f"FROM alerts a JOIN devices d ON d.id = a.device_id {scope} "
        "LEFT JOIN alert_reads r ON r.alert_id = a.id AND r.user_id = $1 "
        "WHERE NOT d.deleted"
    )


def _alert(row: Any, tz: ZoneInfo, now: datetime) -> AlertRead:
    micro, limit = row["micro_kwh"], row["limit_micro_kwh"]
    return AlertRead(
        id=row["id"],
        device_id=row["device_id"],
        device_name=row["name"] or None,
        kind=row["kind"],
        hour=row["hour"],
        kwh=kwh(micro) if micro is not None else None,
        limit_kwh=kwh(limit) if limit is not None else None,
        created_at=row["created_at"],
        ended_at=row["ended_at"],
        last_seen_at=row["last_seen_at"],
        read=row["read"],
        acknowledged_at=row["acknowledged_at"],
        acknowledged_by=row["acknowledged_by"],
        message=alert_message(
            row["kind"],
            row["name"],
            row["hour"],
            micro,
            limit,
            row["last_seen_at"],
            row["silence_minutes"],
            row["ended_at"],
            tz,
            now,
        ),
    )


async def alert_page(
    conn: Any,
    principal: Principal,
    device_id: uuid.UUID | None,
    unread: bool | None,
    kind: str | None,
    page: int,
    size: int,
) -> AlertPage:
    """The caller's alerts, newest first; a device they may not see is a 404."""
    who = await viewer(conn, principal, None)
    await scope_of(conn, who, device_id)
    where = (
        f"{_visible(who)} AND ($2::uuid IS NULL OR a.device_id = $2) "
        "AND ($3::text IS NULL OR a.kind = $3) "
        "AND ($4::boolean IS NULL OR (r.alert_id IS NULL) = $4)"
    )
    args = (who.user_id, device_id, kind, unread)
    total = await conn.fetchval(f"SELECT count(*) {where}", *args)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} {where} ORDER BY a.created_at DESC, a.id LIMIT $5 OFFSET $6",
        *args,
        size,
        (page - 1) * size,
    )
    now = datetime.now(UTC)
    return AlertPage(
        items=[_alert(row, who.zone, now) for row in rows], total=total, page=page, size=size
    )


async def unread_count(conn: Any, principal: Principal) -> int:
    return await _unread(conn, await viewer(conn, principal, None))


async def _unread(conn: Any, who: Viewer) -> int:
    return int(
        await conn.fetchval(
            f"SELECT count(*) {_visible(who)} AND r.alert_id IS NULL",
            who.user_id,
        )
    )


async def mark_read(conn: Any, principal: Principal, alert_id: uuid.UUID) -> None:
    """One alert read by the caller (again: no change); every socket of theirs hears it."""
    who = await viewer(conn, principal, None)
    async with conn.transaction():
        await _visible_alert(conn, who, alert_id, "a.id")
        await conn.execute(
            "INSERT INTO alert_reads (user_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            who.user_id,
            alert_id,
        )
        await _tell_sockets(conn, who, [alert_id])


async def mark_all_read(conn: Any, principal: Principal) -> int:
    """Every alert the caller may see, read; returns how many were unread."""
    who = await viewer(conn, principal, None)
    async with conn.transaction():
        status = await conn.execute(
            "INSERT INTO alert_reads (user_id, alert_id) "
            f"SELECT $1, a.id {_visible(who)} AND r.alert_id IS NULL "
            "ON CONFLICT DO NOTHING",
            who.user_id,
        )
        marked = int(status.rsplit(" ", 1)[-1])
        await _tell_sockets(conn, who, None)
    return marked


async def _tell_sockets(conn: Any, who: Viewer, ids: list[uuid.UUID] | None) -> None:
    """`alerts.read` with the new unread count, to every socket of the caller's (all
    their tabs and browsers), in the marking's transaction."""
    count = await _unread(conn, who)
    await push(conn, AlertsRead(ids=ids, unread_count=count), Audience(user_ids=[who.user_id]))


async def acknowledge(conn: Any, principal: Principal, alert_id: uuid.UUID) -> AlertRead:
    """An admin takes the alert on (the first acknowledgement stays)."""
    who = await viewer(conn, principal, None)
    async with conn.transaction():
        # Refused (404) before anything is written, as mark_read is.
        await _visible_alert(conn, who, alert_id, "a.id")
        await conn.execute(
            "UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2 "
            "WHERE id = $1 AND acknowledged_at IS NULL",
            alert_id,
            who.user_id,
        )
        row = await _visible_alert(conn, who, alert_id, _COLUMNS)
    return _alert(row, who.zone, datetime.now(UTC))


async def _visible_alert(conn: Any, who: Viewer, alert_id: uuid.UUID, columns: str) -> Any:
    """The alert's `columns` if the caller may see it; 404 otherwise (as for any alert
    that is not theirs)."""
    row = await conn.fetchrow(
        f"SELECT {columns} {_visible(who)} AND a.id = $2", who.user_id, alert_id
    )
    if row is None:
        raise not_found("alert")
    return row
