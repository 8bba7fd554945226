"""Writing a batch of readings: exactly once, with its hours and alerts, in the caller's
transaction.

The readings go in with `ON CONFLICT DO NOTHING RETURNING`, and only the rows that came back
(the ones this transaction really inserted) are summed into their hours. A reading stored
twice, by a redelivery or by two replicas racing, is therefore counted once; a late one lands
in its own hour. Alerts carry a unique (device, hour, kind) key, so racing replicas make one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.outbox import add_ws_message
from ems.contracts.ws import Audience, OverconsumptionAlert
from ems.monitoring.alerts.notify import alert_message, end_silences, user_zones, zone
from ems.monitoring.models import MICRO

# Device locks: sync events take one exclusively, ingest batches share them (see below).
_DEVICE_LOCK_SPACE = 0x454D53
_LOCK_BUCKETS = 64
# unnest() yields the (sorted) buckets in order, so the locks are taken in that order.
_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared($1, b) FROM unnest($2::int[]) AS b"
_LOCK_EXCLUSIVE = "SELECT pg_advisory_xact_lock($1, b) FROM unnest($2::int[]) AS b"

_INSERT_AND_AGGREGATE = """
WITH inserted AS (
    INSERT INTO readings (device_id, ts, micro_kwh)
    SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[])
    ON CONFLICT DO NOTHING
    RETURNING device_id, ts, micro_kwh
), added AS (
    SELECT device_id, date_trunc('hour', ts, 'UTC') AS hour,
           sum(micro_kwh)::bigint AS micro_kwh, count(*)::int AS n, max(micro_kwh) AS peak
    FROM inserted GROUP BY 1, 2
), totals AS (
    INSERT INTO hourly_consumption AS h (device_id, hour, micro_kwh, readings, updated_at)
    -- A fixed order: replicas updating the same hours lock them in the same order.
    SELECT device_id, hour, micro_kwh, n, now() FROM added ORDER BY device_id, hour
    ON CONFLICT (device_id, hour) DO UPDATE
        SET micro_kwh = h.micro_kwh + EXCLUDED.micro_kwh,
            readings = h.readings + EXCLUDED.readings,
            updated_at = EXCLUDED.updated_at
    RETURNING device_id, hour, micro_kwh
)
SELECT t.device_id, t.hour, t.micro_kwh, a.n, a.peak
FROM totals t JOIN added a USING (device_id, hour)
"""


# A batch's arrival: its devices' last_seen_at (in a fixed order: replicas writing the same
# devices lock them in the same order) and the replica's count for this second.
_ARRIVED = """
WITH rate AS (
    INSERT INTO ingest_rates AS r (second, replica, readings)
    VALUES (date_trunc('second', now()), $2, $3)
    ON CONFLICT (second, replica) DO UPDATE SET readings = r.readings + EXCLUDED.readings
)
INSERT INTO device_seen (device_id, last_seen_at, watch_from)
SELECT d, now(), now() FROM unnest($1::uuid[]) AS d
ON CONFLICT (device_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at
"""


@dataclass(frozen=True, slots=True)
class ReadingRow:
    device_id: uuid.UUID
    ts: datetime
    micro_kwh: int
    # The meter id the reading named its device by; `device_id` is then its stand-in key
    # (parsing.meter_key) until the reading is matched to the device with that meter id.
    meter_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    owner_id: uuid.UUID | None
    max_hourly_micro_kwh: int
    deleted: bool
    # The first hour the owner may see (sync/owners.py); None: every hour.
    visible_from: datetime | None = None

    def audience_owner(self, hour: datetime) -> uuid.UUID | None:
        """The owner, if `hour` is theirs to see: live pushes of an hour from before they
        got the device (a meter backfilling) must not show them the previous household's
        figures (issue 10.4)."""
        if self.visible_from is not None and hour < self.visible_from:
            return None
        return self.owner_id


@dataclass(frozen=True, slots=True)
class HourFigure:
    """A device-hour's total after this transaction."""

    device_id: uuid.UUID
    # The owner to push the figure to: None when nobody but admins may see this hour.
    owner_id: uuid.UUID | None
    hour: datetime
    micro_kwh: int


@dataclass(frozen=True, slots=True)
class AlertKey:
    device_id: uuid.UUID
    hour: datetime
    kind: str


@dataclass
class StoreResult:
    stored: int = 0
    duplicates: int = 0
    unmatched: int = 0
    # Readings of deleted devices: the caller dead-letters them.
    of_deleted_devices: list[ReadingRow] = field(default_factory=list)
    hours: list[HourFigure] = field(default_factory=list)
    # Every alert that exists now for the hours written (new ones and ones found existing).
    alerts_seen: list[AlertKey] = field(default_factory=list)
    # The kind of each alert this transaction created.
    alerts_raised: list[str] = field(default_factory=list)
    # Held readings of unknown devices dropped (oldest first) to keep within the cap.
    held_dropped: int = 0

    def merge(self, other: StoreResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.unmatched += other.unmatched
        self.of_deleted_devices += other.of_deleted_devices
        self.hours += other.hours
        self.alerts_seen += other.alerts_seen
        self.alerts_raised += other.alerts_raised
        self.held_dropped += other.held_dropped


def lock_bucket(device_id: uuid.UUID) -> int:
    return device_id.int % _LOCK_BUCKETS


async def lock_devices(conn: Any, device_ids: Iterable[uuid.UUID], *, exclusive: bool) -> None:
    """Serialise ingest with changes to the same devices.

    A batch holds shared locks on the buckets of its devices while it looks them up and
    writes; a device event (created, updated, deleted) holds its bucket exclusively. So a
    device created while a batch holds its readings aside adopts them after that batch
    commits, and a deleted device's data cannot be written again behind its deletion.
    Buckets are taken in ascending order, which rules out deadlocks between the two."""
    buckets = _lock_buckets(device_ids)
    if not buckets:
        return
    await conn.execute(_LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED, _DEVICE_LOCK_SPACE, buckets)


def _lock_buckets(device_ids: Iterable[uuid.UUID]) -> list[int]:
    return sorted({lock_bucket(d) for d in device_ids})


async def load_devices(conn: Any, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DeviceInfo]:
    rows = await conn.fetch(
        f"SELECT {_DEVICE_COLUMNS} WHERE d.id = ANY($1::uuid[])",
        device_ids,
    )
    return {row["id"]: _info(row) for row in rows}


# A device with its owner's first visible hour (sync/owners.py): `owner_visible` false when the
# owner has no current period; `visible_from` NULL when they see every hour.
_DEVICE_COLUMNS = """d.id, d.meter_id, d.name, d.owner_id, d.max_hourly_micro_kwh, d.deleted,
       co.owner_id IS NOT NULL AS owner_visible,
       nullif(co.visible_from, '-infinity') AS visible_from
FROM devices d
LEFT JOIN current_owners co ON co.device_id = d.id AND co.owner_id = d.owner_id"""


def _info(row: Any) -> DeviceInfo:
    return DeviceInfo(
        row["name"],
        row["owner_id"],
        row["max_hourly_micro_kwh"],
        row["deleted"],
        row["visible_from"] if row["owner_visible"] else _NEVER,
    )


# `visible_from` of an owner without a current period: no hour is theirs.
_NEVER = datetime.max.replace(tzinfo=UTC)


async def _by_meter_id(conn: Any, names: Sequence[str]) -> dict[str, tuple[uuid.UUID, DeviceInfo]]:
    rows = await conn.fetch(
        f"SELECT {_DEVICE_COLUMNS} WHERE d.meter_id = ANY($1::text[]) AND NOT d.deleted",
        names,
    )
    return {row["meter_id"]: (row["id"], _info(row)) for row in rows}


async def _match_meters(
    conn: Any, rows: Sequence[ReadingRow], devices: dict[uuid.UUID, DeviceInfo]
) -> list[ReadingRow]:
    """Readings that named no device's uuid but a device's `meter_id` (as a meter id, or
    as a uuid's text) become that device's; the rest stay as they are.

    The meters' stand-in keys are locked already (a device taking a meter id locks its
    key); the matched devices' own buckets are locked too, and the match looked at again
    under them until it holds still (a deadlock with a device event is retried whole)."""
    names = {row.meter_id or str(row.device_id) for row in rows if row.device_id not in devices}
    if not names:
        return list(rows)
    matched: dict[str, tuple[uuid.UUID, DeviceInfo]] = {}
    locked: set[uuid.UUID] = set()
    for _ in range(3):
        matched = await _by_meter_id(conn, sorted(names))
        wanted = {device_id for device_id, _ in matched.values()} - locked
        if not wanted:
            break
        await lock_devices(conn, wanted, exclusive=False)
        locked |= wanted
    out: list[ReadingRow] = []
    for row in rows:
        found = (
            None if row.device_id in devices else matched.get(row.meter_id or str(row.device_id))
        )
        if found is None:
            out.append(row)
            continue
        devices[found[0]] = found[1]
        out.append(ReadingRow(found[0], row.ts, row.micro_kwh))
    return out


async def store_readings(
    session: AsyncSession,
    outbox: Table,
    rows: Sequence[ReadingRow],
    *,
    over_limit_micro_kwh: int | None,
    alerted: set[AlertKey] | frozenset[AlertKey] = frozenset(),
    held_per_device: int = 10_000,
    replica: str | None = None,
) -> StoreResult:
    """Store `rows` (distinct by device and timestamp) inside the session's transaction.

    `alerted` holds alerts known to exist already, which are not tried again; readings of
    unknown devices are held, at most `held_per_device` per device (the oldest dropped).
    With `replica` (the intake's batches) the arrival is recorded: the devices' last_seen_at
    (ending their silent episodes) and the replica's readings this second."""
    result = StoreResult()
    if not rows:
        return result
    device_ids = list({row.device_id for row in rows})
    # The shared locks of lock_devices, through the session: its first statement opens the
    # transaction the rest runs in (a statement on the driver connection would not).
    connection = await session.connection()
    await connection.exec_driver_sql(_LOCK_SHARED, (_DEVICE_LOCK_SPACE, _lock_buckets(device_ids)))
    conn = await driver_connection(session)
    devices = await load_devices(conn, device_ids)
    received = len(rows)
    if any(row.device_id not in devices for row in rows):
        # A reading named by meter id may repeat one named by uuid: the first one counts.
        unique: dict[tuple[uuid.UUID, datetime], ReadingRow] = {}
        for row in await _match_meters(conn, rows, devices):
            unique.setdefault((row.device_id, row.ts), row)
        rows = list(unique.values())

    known: list[ReadingRow] = []
    unknown: list[ReadingRow] = []
    for row in rows:
        info = devices.get(row.device_id)
        if info is None:
            unknown.append(row)
        elif info.deleted:
            result.of_deleted_devices.append(row)
        else:
            known.append(row)

    if replica is not None:
        seen = sorted({row.device_id for row in known})
        await conn.execute(_ARRIVED, seen, replica, received)
        await end_silences(conn, seen)

    if unknown:
        status = await conn.execute(
            "INSERT INTO unmatched_readings (device_id, ts, micro_kwh, reason, meter_id) "
            "SELECT d, t, v, 'unknown device', m "
            "FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[], $4::text[]) "
            "AS u(d, t, v, m) "
            "ON CONFLICT DO NOTHING",
            [r.device_id for r in unknown],
            [r.ts for r in unknown],
            [r.micro_kwh for r in unknown],
            [r.meter_id for r in unknown],
        )
        result.unmatched = int(status.rsplit(" ", 1)[-1])
        result.held_dropped = await _cap_held(conn, {r.device_id for r in unknown}, held_per_device)

    if not known:
        return result
    figures = await conn.fetch(
        _INSERT_AND_AGGREGATE,
        [r.device_id for r in known],
        [r.ts for r in known],
        [r.micro_kwh for r in known],
    )
    candidates: list[tuple[AlertKey, int, int]] = []
    for figure in figures:
        device_id, hour, total = figure["device_id"], figure["hour"], figure["micro_kwh"]
        info = devices[device_id]
        result.stored += figure["n"]
        result.hours.append(HourFigure(device_id, info.audience_owner(hour), hour, total))
        if total > info.max_hourly_micro_kwh:
            candidates.append(
                (AlertKey(device_id, hour, "hourly"), total, info.max_hourly_micro_kwh)
            )
        if over_limit_micro_kwh is not None and figure["peak"] > over_limit_micro_kwh:
            candidates.append(
                (AlertKey(device_id, hour, "reading"), figure["peak"], over_limit_micro_kwh)
            )
    result.duplicates = len(known) - result.stored
    fresh = [c for c in candidates if c[0] not in alerted]
    if fresh:
        result.alerts_raised = await _raise_alerts(session, outbox, conn, fresh, devices)
        result.alerts_seen = [c[0] for c in fresh]
    return result


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _cap_held(conn: Any, device_ids: set[uuid.UUID], per_device: int) -> int:
    """Drop the oldest held readings of these devices beyond `per_device` each."""
    status = await conn.execute(
        "DELETE FROM unmatched_readings u USING ("
        "  SELECT device_id, ts FROM ("
        "    SELECT device_id, ts, row_number() OVER "
        "      (PARTITION BY device_id ORDER BY ts DESC) AS n"
        "    FROM unmatched_readings WHERE device_id = ANY($1::uuid[])"
        "  ) ranked WHERE n > $2"
        ") old WHERE u.device_id = old.device_id AND u.ts = old.ts",
        list(device_ids),
        per_device,
    )
    return int(status.rsplit(" ", 1)[-1])


async def cap_held_total(conn: Any, total: int) -> int:
    """Drop the oldest held readings (by arrival) beyond `total`; returns how many."""
    status = await conn.execute(
        "DELETE FROM unmatched_readings u USING ("
        "  SELECT device_id, ts FROM unmatched_readings"
        "  ORDER BY received_at DESC, device_id, ts OFFSET $1"
        ") old WHERE u.device_id = old.device_id AND u.ts = old.ts",
        total,
    )
    return int(status.rsplit(" ", 1)[-1])


async def _raise_alerts(
    session: AsyncSession,
    outbox: Table,
    conn: Any,
    candidates: list[tuple[AlertKey, int, int]],
    devices: dict[uuid.UUID, DeviceInfo],
) -> list[str]:
    """Insert the alerts that do not exist yet; each new one goes to `ems.ws` via the outbox."""
    now = datetime.now(UTC)
    ids = [uuid.uuid4() for _ in candidates]
    created = await conn.fetch(
        "INSERT INTO alerts (id, device_id, hour, kind, micro_kwh, limit_micro_kwh, created_at) "
        "SELECT *, $7::timestamptz FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], "
        "$4::text[], $5::bigint[], $6::bigint[]) "
        "ON CONFLICT (device_id, hour, kind) DO NOTHING "
        "RETURNING id, device_id, hour, kind, micro_kwh, limit_micro_kwh",
        ids,
        [key.device_id for key, _, _ in candidates],
        [key.hour for key, _, _ in candidates],
        [key.kind for key, _, _ in candidates],
        [kwh for _, kwh, _ in candidates],
        [limit for _, _, limit in candidates],
        now,
    )
    if not created:
        return []
    owners = [devices[row["device_id"]].audience_owner(row["hour"]) for row in created]
    zones = await user_zones(conn, owners)
    for row, owner_id in zip(created, owners, strict=True):
        info = devices[row["device_id"]]
        if owner_id is None:
            continue
        audience, tz = Audience(user_ids=[owner_id]), zone(zones.get(owner_id))
        alert = OverconsumptionAlert(
            id=row["id"],
            device_id=row["device_id"],
            device_name=info.name,
            kind=row["kind"],
            hour=row["hour"],
            kwh=row["micro_kwh"] / MICRO,
            limit_kwh=row["limit_micro_kwh"] / MICRO,
            created_at=now,
            message=alert_message(
                row["kind"],
                info.name,
                row["hour"],
                row["micro_kwh"],
                row["limit_micro_kwh"],
                None,
                None,
                None,
                tz,
                now,
            ),
        )
        # The owner only: admins hear of it in the digest (alerts/notify.py).
        await add_ws_message(session, outbox, alert, audience, event_id=row["id"])
    return [row["kind"] for row in created]
