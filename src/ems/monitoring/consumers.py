"""The synced copies of devices, users and tariffs, from `ems.sync` events.

Every replica consumes the one shared queue `monitoring.sync` (competing consumers): the
inbox drops repeats, and `revision` makes a stale event (one overtaken by a newer one, maybe
on the other replica) change nothing. A deleted device stays as a tombstone. A device
whose owner changes closes the previous owner's period (see sync/owners.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ems.common.inbox import Subscription, current_envelope
from ems.contracts.events import (
    DeviceCreated,
    DeviceDeleted,
    DeviceUpdated,
    TariffCreated,
    TariffDeleted,
    TariffUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from ems.monitoring.ingest.parsing import meter_key, to_micro_kwh
from ems.monitoring.ingest.store import (
    ReadingRow,
    driver_connection,
    lock_devices,
    store_readings,
)
from ems.monitoring.models import outbox
from ems.monitoring.settings import MonitoringSettings
from ems.monitoring.sync.copies import (
    handle_tariff_deleted,
    handle_tariff_state,
    handle_user_state,
    tombstone_user,
)
from ems.monitoring.sync.owners import record_owner

SYNC_QUEUE = "monitoring.sync"

_UPSERT_DEVICE = """
INSERT INTO devices (id, name, owner_id, max_hourly_micro_kwh, tariff_id, meter_id,
                     silence_minutes, revision, deleted, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, now())
ON CONFLICT (id) DO UPDATE
    SET name = EXCLUDED.name, owner_id = EXCLUDED.owner_id,
        max_hourly_micro_kwh = EXCLUDED.max_hourly_micro_kwh, tariff_id = EXCLUDED.tariff_id,
        meter_id = EXCLUDED.meter_id, silence_minutes = EXCLUDED.silence_minutes,
        revision = EXCLUDED.revision, deleted = false, updated_at = now()
    WHERE devices.revision < EXCLUDED.revision
RETURNING id, owner_id
"""

_TOMBSTONE_DEVICE = """
INSERT INTO devices (id, name, owner_id, max_hourly_micro_kwh, revision, deleted, updated_at)
VALUES ($1, '', $2, 0, $3, true, now())
ON CONFLICT (id) DO UPDATE
    SET deleted = true, revision = EXCLUDED.revision, updated_at = now()
    WHERE devices.revision <= EXCLUDED.revision AND NOT devices.deleted
RETURNING id
"""


class DeviceSync:
    def __init__(self, settings: MonitoringSettings) -> None:
        self.settings = settings
        self.over_limit_micro_kwh = (
            to_micro_kwh(settings.over_limit_kwh) if settings.over_limit_kwh is not None else None
        )

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(DeviceCreated, self.handle_device_state),
            Subscription(DeviceUpdated, self.handle_device_state),
            Subscription(DeviceDeleted, self.handle_device_deleted),
            Subscription(UserCreated, handle_user_state),
            Subscription(UserUpdated, handle_user_state),
            Subscription(UserDeleted, self.handle_user_deleted),
            Subscription(TariffCreated, handle_tariff_state),
            Subscription(TariffUpdated, handle_tariff_state),
            Subscription(TariffDeleted, handle_tariff_deleted),
        ]

    async def handle_device_state(
        self, session: AsyncSession, event: DeviceCreated | DeviceUpdated
    ) -> None:
        """A device's current state: kept when newer than our copy (an owner change starts
        the new owner's period at the event's time); held readings adopted."""
        conn = await driver_connection(session)
        # Readings naming the device by its meter id are keyed (and locked) by that id's key.
        keys = [event.id] + ([meter_key(event.meter_id)] if event.meter_id else [])
        await lock_devices(conn, keys, exclusive=True)
        applied = await conn.fetchrow(
            _UPSERT_DEVICE,
            event.id,
            event.name,
            event.owner_id,
            to_micro_kwh(event.max_hourly_kwh),
            event.tariff_id,
            event.meter_id,
            event.silence_minutes,
            event.revision,
        )
        if applied is not None:
            envelope = current_envelope.get()
            at = envelope.occurred_at if envelope is not None else datetime.now(UTC)
            await record_owner(conn, event.id, event.owner_id, at)
            await self._adopt_unmatched(session, conn, event.id, keys)

    async def handle_device_deleted(self, session: AsyncSession, event: DeviceDeleted) -> None:
        """A deleted device: tombstoned, its readings, hours and alerts dropped."""
        conn = await driver_connection(session)
        await lock_devices(conn, [event.id], exclusive=True)
        applied = await conn.fetchval(_TOMBSTONE_DEVICE, event.id, event.owner_id, event.revision)
        if applied is not None:
            await drop_device_data(conn, [event.id])

    async def handle_user_deleted(self, session: AsyncSession, event: UserDeleted) -> None:
        """A deleted user is tombstoned and their devices go with their data (devices also
        sends device.deleted for each; whichever comes first does the work)."""
        await tombstone_user(session, event)
        conn = await driver_connection(session)
        owned = [
            row["id"]
            for row in await conn.fetch(
                "SELECT id FROM devices WHERE owner_id = $1 AND NOT deleted", event.id
            )
        ]
        if not owned:
            return
        await lock_devices(conn, owned, exclusive=True)
        # Checked again under the locks: a device may have changed owner meanwhile.
        gone = await conn.fetch(
            "UPDATE devices SET deleted = true, updated_at = now() "
            "WHERE id = ANY($1::uuid[]) AND owner_id = $2 AND NOT deleted RETURNING id",
            owned,
            event.id,
        )
        await drop_device_data(conn, [row["id"] for row in gone])

    async def _adopt_unmatched(
        self, session: AsyncSession, conn: Any, device_id: uuid.UUID, keys: list[uuid.UUID]
    ) -> None:
        """Held readings that named the device by its uuid or by its meter id (`keys`)."""
        held = await conn.fetch(
            "WITH gone AS (DELETE FROM unmatched_readings WHERE device_id = ANY($1::uuid[]) "
            "RETURNING ts, micro_kwh, received_at) "
            "SELECT ts, micro_kwh FROM gone ORDER BY received_at",
            keys,
        )
        # Ones that aged out of the raw retention meanwhile can no longer be checked for
        # repeats; they are dropped with the rest of the held rows. The same moment sent
        # under both names counts once (the first to arrive).
        horizon = datetime.now(UTC) - timedelta(days=self.settings.readings_retention_days)
        adopted: dict[datetime, ReadingRow] = {}
        for row in held:
            if row["ts"] > horizon + timedelta(minutes=5):
                adopted.setdefault(row["ts"], ReadingRow(device_id, row["ts"], row["micro_kwh"]))
        rows = list(adopted.values())
        if rows:
            await store_readings(
                session, outbox, rows, over_limit_micro_kwh=self.over_limit_micro_kwh
            )


async def drop_device_data(conn: Any, device_ids: list[uuid.UUID]) -> None:
    if not device_ids:
        return
    for table in (
        "device_seen",
        "readings",
        "hourly_consumption",
        "alerts",
        "unmatched_readings",
        "device_owners",
    ):
        await conn.execute(f"DELETE FROM {table} WHERE device_id = ANY($1::uuid[])", device_ids)  # noqa: S608
