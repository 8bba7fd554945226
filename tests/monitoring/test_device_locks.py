"""A batch's device locks are held in the batch's own transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ems.common.db import Database
from ems.monitoring.ingest.store import (
    _DEVICE_LOCK_SPACE,
    ReadingRow,
    driver_connection,
    lock_bucket,
    store_readings,
)
from ems.monitoring.models import outbox
from ems.monitoring.settings import MonitoringSettings

_HELD = (
    "SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND classid = $1 AND objid = $2 AND objsubid = 2"
)


async def test_a_batch_holds_its_devices_locks_shared_until_it_commits(
    monitoring_settings: MonitoringSettings,
) -> None:
    """If this fails, the shared locks are taken outside the batch's transaction (and let go
    at once), so a device event can delete or create a device in the middle of a batch that
    writes its readings."""
    db = Database(monitoring_settings.dsn(), pool_size=1)
    device_id = uuid.uuid4()
    try:
        async with db.transaction() as session:
            await store_readings(
                session,
                outbox,
                [ReadingRow(device_id, datetime.now(UTC), 1000)],
                over_limit_micro_kwh=None,
            )
            conn = await driver_connection(session)
            held = await conn.fetch(_HELD, _DEVICE_LOCK_SPACE, lock_bucket(device_id))
            assert [row["mode"] for row in held] == ["ShareLock"]
    finally:
        await db.dispose()
