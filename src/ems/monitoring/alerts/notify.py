"""Alerts people can act on: their texts in the reader's zone, who they are pushed to,
per-user read state, acknowledgement, silent meters and the admins' digest.

- Overconsumption (`hourly`, `reading`) and silent-meter alerts are pushed to the device's
  owner only (`notify.overconsumption`, `notify.silent`, `notify.meter_back`), the text in
  the owner's zone; admins get one `notify.digest` per `EMS_ALERT_DIGEST_SECONDS` window in
  which something happened, instead of a toast per alert of every device.
- Read state is the server's (`alert_reads`), so every tab and browser of a user shows the
  same unread count; marking pushes `alerts.read` to all of the user's sockets.
- A device with `silence_minutes` whose last reading (or, never having sent, the moment it
  was first watched) is older than that gets one open `silent` alert; the partial unique
  index makes it one per episode whichever replica's checker gets there first, and the
  device's next reading ends it (store.py).
Pushes go through the outbox in the transaction that made them. Listing, read marks and
acknowledgement: monitoring/service.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ems.common.outbox import add_ws_message_on_driver
from ems.contracts.ws import (
    AlertDigest,
    Audience,
    DigestDevice,
    MeterBack,
    SilentMeter,
    WsBody,
)
from ems.monitoring.models import MICRO, outbox
from ems.monitoring.sync.owners import owner_if_visible

log = logging.getLogger(__name__)

DIGEST_TOP = 5


# --- texts ------------------------------------------------------------------------------


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


async def user_zones(conn: Any, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Each user's profile zone from monitoring's copy of users (absent: UTC)."""
    ids = list({u for u in user_ids if u is not None})
    if not ids:
        return {}
    rows = await conn.fetch("SELECT id, time_zone FROM users WHERE id = ANY($1::uuid[])", ids)
    return {row["id"]: row["time_zone"] for row in rows}


