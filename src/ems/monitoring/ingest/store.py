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

from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.outbox import add_ws_message
from ems.contracts.ws import Audience, OverconsumptionAlert

MICRO = 1_000_000
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


@dataclass(frozen=True, slots=True)
class ReadingRow:
    device_id: uuid.UUID
    ts: datetime
    micro_kwh: int


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    owner_id: uuid.UUID | None
    max_hourly_micro_kwh: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class HourFigure:
    """A device-hour's total after this transaction."""

    device_id: uuid.UUID
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
    buckets = sorted({lock_bucket(d) for d in device_ids})
    if not buckets:
        return
    await conn.execute(_LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED, _DEVICE_LOCK_SPACE, buckets)


async def load_devices(conn: Any, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DeviceInfo]:
    rows = await conn.fetch(
        "SELECT id, name, owner_id, max_hourly_micro_kwh, deleted FROM devices "
        "WHERE id = ANY($1::uuid[])",
        device_ids,
    )
    return {
        row["id"]: DeviceInfo(
            row["name"], row["owner_id"], row["max_hourly_micro_kwh"], row["deleted"]
        )
        for row in rows
    }


async def store_readings(
    session: AsyncSession,
    outbox: Table,
    rows: Sequence[ReadingRow],
    *,
    over_limit_micro_kwh: int | None,
    alerted: set[AlertKey] | frozenset[AlertKey] = frozenset(),
    held_per_device: int = 10_000,
) -> StoreResult:
    """Store `rows` (distinct by device and timestamp) inside the session's transaction.

    `alerted` holds alerts known to exist already, which are not tried again; readings of
    unknown devices are held, at most `held_per_device` per device (the oldest dropped)."""
    result = StoreResult()
    if not rows:
        return result
    device_ids = list({row.device_id for row in rows})
    # Through the session: its first statement opens the transaction the rest runs in.
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock_shared(:space, b) "
            "FROM unnest(CAST(:buckets AS int[])) AS b"
        ),
        {"space": _DEVICE_LOCK_SPACE, "buckets": sorted({lock_bucket(d) for d in device_ids})},
    )
    conn = await driver_connection(session)
    devices = await load_devices(conn, device_ids)

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

    if unknown:
        status = await conn.execute(
            "INSERT INTO unmatched_readings (device_id, ts, micro_kwh, reason) "
            "SELECT d, t, v, 'unknown device' "
            "FROM unnest($1::uuid[], $2::timestamptz[], $3::bigint[]) AS u(d, t, v) "
            "ON CONFLICT DO NOTHING",
            [r.device_id for r in unknown],
            [r.ts for r in unknown],
            [r.micro_kwh for r in unknown],
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
        result.hours.append(HourFigure(device_id, info.owner_id, hour, total))
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
    for row in created:
        info = devices[row["device_id"]]
        alert = OverconsumptionAlert(
            id=row["id"],
            device_id=row["device_id"],
            device_name=info.name,
            kind=row["kind"],
            hour=row["hour"],
            kwh=row["micro_kwh"] / MICRO,
            limit_kwh=row["limit_micro_kwh"] / MICRO,
            created_at=now,
        )
        audience = Audience(user_ids=[info.owner_id] if info.owner_id else [], admins=True)
        await add_ws_message(session, outbox, alert, audience, event_id=row["id"])
    return [row["kind"] for row in created]