def _clock(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    """`14:05` on the reader's today, else `2026-03-28 14:05`, in their zone."""
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def _name(name: str | None) -> str:
    return name or "A device"


def alert_message(
    kind: str,
    device_name: str | None,
    hour: datetime,
    micro_kwh: int | None,
    limit_micro_kwh: int | None,
    last_seen_at: datetime | None,
    silence_minutes: int | None,
    ended_at: datetime | None,
    tz: ZoneInfo,
    now: datetime,
) -> str:
    """The alert as a sentence, times in `tz` (the reader's zone)."""
    name = _name(device_name)
    if kind == "silent":
        since = last_seen_at or hour
        said = "its last reading came" if last_seen_at is not None else "it was added"
        limit = f"{silence_minutes} minutes" if silence_minutes else "its silence limit"
        text = (
            f"{name} has sent nothing since {_clock(since, tz, now)} ({said} then; limit {limit})"
        )
        if ended_at is not None:
            text = (
                f"{name} was silent from {_clock(since, tz, now)} until {_clock(ended_at, tz, now)}"
            )
        return text
    kwh = (micro_kwh or 0) / MICRO
    limit_kwh = (limit_micro_kwh or 0) / MICRO
    start = _clock(hour, tz, now)
    end = f"{(hour + timedelta(hours=1)).astimezone(tz):%H:%M}"
    if kind == "reading":
        return (
            f"{name} sent a single reading of {kwh:.2f} kWh between {start} and {end}, "
            f"over the {limit_kwh:.2f} kWh limit for one reading"
        )
    return (
        f"{name} used {kwh:.2f} kWh between {start} and {end}, over its {limit_kwh:.2f} kWh limit"
    )


def meter_back_message(
    device_name: str | None, since: datetime, ended_at: datetime, tz: ZoneInfo, now: datetime
) -> str:
    return (
        f"{_name(device_name)} is sending again since {_clock(ended_at, tz, now)} "
        f"(silent since {_clock(since, tz, now)})"
    )


# --- pushes -------------------------------------------------------------------------------


async def push(
    conn: Any, body: WsBody, audience: Audience, event_id: uuid.UUID | None = None
) -> None:
    """A message for connected users, in the caller's transaction (the outbox relays it)."""
    await add_ws_message_on_driver(conn, outbox, body, audience, event_id=event_id)


def owner_only(owner_id: uuid.UUID | None) -> Audience | None:
    """The owner alone (a device without an owner has nobody to tell)."""
    return Audience(user_ids=[owner_id]) if owner_id is not None else None


async def end_silences(conn: Any, device_ids: list[uuid.UUID]) -> int:
    """A reading arrived from these devices: their open silent episodes end now, and each
    owner hears `notify.meter_back`. Runs after last_seen_at was written, in its own
    statement (a checker that raised an episode meanwhile is then seen)."""
    if not device_ids:
        return 0
    ended = await conn.fetch(
        "UPDATE alerts a SET ended_at = now() FROM devices d "  # noqa: S608
        "WHERE a.kind = 'silent' AND a.ended_at IS NULL AND a.device_id = ANY($1::uuid[]) "
        "AND d.id = a.device_id "
        "RETURNING a.id, a.device_id, a.hour, a.last_seen_at, a.ended_at, d.name, "
        f"{owner_if_visible('d.id', 'd.owner_id', 'a.hour')} AS owner_id",
        device_ids,
    )
    if not ended:
        return 0
    zones = await user_zones(conn, (row["owner_id"] for row in ended))
    now = datetime.now(UTC)
    for row in ended:
        audience = owner_only(row["owner_id"])
        if audience is None:
            continue
        tz = zone(zones.get(row["owner_id"]))
        since = row["last_seen_at"] or row["hour"]
        body = MeterBack(
            id=row["id"],
            device_id=row["device_id"],
            device_name=row["name"] or None,
            ended_at=row["ended_at"],
            message=meter_back_message(row["name"], since, row["ended_at"], tz, now),
        )
        await push(conn, body, audience)
    return len(ended)


# --- silent meters ------------------------------------------------------------------------

# Devices watched for silence that have no row yet start being watched from their last
# change (for a new device: its creation).
_WATCH_NEW = """
INSERT INTO device_seen (device_id, last_seen_at, watch_from)
SELECT d.id, NULL, d.updated_at FROM devices d
WHERE NOT d.deleted AND d.silence_minutes IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM device_seen s WHERE s.device_id = d.id)
ON CONFLICT DO NOTHING
"""
# FOR UPDATE OF s: a batch writing the device's last_seen_at meanwhile waits for this
# transaction and then ends the episode it raised; SKIP LOCKED: a batch holding the row
# wins, and the device is looked at again next round.
_RAISE_SILENT = """
WITH due AS (
    SELECT s.device_id, s.last_seen_at, coalesce(s.last_seen_at, s.watch_from) AS since,
           d.silence_minutes
    FROM device_seen s JOIN devices d ON d.id = s.device_id
    WHERE NOT d.deleted AND d.silence_minutes IS NOT NULL
      AND coalesce(s.last_seen_at, s.watch_from)
          < now() - make_interval(mins => d.silence_minutes)
      AND NOT EXISTS (SELECT 1 FROM alerts a
                      WHERE a.device_id = s.device_id AND a.kind = 'silent'
                        AND a.ended_at IS NULL)
    ORDER BY s.device_id
    LIMIT 1000
    FOR UPDATE OF s SKIP LOCKED
), raised AS (
    INSERT INTO alerts (id, device_id, hour, kind, created_at, last_seen_at, silence_minutes)
    SELECT gen_random_uuid(), device_id, since, 'silent', now(), last_seen_at, silence_minutes
    FROM due
    ON CONFLICT DO NOTHING
    RETURNING id, device_id, hour, last_seen_at, silence_minutes
)
SELECT r.id, r.device_id, r.hour, r.last_seen_at, r.silence_minutes, d.name,
       {owner} AS owner_id
FROM raised r JOIN devices d ON d.id = r.device_id
""".format(owner=owner_if_visible("d.id", "d.owner_id", "r.hour"))  # noqa: S608


async def check_silences(conn: Any) -> int:
    """One round of the silence check (any replica, any number of them); returns how many
    episodes this round opened."""
    async with conn.transaction():
        await conn.execute(_WATCH_NEW)
        raised = await conn.fetch(_RAISE_SILENT)
        if not raised:
            return 0
        zones = await user_zones(conn, (row["owner_id"] for row in raised))
        now = datetime.now(UTC)
        for row in raised:
            audience = owner_only(row["owner_id"])
            if audience is None:
                continue
            tz = zone(zones.get(row["owner_id"]))
            body = SilentMeter(
                id=row["id"],
                device_id=row["device_id"],
                device_name=row["name"] or None,
                last_seen_at=row["last_seen_at"],
                silence_minutes=row["silence_minutes"],
                message=alert_message(
                    "silent",
                    row["name"],
                    row["hour"],
                    None,
                    None,
                    row["last_seen_at"],
                    row["silence_minutes"],
                    None,
                    tz,
                    now,
                ),
            )
            await push(conn, body, audience, event_id=row["id"])
    log.info("silent meters", extra={"count": len(raised)})
    return len(raised)


# --- the admins' digest ---------------------------------------------------------------------

# A window is summed this long after it ends: alerts of batches committing late are in.
DIGEST_GRACE_SECONDS = 2.0


def digest_window(now: datetime, seconds: float) -> tuple[datetime, datetime]:
    """The latest window (aligned on the epoch) that ended at least the grace ago."""
    at = now.timestamp() - DIGEST_GRACE_SECONDS
    end = at - at % seconds
    return (
        datetime.fromtimestamp(end - seconds, UTC),
        datetime.fromtimestamp(end, UTC),
    )


async def send_digest(conn: Any, seconds: float, now: datetime | None = None) -> bool:
    """The admins' digest of the last ended window, sent by exactly one replica (the one
    whose row for the window went in); nothing when no alert was raised in it."""
    since, until = digest_window(now or datetime.now(UTC), seconds)
    async with conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO alert_digests (window_start, alerts) VALUES ($1, 0) "
            "ON CONFLICT DO NOTHING RETURNING window_start",
            since,
        )
        if claimed is None:
            return False
        kinds = await conn.fetch(
            "SELECT a.kind, count(*)::int AS n FROM alerts a JOIN devices d ON d.id = a.device_id "
            "WHERE a.created_at >= $1 AND a.created_at < $2 AND NOT d.deleted GROUP BY 1",
            since,
            until,
        )
        total = sum(row["n"] for row in kinds)
        await conn.execute(
            "UPDATE alert_digests SET alerts = $2 WHERE window_start = $1", since, total
        )
        await conn.execute(
            "DELETE FROM alert_digests WHERE window_start < $1", since - timedelta(days=1)
        )
        if total == 0:
            return False
        top = await conn.fetch(
            "SELECT a.device_id, d.name, count(*)::int AS n FROM alerts a "
            "JOIN devices d ON d.id = a.device_id "
            "WHERE a.created_at >= $1 AND a.created_at < $2 AND NOT d.deleted "
            "GROUP BY 1, 2 ORDER BY n DESC, a.device_id LIMIT $3",
            since,
            until,
            DIGEST_TOP,
        )
        body = AlertDigest(
            since=since,
            until=until,
            count=total,
            by_kind={row["kind"]: row["n"] for row in kinds},
            devices=[
                DigestDevice(
                    device_id=row["device_id"], device_name=row["name"] or None, count=row["n"]
                )
                for row in top
            ],
        )
        await push(conn, body, Audience(admins=True))
    return True
